"""CRA Art. 13(8): at least five years, unless the expected use time is shorter — then the
period must cover it, and both the time and the justification are recorded."""

from __future__ import annotations

import datetime as dt

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.support import REQUIREMENT, add_months, check_support, whole_months

MARKET = dt.date(2027, 1, 15)


@pytest.mark.parametrize(("end", "use", "why", "status"), [
    (dt.date(2032, 1, 15), None, "", "ok"),                   # exactly five years
    (dt.date(2035, 6, 30), None, "", "ok"),
    (dt.date(2032, 1, 14), None, "", "short-unjustified"),    # one day short
    (dt.date(2030, 1, 15), 36, "", "short-unjustified"),      # a number but no justification
    (dt.date(2030, 1, 15), None, "app", "short-unjustified"),  # a justification, no number
    (dt.date(2030, 1, 15), 36, "event app", "ok-short"),
    (dt.date(2030, 1, 15), 60, "long use", "short-unjustified"),  # not shorter than 5 years
    (dt.date(2029, 1, 15), 36, "event app", "short-unjustified"),  # shorter than the use
    (None, None, "", "unknown"),
])
def test_the_rule(end: dt.date | None, use: int | None, why: str, status: str) -> None:
    verdict = check_support(MARKET, end, use, why)
    assert verdict.status == status
    assert verdict.ok is (status in ("ok", "ok-short"))


def test_months_are_calendar_months() -> None:
    assert whole_months(dt.date(2027, 1, 15), dt.date(2027, 2, 14)) == 0
    assert whole_months(dt.date(2027, 1, 31), dt.date(2027, 2, 28)) == 1  # month ends clamp
    assert whole_months(dt.date(2027, 1, 15), dt.date(2032, 1, 15)) == 60
    assert add_months(dt.date(2028, 2, 29), 12) == dt.date(2029, 2, 28)


def test_the_rule_names_the_knowledge_base_requirement(kb: KnowledgeBase) -> None:
    requirement = kb.requirement(REQUIREMENT)
    assert requirement["params"]["support_period_min_years"] == 5
    assert requirement["citation"]["ref"] == "Art. 13(8)"
