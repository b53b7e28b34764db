""""Overdue" measured per release (review h16r M3): a duty is missed only for a release already
placed on the market, from the later of its placing and the obligation's date; a regime whose
obligations ended before every release was placed (the RED delegated act covers placings up to
2027-12-10, Delegated Reg. (EU) 2026/339) reaches none of them. One definition (``gaps.due``):
the product's gaps and the portfolio's missed dates agree. Today is fixed: 2026-12-03."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.workspace import gaps, products
from prodsec.workspace.context import Actor

ROOT = Path(__file__).resolve().parents[2]
MONITOR = yaml.safe_load((ROOT / "examples/products/baby-monitor.yaml").read_text())
TODAY = dt.date(2026, 12, 3)


def _monitor(db: Database, actor: Actor, kb: KnowledgeBase,
             *placed: tuple[str, dt.date | None]) -> str:
    with db.transaction() as s:
        pid = products.add_product(s, actor, kb, MONITOR).id
        products.assess(s, actor, kb, pid, TODAY)
        for label, day in placed:
            products.add_release(s, actor, pid, label, day, None)
        return pid


def _gaps(db: Database, actor: Actor, kb: KnowledgeBase,
          pid: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    with db.transaction() as s:
        detail = gaps.product_gaps(s, actor, kb, pid, TODAY)
        portfolio = gaps.portfolio_gaps(s, actor, kb, TODAY)
    return {i["regulation"]: i for i in detail["instruments"]}, portfolio


def test_nothing_is_overdue_for_a_release_placed_in_2028(database: Database, editor: Actor,
                                                         kb: KnowledgeBase) -> None:
    pid = _monitor(database, editor, kb, ("1.0", dt.date(2028, 1, 15)))
    by_reg, portfolio = _gaps(database, editor, kb, pid)
    psti = by_reg["uk-psti"]
    assert psti["status"] == "required" and psti["overdue"] == 0
    assert psti["upcoming"] == len(psti["missing"]) and psti["next_date"] == "2028-01-15"
    first = psti["missing"][0]
    assert first["due"] == "upcoming" and first["due_from"] == "2028-01-15"
    assert first["releases"] == [{"release": "1.0", "placed_on_market": "2028-01-15",
                                  "due": "upcoming", "due_from": "2028-01-15"}]
    red = by_reg["eu-red-da"]
    assert red["overdue"] == red["upcoming"] == 0 and red["not_reached"] == len(red["missing"])
    assert "does not reach release 1.0 (first placed 2028-01-15)" in red["does_not_reach"]
    assert "2027-12-10" in red["does_not_reach"] and "2026/339" in red["does_not_reach"]
    assert portfolio["missed_dates"] == []
    assert ("uk-psti", "2028-01-15") in {(u["regulation"], u["applies_from"])
                                         for u in portfolio["upcoming_dates"]}


def test_a_release_on_the_market_misses_its_dates_from_its_placing(
        database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    """Release 0.9 placed 2026-03-02: UK PSTI (from 2024-04-29) and the RED DA (from
    2025-08-01) are overdue since that day; release 1.0 (2028) adds nothing missed."""
    pid = _monitor(database, editor, kb, ("0.9", dt.date(2026, 3, 2)),
                   ("1.0", dt.date(2028, 1, 15)))
    by_reg, portfolio = _gaps(database, editor, kb, pid)
    for reg in ("uk-psti", "eu-red-da"):
        inst = by_reg[reg]
        assert inst["overdue"] == len(inst["missing"]) > 0 and inst["overdue_since"] == "2026-03-02"
        assert inst["does_not_reach"] is None
    red = by_reg["eu-red-da"]["missing"][0]["releases"]
    assert [(r["release"], r["due"], r["due_from"]) for r in red] == [
        ("0.9", "overdue", "2026-03-02"), ("1.0", "not-reached", None)]
    missed = {(m["regulation"], m["applies_from"], m["open"]) for m in portfolio["missed_dates"]}
    assert missed == {(reg, "2026-03-02", by_reg[reg]["overdue"]) for reg in ("uk-psti", "eu-red-da")}
    cra = by_reg["eu-cra"]  # Annex I applies from 2027-12-11: upcoming for 0.9 too
    assert cra["overdue"] == 0 and cra["next_date"] == "2027-12-11"


def test_without_a_placing_date_nothing_is_missed(database: Database, editor: Actor,
                                                  kb: KnowledgeBase) -> None:
    pid = _monitor(database, editor, kb, ("1.0", None))
    by_reg, portfolio = _gaps(database, editor, kb, pid)
    psti = by_reg["uk-psti"]
    assert psti["overdue"] == 0 and psti["unplaced"] == len(psti["missing"]) > 0
    assert {m["due"] for m in psti["missing"]} == {"unplaced"}
    assert by_reg["eu-red-da"]["does_not_reach"] is None
    assert portfolio["missed_dates"] == []


def test_due_rule_one_requirement(kb: KnowledgeBase) -> None:
    """The rule itself: placed before an obligation applies, a release owes it from the
    obligation's date (each unit is placed on its own, Blue Guide 2022, 2.3)."""
    early = (gaps.Placing("0.1", "2025-01-10"),)
    when = gaps.due(kb, "eu-red-da:art-3:3:d", TODAY, None, True, early)
    assert (when["due"], when["due_from"], when["applies_from"]) == (
        "overdue", "2025-08-01", "2025-08-01")
    standing = gaps.due(kb, "eu-cra:art-14:2:a", TODAY, None, True, early)
    assert standing["due"] == "standing"
    label = gaps.due(kb, "eu-red-da:art-3:3:d", TODAY, None, False, early)
    assert label["due"] == "for-label"
