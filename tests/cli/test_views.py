"""The CLI's own JSON writer and table renderer (``prodsec.cli.views``)."""

from __future__ import annotations

import io
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodsec.cli.views import Section, dump, render_table

SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.text())
KEYS = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner) | st.dictionaries(KEYS, inner)
                    | st.tuples(inner, inner), max_leaves=30)


@settings(suppress_health_check=[HealthCheck.too_slow])  # generation slows on a loaded machine
@given(JSON)
def test_dump_writes_what_json_dumps_writes(value: object) -> None:
    assert dump(value) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("value", [math.inf, -math.inf, {"a": [], "b": {}}, "naïve \u2028 \x00"])
def test_dump_edge_values(value: object) -> None:
    assert dump(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_dump_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dump({"a": object()})
    with pytest.raises(TypeError):
        dump({(1, 2): "tuple key"})


def _render(sections: list[Section], width: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(width))
    out = io.StringIO()
    render_table(sections, out)
    return out.getvalue().splitlines()


def test_a_table_fits_the_terminal_and_keeps_every_word(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [["eu-cra", "required", "A long explanation of why the regulation applies " * 3],
            ["uk-psti", "not-applicable", ""]]
    lines = _render([Section("Verdicts", ["instrument", "status", "why"], rows, ["a note"])], 60,
                    monkeypatch)
    assert lines[0] == "Verdicts" and lines[1].startswith("┏") and lines[-2] == "a note"
    assert all(len(line) <= 60 for line in lines)
    assert len({len(line) for line in lines[1:-2]}) == 1  # every row of the box equally wide
    text = " ".join(lines)
    assert "not-applicable" in text and text.count("regulation") == 3


def test_no_colour_unless_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _render([Section("T", ["status"], [["required"]])], 80, monkeypatch)
    assert not any("\x1b[" in line for line in lines)


def test_a_section_of_notes_only_is_a_rule_and_the_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _render([Section("Head", notes=["one", "two"])], 40, monkeypatch)
    assert lines == ["Head " + "─" * 35, "one", "two", ""]
