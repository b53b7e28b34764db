"""The support period rule of the CRA, Art. 13(8), as a pure function.

Regulation (EU) 2024/2847, Art. 13(8), third subparagraph: "the support period shall be at
least five years. Where the product with digital elements is expected to be in use for less than
five years, the support period shall correspond to the expected use time."
(https://eur-lex.europa.eu/eli/reg/2024/2847/oj; the knowledge base's requirement
``eu-cra:art-13:8`` carries the five years as ``support_period_min_years``.) The period runs
from placing on the market ("when placing ... on the market, and for the support period").

A shorter period is lawful only with an expected use time under five years that the period
covers, and the manufacturer records the basis in the technical documentation (Art. 13(8), fifth
subparagraph): so a short period needs both a number and a justification.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

REQUIREMENT = "eu-cra:art-13:8"
CITATION = "Regulation (EU) 2024/2847, Art. 13(8)"
URL = "https://eur-lex.europa.eu/eli/reg/2024/2847/oj"
MIN_YEARS = 5


@dataclass(frozen=True)
class SupportCheck:
    """The verdict on one release's support period."""

    status: str  # ok | ok-short | short-unjustified | unknown
    months: int | None
    message: str
    requirement: str = REQUIREMENT
    citation: str = CITATION

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "ok-short")

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "ok": self.ok, "months": self.months,
                "message": self.message, "requirement": self.requirement,
                "citation": self.citation, "url": URL}


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole calendar months (the last day of a shorter month when it overflows)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(f"no date {year}-{month}")  # pragma: no cover (28 always exists)


def whole_months(start: dt.date, end: dt.date) -> int:
    """Complete calendar months from ``start`` to ``end``."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if add_months(start, months) > end else months


def check_support(placed_on_market: dt.date | None, support_end: dt.date | None,
                  expected_use_months: int | None, justification: str,
                  min_years: int = MIN_YEARS) -> SupportCheck:
    """Is this support period lawful under Art. 13(8)? ``unknown`` while a date is missing."""
    if placed_on_market is None or support_end is None:
        return SupportCheck("unknown", None, "the market date and the support end are both "
                            "needed to check the support period")
    months = whole_months(placed_on_market, support_end)
    floor = add_months(placed_on_market, 12 * min_years)
    if support_end >= floor:
        return SupportCheck("ok", months, f"{months} months: at least {min_years} years")
    short = f"{months} months, shorter than {min_years} years"
    if expected_use_months is None or not justification.strip():
        return SupportCheck("short-unjustified", months, (
            f"{short}: allowed only when the product is expected to be in use for less than "
            f"{min_years} years — record the expected use time (months) and the justification"))
    if expected_use_months >= 12 * min_years:
        return SupportCheck("short-unjustified", months, (
            f"{short}, but the expected use time is {expected_use_months} months: the exception "
            f"does not apply, the period must be at least {min_years} years"))
    if support_end < add_months(placed_on_market, expected_use_months):
        return SupportCheck("short-unjustified", months, (
            f"{short} and shorter than the expected use time of {expected_use_months} months "
            "it must correspond to"))
    return SupportCheck("ok-short", months, (
        f"{short}; the product is expected to be in use for {expected_use_months} months, "
        "which the period covers"))
