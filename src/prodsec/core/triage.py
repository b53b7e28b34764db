"""Triage at scale: which findings to look at first, and a filtered, sorted page of them.

Pure functions over finding views (the dicts of ``workspace.vulnerabilities.finding_view``), so
the CLI, the API and the web filter and sort the same way. The query comes from strings (query
parameters, command-line options) and is validated here, once: a bad value is an ``InputError``
naming the field and what was expected.

Priority: a known-exploited vulnerability first (CISA KEV or ENISA EUVD — the CRA's Article 14
clock runs on those), then the exploitation probability (FIRST EPSS) where known, then the CVSS
base score. A finding without scores sorts after the scored ones of its group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prodsec.errors import TriageQueryError as TriageQueryError

#: Sort keys a caller may ask for; ``priority`` is the default.
SORTS = ("priority", "cvss", "epss", "vulnerability", "component", "release", "state",
         "first_seen")
#: The triage states that still need a decision or a fix.
OPEN_STATES = ("in_triage", "exploitable")
#: What a triage decision's free text becomes in the VEX exports, so the person writing it
#: knows what they write (OpenVEX v0.2.0: an ``affected`` statement MUST carry an
#: ``action_statement``, the remediation or mitigation; ``impact_statement`` says why a
#: product is ``not_affected``; ``status_notes`` how any other status was determined).
DETAIL_MEANING = ("exploitable: the action statement, what users should do (OpenVEX "
                  "action_statement); not_affected: why not (impact_statement); other states: "
                  "notes (status_notes); always CycloneDX analysis.detail")
MAX_LIMIT = 500


@dataclass(frozen=True)
class FindingQuery:
    """What to show: filters (None = any), the sort key and direction, one page."""

    exploited: bool | None = None
    state: str | None = None
    component: str | None = None
    release: str | None = None
    fix_available: bool | None = None
    min_cvss: float | None = None
    text: str | None = None
    sort: str = "priority"
    descending: bool = False
    limit: int = 100
    offset: int = 0

    def filters(self) -> dict[str, Any]:
        """The active filters, for echoing back to the user (forms, JSON)."""
        names = ("exploited", "state", "component", "release", "fix_available", "min_cvss", "text")
        return {n: getattr(self, n) for n in names if getattr(self, n) not in (None, "")}


def _flag(field: str, value: str | None) -> bool | None:
    if value in (None, ""):
        return None
    lowered = str(value).lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise TriageQueryError(field, f"{value!r}: expected yes or no")


def _number(field: str, value: str | None, low: float, high: float) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(str(value))
    except ValueError:
        raise TriageQueryError(field, f"{value!r}: expected a number from {low:g} to {high:g}") from None
    if not low <= number <= high:
        raise TriageQueryError(field, f"{value!r}: expected a number from {low:g} to {high:g}")
    return number


def _text(field: str, value: str | None, limit: int = 200) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise TriageQueryError(field, f"at most {limit} characters")
    return text or None


def parse_query(params: Mapping[str, str | None], states: Iterable[str]) -> FindingQuery:
    """A query from strings (``?exploited=yes&sort=-cvss&page=2``); ``states`` are the triage
    states the caller accepts. ``sort`` takes a leading ``-`` for descending."""
    state = _text("state", params.get("state"), 40)
    known = tuple(states)
    if state is not None and state not in known:
        raise TriageQueryError("state", f"{state!r}: expected one of {', '.join(known)}")
    sort = _text("sort", params.get("sort"), 20) or "priority"
    descending = sort.startswith("-")
    sort = sort.lstrip("-")
    if sort not in SORTS:
        raise TriageQueryError("sort", f"{sort!r}: expected one of {', '.join(SORTS)} "
                                       "(a leading - sorts descending)")
    limit = int(_number("limit", params.get("limit"), 1, MAX_LIMIT) or 100)
    page = int(_number("page", params.get("page"), 1, 1_000_000) or 1)
    return FindingQuery(
        exploited=_flag("exploited", params.get("exploited")), state=state,
        component=_text("component", params.get("component")),
        release=_text("release", params.get("release")),
        fix_available=_flag("fix_available", params.get("fix_available")),
        min_cvss=_number("min_cvss", params.get("min_cvss"), 0, 10),
        text=_text("q", params.get("q")), sort=sort, descending=descending, limit=limit,
        offset=(page - 1) * limit)


def cvss_of(finding: Mapping[str, Any]) -> float | None:
    """The base score, the advisory's own or an alias's."""
    cvss = finding.get("cvss")
    return float(cvss["base_score"]) if cvss else None


def epss_of(finding: Mapping[str, Any]) -> float | None:
    value = finding.get("epss")
    if isinstance(value, Mapping):
        value = value.get("score")
    return float(value) if value is not None else None


def priority_key(finding: Mapping[str, Any]) -> tuple[Any, ...]:
    """Smaller first: exploited, then higher EPSS, then higher CVSS, then open before decided,
    then by id (a stable order for equal findings)."""
    epss, cvss = epss_of(finding), cvss_of(finding)
    return (not finding.get("known_exploited"), epss is None, -(epss or 0.0), cvss is None,
            -(cvss or 0.0), finding.get("state") not in OPEN_STATES,
            str(finding.get("vulnerability", "")), str(finding.get("component", "")))


def _key(sort: str) -> Any:
    if sort == "priority":
        return priority_key
    if sort in ("cvss", "epss"):
        score = cvss_of if sort == "cvss" else epss_of

        def by_score(f: Mapping[str, Any]) -> tuple[Any, ...]:
            value = score(f)
            return (value is None, -(value or 0.0), priority_key(f))

        return by_score
    return lambda f: (str(f.get(sort) or "").lower(), priority_key(f))


def matches(finding: Mapping[str, Any], query: FindingQuery) -> bool:
    """Whether one finding passes every filter of the query."""
    if query.exploited is not None and bool(finding.get("known_exploited")) != query.exploited:
        return False
    if query.state is not None and finding.get("state") != query.state:
        return False
    if query.release is not None and finding.get("release") != query.release:
        return False
    if query.fix_available is not None and bool(finding.get("fixed")) != query.fix_available:
        return False
    if query.component and query.component.lower() not in str(finding.get("component", "")).lower():
        return False
    if query.min_cvss is not None:
        score = cvss_of(finding)
        if score is None or score < query.min_cvss:
            return False
    if query.text:
        names = [finding.get("vulnerability", ""), *finding.get("aliases", []),
                 finding.get("summary") or ""]
        if not any(query.text.lower() in str(n).lower() for n in names):
            return False
    return True


def select(findings: Iterable[Mapping[str, Any]], query: FindingQuery
           ) -> tuple[list[Mapping[str, Any]], int]:
    """The page of findings the query asks for, and how many matched in all."""
    chosen = sorted((f for f in findings if matches(f, query)), key=_key(query.sort))
    if query.descending:
        chosen.reverse()
    return chosen[query.offset:query.offset + query.limit], len(chosen)


def release_summary(findings: Iterable[Mapping[str, Any]],
                    overdue_vulnerabilities: Iterable[str] = ()) -> dict[str, dict[str, int]]:
    """Per release label: findings, open (no decision yet or exploitable), exploited (known
    exploited and still open), overdue (open and named by an Article 14 case with an overdue
    stage)."""
    late = set(overdue_vulnerabilities)
    out: dict[str, dict[str, int]] = {}
    for f in findings:
        row = out.setdefault(str(f.get("release")), {"findings": 0, "open": 0, "exploited": 0,
                                                      "overdue": 0})
        row["findings"] += 1
        if f.get("state") not in OPEN_STATES:
            continue
        row["open"] += 1
        row["exploited"] += bool(f.get("known_exploited"))
        names = {f.get("vulnerability"), *f.get("aliases", [])}
        row["overdue"] += bool(names & late)
    return out
