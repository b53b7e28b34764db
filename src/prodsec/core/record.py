"""``Record``: ``typing.NamedTuple``'s class syntax at ``collections.namedtuple``'s cost.

Why: ``typing.NamedTuple`` checks every field's annotation when the class is created, and
under ``from __future__ import annotations`` each one is a string that it compiles into a
``ForwardRef``. The twelve records ``prodsec check`` creates (profile, rules, verdicts) cost
about 4 ms that way, and importing ``typing`` another 2 ms: a tenth of the command. A
``Record`` subclass is a plain namedtuple with the same fields, defaults, methods, properties
and docstring; its ``__annotations__`` stay the strings as written. For mypy ``Record`` *is*
``typing.NamedTuple``, so type checking is unchanged.
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    #: Class-body names that are the class's own machinery, not fields or members to copy.
    _MACHINERY = frozenset({"__module__", "__qualname__", "__annotations__", "__classcell__"})

    class _RecordMeta(type):
        """Turns ``class X(Record)`` into ``namedtuple("X", fields)`` plus the body's members."""

        def __new__(mcs, name: str, bases: tuple[type, ...], body: dict[str, object]) -> type:
            if not bases:  # ``Record`` itself
                return super().__new__(mcs, name, bases, body)
            annotations = body.get("__annotations__", {})
            assert isinstance(annotations, dict)
            fields = list(annotations)
            defaults = [body[f] for f in fields if f in body]
            if any(f not in body for f in fields[len(fields) - len(defaults):]):
                raise TypeError(f"{name}: a field without a default follows one with a default")
            record: type = namedtuple(name, fields, defaults=defaults,  # type: ignore[misc]
                                      module=str(body["__module__"]))
            for key, value in body.items():
                if key not in _MACHINERY and key not in annotations:
                    setattr(record, key, value)
            record.__qualname__ = str(body["__qualname__"])
            record.__annotations__ = annotations
            return record

    class Record(metaclass=_RecordMeta):
        """Base of a record class (see the module docstring)."""

__all__ = ["Record"]
