"""Article 14 cases only where the CRA applies, and withdrawn when opened in error (review
h16r M1): a motor vehicle's telematics unit is outside the CRA (Art. 2(2)(c)), so no case
opens and no proposal is made for it; a case opened in error, before any report, is withdrawn
— kept with who, when and why, its clocks stopped — and then no longer blocks deleting the
product; a submitted report still does."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import Article14Case, AuditEvent, Product
from prodsec.workspace import (
    article14,
    feeds,
    notification_scan,
    products,
    proposals,
    sbom_import,
    vulnerabilities,
)
from prodsec.workspace.context import Actor, Conflict, ValidationFailed
from tests.workspace import feed_data as fd

ROOT = Path(__file__).resolve().parents[2]
CAR = yaml.safe_load((ROOT / "examples/products/car.yaml").read_text())
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
AWARE = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)


def _add(db: Database, actor: Actor, kb: KnowledgeBase, profile: dict[str, object]) -> str:
    with db.transaction() as s:
        return products.add_product(s, actor, kb, profile).id


def test_no_case_for_a_product_the_cra_excludes(database: Database, editor: Actor,
                                                 kb: KnowledgeBase) -> None:
    """The car's own eu-cra verdict is not-applicable (Regulation (EU) 2019/2144 applies):
    opening a case is refused with that verdict and its article, and nothing is stored."""
    pid = _add(database, editor, kb, CAR)
    with database.transaction() as s, pytest.raises(ValidationFailed) as refused:
        article14.open_case(s, editor, pid, "vulnerability", "telematics RCE", AWARE,
                            vulnerability="CVE-2024-0001", member_state_code="DE", kb=kb)
    assert refused.value.field == "product"
    message = str(refused.value)
    assert "not-applicable" in message and "Art. 2(2)(c)" in message and "2019/2144" in message
    with database.transaction() as s:
        assert s.scalar(select(Article14Case.id)) is None


def test_no_case_before_the_reporting_obligations_apply(database: Database, editor: Actor,
                                                         kb: KnowledgeBase) -> None:
    """Art. 14 applies from 2026-09-11 (Art. 71(2), second subparagraph; Art. 69(3))."""
    pid = _add(database, editor, kb, ROUTER)
    with database.transaction() as s, pytest.raises(ValidationFailed, match="2026-09-11") as early:
        article14.open_case(s, editor, pid, "incident", "x",
                            dt.datetime(2026, 9, 10, 23, 0, tzinfo=dt.UTC), kb=kb)
    assert early.value.field == "aware_at" and "Art. 69(3)" in str(early.value)
    with database.transaction() as s:  # the day it applies is fine
        article14.open_case(s, editor, pid, "incident", "x",
                            dt.datetime(2026, 9, 11, 0, 0, tzinfo=dt.UTC), kb=kb)


def test_no_proposal_for_a_product_the_cra_excludes(database: Database, editor: Actor,
                                                     kb: KnowledgeBase, tmp_path: Path) -> None:
    """The router and the car ship the same exploited salt (CISA KEV): only the router gets
    a proposed case; confirming one for the car would be refused anyway."""
    router = fd.release(database, editor, "Router", None)
    with database.transaction() as s:
        car = products.add_product(s, editor, kb, CAR).id
        products.add_release(s, editor, car, "1.0", None, None)
        sbom_import.import_sbom(s, editor, car, "1.0", fd.sbom(("salt", "3000")), "sbom.json")
        vulnerabilities.import_advisories(s, editor, fd.osv_dir(tmp_path / "osv"))
    with database.transaction() as s:
        run = feeds.import_feed(s, editor, fd.KEV.read_bytes(), "kev.json", None)
    assert {p["product_id"] for p in run["proposals"]} == {router}
    with database.transaction() as s:
        assert all(p["product_id"] != car for p in proposals.list_proposals(s, editor, None))


def test_a_case_opened_in_error_is_withdrawn_and_kept(database: Database, editor: Actor,
                                                      kb: KnowledgeBase) -> None:
    pid = _add(database, editor, kb, ROUTER)
    with database.transaction() as s:
        case = article14.open_case(s, editor, pid, "incident", "wrong product", AWARE,
                                   member_state_code="DE", kb=kb)
        cid = case.id
        assert article14.case_view(s, kb, case)["overdue"]  # 24 h long gone
    with database.transaction() as s, pytest.raises(ValidationFailed, match="reason"):
        article14.withdraw(s, editor, cid, "  ")
    with database.transaction() as s:
        article14.withdraw(s, editor, cid, "opened for the wrong product")
    with database.transaction() as s:
        view = article14.case_view(s, kb, article14.get_case(s, editor, cid))
        assert view["status"] == "withdrawn" and not view["overdue"] and view["next_due"] is None
        assert {st["status"] for st in view["stages"]} == {"withdrawn"}
        assert all(st["due"] is None for st in view["stages"])
        assert view["withdrawn_by"] == editor.email
        assert view["withdrawal_reason"] == "opened for the wrong product"
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "case.withdraw")).one()
        assert event.entity_id == cid and event.actor == editor.email
        assert json.loads(event.after or "{}")["withdrawal_reason"] == "opened for the wrong product"
        assert notification_scan.scan_org(s, kb, editor.org_id) == 0  # nobody is told
        for refused in (lambda: article14.withdraw(s, editor, cid, "again"),
                        lambda: article14.measure_available(s, editor, cid, AWARE),
                        lambda: article14.submit(s, editor, kb, cid, "early-warning")):
            with pytest.raises(Conflict, match="withdrawn"):
                refused()
    with database.transaction() as s:  # nothing else blocks: the product can go
        assert products.deletion_effects(s, editor, pid)["blocked"] is None
        products.delete_product(s, editor, pid, None)
    with database.transaction() as s:
        assert s.get(Product, pid) is None
        assert s.scalars(select(AuditEvent).where(AuditEvent.entity_id == cid)).all()


def test_a_submitted_report_blocks_withdrawal_and_deletion(database: Database, editor: Actor,
                                                           kb: KnowledgeBase) -> None:
    pid = _add(database, editor, kb, ROUTER)
    with database.transaction() as s:
        cid = article14.open_case(s, editor, pid, "vulnerability", "exploited", AWARE,
                                  vulnerability="CVE-2024-0001", member_state_code="DE",
                                  kb=kb).id
        article14.submit(s, editor, kb, cid, "early-warning", AWARE + dt.timedelta(hours=2),
                         content={"member_states": ["DE"]})
    with database.transaction() as s:
        with pytest.raises(Conflict, match="early-warning was submitted"):
            article14.withdraw(s, editor, cid, "oops")
        blocked = products.deletion_effects(s, editor, pid)["blocked"] or ""
        assert "submitted reports" in blocked
        with pytest.raises(Conflict, match="cannot be deleted"):
            products.delete_product(s, editor, pid, None)


def test_an_open_case_blocks_deletion_until_withdrawn(database: Database, editor: Actor,
                                                      kb: KnowledgeBase) -> None:
    pid = _add(database, editor, kb, ROUTER)
    with database.transaction() as s:
        cid = article14.open_case(s, editor, pid, "incident", "x", AWARE, kb=kb).id
    with database.transaction() as s:
        assert "withdraw" in (products.deletion_effects(s, editor, pid)["blocked"] or "")
        article14.withdraw(s, editor, cid, "no incident after all")
        assert products.deletion_effects(s, editor, pid)["removed"]["article14_cases"] == 1


def test_only_member_states_the_profile_names_are_pre_filled(database: Database, editor: Actor,
                                                             kb: KnowledgeBase) -> None:
    """Review h16r m2: "EU" is not a list of where the product has been made available."""
    named = _add(database, editor, kb, ROUTER | {"name": "Named", "markets": ["DE", "FR", "GB"]})
    with database.transaction() as s:
        cid = article14.open_case(s, editor, named, "incident", "x", AWARE, kb=kb).id
        assert article14.draft(s, editor, kb, cid, "early-warning")["content"][
            "member_states"] == ["DE", "FR"]
