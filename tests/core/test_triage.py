"""The triage order and filters (``core.triage``): properties over generated findings, and the
query parser's errors naming their field."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodsec.core import triage

STATES = ("in_triage", "exploitable", "not_affected", "resolved", "false_positive")


def _finding(i: int, exploited: bool, epss: float | None, cvss: float | None, state: str,
             fixed: bool, release: str) -> dict[str, Any]:
    return {"id": str(i), "vulnerability": f"GO-2024-{i:04d}", "aliases": [f"CVE-2024-{i}"],
            "summary": "x", "component": f"pkg:golang/m{i % 3}", "release": release,
            "known_exploited": exploited, "epss": epss,
            "cvss": None if cvss is None else {"base_score": cvss, "base_severity": "X"},
            "state": state, "fixed": ["1.2"] if fixed else [], "first_seen": "2026-01-01"}


findings = st.lists(st.builds(
    _finding, st.integers(0, 9999), st.booleans(),
    st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
    st.one_of(st.none(), st.floats(0, 10, allow_nan=False)), st.sampled_from(STATES),
    st.booleans(), st.sampled_from(["1.0", "2.0"])), max_size=40)


@settings(max_examples=200, deadline=None)
@given(findings)
def test_priority_puts_exploited_first_then_epss_then_cvss(rows: list[dict[str, Any]]) -> None:
    page, total = triage.select(rows, triage.FindingQuery(limit=500))
    assert total == len(rows) and len(page) == len(rows)
    flags = [f["known_exploited"] for f in page]
    assert flags == sorted(flags, reverse=True), "every exploited finding comes first"
    for a, b in itertools.pairwise(page):
        if a["known_exploited"] == b["known_exploited"] and a["epss"] is not None \
                and b["epss"] is not None:
            assert a["epss"] >= b["epss"]


@settings(max_examples=200, deadline=None)
@given(findings, st.sampled_from([None, True, False]), st.sampled_from([None, *STATES]),
       st.sampled_from([None, True, False]), st.one_of(st.none(), st.floats(0, 10)),
       st.sampled_from([None, "1.0"]))
def test_filters_keep_exactly_the_matching_findings(rows: list[dict[str, Any]],
                                                     exploited: bool | None, state: str | None,
                                                     fix: bool | None, min_cvss: float | None,
                                                     release: str | None) -> None:
    query = triage.FindingQuery(exploited=exploited, state=state, fix_available=fix,
                                min_cvss=min_cvss, release=release, limit=500)
    page, total = triage.select(rows, query)
    expected = [f for f in rows
                if (exploited is None or f["known_exploited"] == exploited)
                and (state is None or f["state"] == state)
                and (fix is None or bool(f["fixed"]) == fix)
                and (release is None or f["release"] == release)
                and (min_cvss is None or (f["cvss"] is not None
                                          and f["cvss"]["base_score"] >= min_cvss))]
    assert total == len(expected)
    assert sorted(id(f) for f in page) == sorted(id(f) for f in expected)


@settings(max_examples=100, deadline=None)
@given(findings, st.integers(1, 7))
def test_pages_cover_every_finding_once(rows: list[dict[str, Any]], limit: int) -> None:
    seen: list[int] = []
    for number in range(1, len(rows) // limit + 2):
        query = triage.parse_query({"limit": str(limit), "page": str(number)}, STATES)
        page, _ = triage.select(rows, query)
        seen += [id(f) for f in page]
    assert sorted(seen) == sorted(id(f) for f in rows)


def test_descending_sort_reverses_the_order() -> None:
    rows = [_finding(i, False, None, float(i), "in_triage", False, "1.0") for i in range(5)]
    up, _ = triage.select(rows, triage.parse_query({"sort": "cvss"}, STATES))
    down, _ = triage.select(rows, triage.parse_query({"sort": "-cvss"}, STATES))
    assert [f["cvss"]["base_score"] for f in up] == [4.0, 3.0, 2.0, 1.0, 0.0]
    assert down == list(reversed(up))


@pytest.mark.parametrize(("params", "field"), [
    ({"exploited": "maybe"}, "exploited"), ({"state": "done"}, "state"),
    ({"sort": "colour"}, "sort"), ({"min_cvss": "11"}, "min_cvss"),
    ({"min_cvss": "high"}, "min_cvss"), ({"limit": "0"}, "limit"), ({"page": "-1"}, "page"),
    ({"q": "x" * 201}, "q"), ({"limit": "501"}, "limit"),
])
def test_a_bad_query_value_names_its_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(triage.TriageQueryError) as caught:
        triage.parse_query(params, STATES)
    assert caught.value.field == field


def test_release_summary_counts_open_exploited_and_overdue() -> None:
    rows = [_finding(1, True, None, 9.8, "in_triage", False, "1.0"),
            _finding(2, True, None, 5.0, "not_affected", False, "1.0"),
            _finding(3, False, None, None, "exploitable", True, "1.0"),
            _finding(4, False, None, None, "resolved", True, "2.0")]
    summary = triage.release_summary(rows, overdue_vulnerabilities=["CVE-2024-1"])
    assert summary["1.0"] == {"findings": 3, "open": 2, "exploited": 1, "overdue": 1}
    assert summary["2.0"] == {"findings": 1, "open": 0, "exploited": 0, "overdue": 0}
