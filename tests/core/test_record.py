"""``Record``: the class syntax of ``typing.NamedTuple``, built as a plain namedtuple."""

from __future__ import annotations

import pickle

import pytest

from prodsec.core.profile import FieldProblem
from prodsec.core.record import Record


class Point(Record):
    """A point, with a default and a member."""

    x: int
    y: int = 0

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)


def test_a_record_is_a_namedtuple_with_the_body_s_members() -> None:
    p = Point(3)
    assert p == (3, 0) and isinstance(p, tuple)
    assert Point._fields == ("x", "y") and Point._field_defaults == {"y": 0}
    assert p.norm1 == 3 and p.moved(2) == Point(5, 0)
    assert p._asdict() == {"x": 3, "y": 0}
    assert repr(p) == "Point(x=3, y=0)"
    assert Point.__doc__ == "A point, with a default and a member."
    assert Point.__annotations__ == {"x": "int", "y": "int"}
    assert Point.__module__ == __name__ and Point.__qualname__ == "Point"


def test_a_record_of_the_domain_pickles() -> None:
    """(The API's job queue and the test workers pickle domain values.)"""
    problem = FieldProblem("markets", "expected a list")
    assert pickle.loads(pickle.dumps(problem)) == problem


def test_a_field_without_a_default_after_one_with_a_default_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows"):
        class Bad(Record):
            a: int = 1
            b: int
