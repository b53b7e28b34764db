"""The workspace services on SQLite and PostgreSQL: products, assessments, statuses, evidence,
controls, gaps, isolation, roles, concurrency, rollback, the audit chain."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import AuditEvent, Evidence, Product
from prodsec.workspace import audit, compliance, gaps, products
from prodsec.workspace.context import Actor, Conflict, NotFound, PermissionDenied, ValidationFailed

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
AS_OF = dt.date(2026, 11, 27)


def _add_and_assess(db: Database, actor: Actor, kb: KnowledgeBase) -> str:
    with db.transaction() as s:
        product = products.add_product(s, actor, kb, ROUTER)
        products.assess(s, actor, kb, product.id, AS_OF)
        return product.id


def test_assess_creates_statuses_per_binding_requirement(database: Database, editor: Actor,
                                                         kb: KnowledgeBase) -> None:
    pid = _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        current = {a.regulation_id: a for a in products.current_assessments(s, editor, pid)}
        assert current["eu-cra"].category == "important-class-1"
        assert current["eu-cra"].status == "required"
        row = compliance.find_status(s, editor, pid, "uk-psti:schedule-1:1")
        assert row.status == "not-started"


def test_status_evidence_and_gaps(database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        before = gaps.product_gaps(s, editor, kb, pid, AS_OF)
        psti = next(i for i in before["instruments"] if i["regulation"] == "uk-psti")
        row = compliance.find_status(s, editor, pid, "uk-psti:schedule-1:1")
        compliance.set_status(s, editor, row, "met", None, row.version)
        ev = compliance.add_evidence(s, editor, database.evidence_dir, "Password test report",
                                     stream=io.BytesIO(b"report"), filename="r.txt",
                                     expires_on=AS_OF + dt.timedelta(days=10))
        compliance.link_evidence(s, editor, ev, status=row)
    with database.transaction() as s:
        after = gaps.product_gaps(s, editor, kb, pid, AS_OF)
        psti_after = next(i for i in after["instruments"] if i["regulation"] == "uk-psti")
        assert psti_after["done"] == psti["done"] + 1
        assert after["expiring_evidence"][0]["title"] == "Password test report"
    assert compliance.blob_path(database.evidence_dir, ev.sha256 or "").read_bytes() == b"report"


def test_not_applicable_needs_justification(database: Database, editor: Actor,
                                            kb: KnowledgeBase) -> None:
    pid = _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        row = compliance.find_status(s, editor, pid, "uk-psti:schedule-1:1")
        with pytest.raises(ValidationFailed, match="justification"):
            compliance.set_status(s, editor, row, "not-applicable", "", None)
        compliance.set_status(s, editor, row, "not-applicable", "No passwords at all", None)


def test_other_organisation_cannot_see_or_touch(database: Database, editor: Actor,
                                               outsider: Actor, kb: KnowledgeBase) -> None:
    pid = _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        with pytest.raises(NotFound):
            products.get_product(s, outsider, pid)
        with pytest.raises(NotFound):
            products.get_product(s, outsider, ROUTER["name"])
        assert products.list_products(s, outsider)[1] == 0
        with pytest.raises(NotFound):
            compliance.find_status(s, outsider, pid, "uk-psti:schedule-1:1")


def test_unknown_name_suggests_close_names_of_the_own_organisation_only(
        database: Database, editor: Actor, outsider: Actor, kb: KnowledgeBase) -> None:
    _add_and_assess(database, editor, kb)
    name = ROUTER["name"]
    with database.transaction() as s:
        with pytest.raises(NotFound, match=f"did you mean {name!r}"):
            products.get_product(s, editor, name.upper())
        with pytest.raises(NotFound) as outside:
            products.get_product(s, outsider, name.upper())
        assert "did you mean" not in str(outside.value)
        with pytest.raises(NotFound) as unrelated:
            products.get_product(s, editor, "zzzz")
        assert "did you mean" not in str(unrelated.value)


def test_viewer_cannot_write(database: Database, viewer: Actor, kb: KnowledgeBase) -> None:
    with database.transaction() as s, pytest.raises(PermissionDenied):
        products.add_product(s, viewer, kb, ROUTER)


def test_stale_version_is_refused(database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        version = products.get_product(s, editor, pid).version
    with database.transaction() as s:
        products.update_profile(s, editor, kb, pid, ROUTER | {"markets": ["DE"]}, version)
    with database.transaction() as s, pytest.raises(Conflict):
        products.update_profile(s, editor, kb, pid, ROUTER | {"markets": ["FR"]}, version)
    with database.transaction() as s:
        assert all(a.stale for a in products.current_assessments(s, editor, pid))


def test_failed_write_rolls_back_and_removes_the_new_blob(database: Database, editor: Actor,
                                                          kb: KnowledgeBase) -> None:
    with pytest.raises(RuntimeError), database.transaction() as s:
        products.add_product(s, editor, kb, ROUTER)
        compliance.add_evidence(s, editor, database.evidence_dir, "x", stream=io.BytesIO(b"a"))
        raise RuntimeError("crash mid-transaction")
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 0
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0


def test_evidence_failure_leaves_no_orphan_file(database: Database, editor: Actor) -> None:
    with database.transaction() as s, pytest.raises(ValidationFailed):
        compliance.add_evidence(s, editor, database.evidence_dir, " ", stream=io.BytesIO(b"z"))
    blobs = [p for p in database.evidence_dir.rglob("*") if p.is_file()] if database.evidence_dir.exists() else []
    assert blobs == []


def test_upload_size_limit(database: Database, editor: Actor) -> None:
    with pytest.raises(compliance.EvidenceTooLarge):
        compliance.store_blob(database.evidence_dir, io.BytesIO(b"x" * 2000), limit=1000)


def test_audit_chain_detects_tampering(database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        report = audit.verify(s, editor.org_id)
        assert report.ok and report.events >= 3
    # the database itself refuses edits to history
    with pytest.raises(DBAPIError), database.transaction() as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory'"))
    # an attacker who disables the guard still cannot hide the edit
    with database.engine.begin() as conn:
        if database.is_sqlite:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    with database.transaction() as s:
        report = audit.verify(s, editor.org_id)
        assert not report.ok
        assert "event 2: content does not match its hash (edited)" in report.problems


def test_controls_rank_by_open_requirements(database: Database, editor: Actor,
                                            kb: KnowledgeBase) -> None:
    _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        compliance.add_control(s, editor, kb, "Unique passwords",
                               ["uk-psti:schedule-1:1", "eu-cra:annex-i:part-i:2:d"])
        compliance.add_control(s, editor, kb, "Nothing useful", ["etsi-en-303-645:5.1-1"])
        with pytest.raises(ValidationFailed, match="requirements\\[0\\]"):
            compliance.add_control(s, editor, kb, "Bad", ["eu-cra:nope"])
    with database.transaction() as s:
        report = gaps.portfolio_gaps(s, editor, kb, AS_OF)
        assert report["controls"][0]["control"] == "Unique passwords"
        assert report["controls"][0]["regimes"] == ["eu-cra", "uk-psti"]


def test_reassess_keeps_history_and_carries_status(database: Database, editor: Actor,
                                                   kb: KnowledgeBase) -> None:
    pid = _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        row = compliance.find_status(s, editor, pid, "uk-psti:schedule-1:1")
        compliance.set_status(s, editor, row, "met", None, None)
    with database.transaction() as s:
        products.assess(s, editor, kb, pid, AS_OF + dt.timedelta(days=1))
    with database.transaction() as s:
        assert compliance.find_status(s, editor, pid, "uk-psti:schedule-1:1").status == "met"
        events = s.scalar(select(func.count()).select_from(AuditEvent))
        assert events and events >= 4


def test_missed_dates_only_count_requirements_that_apply(database: Database, editor: Actor,
                                                         kb: KnowledgeBase) -> None:
    """CRA on 2026-11-27: only Art. 14 applies (from 2026-09-11), and only as standing duties
    that an exploited vulnerability or incident triggers: in force, never missed before one
    (lawyer review of issue #13). Annex I and Art. 13 apply from 2027-12-11, so they are
    upcoming with that date, never a missed date."""
    pid = _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        report = gaps.portfolio_gaps(s, editor, kb, AS_OF)
        detail = gaps.product_gaps(s, editor, kb, pid, AS_OF)
    cra = next(i for i in detail["instruments"] if i["regulation"] == "eu-cra")
    due = {m["requirement"]: (m["applies_from"], m["due"]) for m in cra["missing"]}
    assert due["eu-cra:art-14:2:a"] == ("2026-09-11", "standing")
    assert due["eu-cra:annex-i:part-i:2:d"] == ("2027-12-11", "upcoming")
    assert cra["overdue"] == 0
    assert cra["standing"] == sum(1 for r in due if r.startswith("eu-cra:art-14")) > 0
    assert "eu-cra" not in {m["regulation"] for m in report["missed_dates"]}
    upcoming = next(m for m in report["upcoming_dates"] if m["regulation"] == "eu-cra")
    assert upcoming["applies_from"] == "2027-12-11" and upcoming["open"] == cra["upcoming"]
    assert report["law_as_of"] == kb.law_as_of


def test_only_the_mandatory_part_of_a_label_can_be_missed(database: Database, editor: Actor,
                                                         kb: KnowledgeBase) -> None:
    """The example router (consumer, sold in Singapore and the EU): only CLS Level 1 is
    mandatory, for routers from 2021-04-13 (the MDDI release; IMDA's date); Levels 2-4 and
    label validity are conditions of the voluntary label, and so is every requirement of the
    German IT security label: "to do for the label", never overdue or a missed date. A date is
    missed only for a release on the market (review h16r M3): release 1.0, placed 2025-06-01."""
    pid = _add_and_assess(database, editor, kb)
    with database.transaction() as s:
        products.add_release(s, editor, pid, "1.0", dt.date(2025, 6, 1), None)
    with database.transaction() as s:
        report = gaps.portfolio_gaps(s, editor, kb, AS_OF)
        detail = gaps.product_gaps(s, editor, kb, pid, AS_OF)
    by_reg = {i["regulation"]: i for i in detail["instruments"]}
    cls = by_reg["sg-cls"]
    assert cls["status"] == "required" and cls["applies_from"] == "2021-04-13"
    due = {m["requirement"]: (m["applies_from"], m["due"]) for m in cls["missing"]}
    assert due.pop("sg-cls:level-1") == ("2021-04-13", "overdue")
    assert due and all(when == "for-label" for _, when in due.values())
    assert cls["overdue"] == 1 and cls["for_label"] == len(due)
    missed = [m for m in report["missed_dates"] if m["regulation"] == "sg-cls"]
    assert [(m["applies_from"], m["open"]) for m in missed] == [("2025-06-01", 1)]
    bsi = by_reg["de-it-security-label"]
    assert bsi["status"] == "voluntary" and bsi["missing"]
    assert {m["due"] for m in bsi["missing"]} == {"for-label"} and bsi["overdue"] == 0
    assert "de-it-security-label" not in {m["regulation"] for m in report["missed_dates"]}


def test_stale_assessment_names_the_knowledge_change(database: Database, editor: Actor,
                                                     kb: KnowledgeBase) -> None:
    """A knowledge change encoded after an assessment marks it stale and is named, with the
    verdict then and now (issue #13, mission row 22)."""
    pid = _add_and_assess(database, editor, kb)
    change = {"id": "test-change", "date": "2026-12-01", "act": "Test Act 2099/1",
              "summary": "A test change.", "instruments": ["eu-cra"], "facts": [],
              "functions": [], "encoded": "2999-01-01", "citation": {"ref": "Art. 1"}}
    log = kb.data["changes"] | {"changes": [*kb.data["changes"]["changes"], change]}
    later = KnowledgeBase(dict(kb.data) | {"changes": log, "version": "later"})
    with database.transaction() as s:
        detail = gaps.product_gaps(s, editor, later, pid, AS_OF)
    cra = next(i for i in detail["instruments"] if i["regulation"] == "eu-cra")
    assert cra["stale"]
    assert "test-change" in [c["id"] for c in cra["changes"]]
    assert all("eu-cra" in c["act"] or c["id"] for c in cra["changes"])
    assert cra["status_was"] == cra["status_now"] == "required"
    psti = next(i for i in detail["instruments"] if i["regulation"] == "uk-psti")
    assert "test-change" not in [c["id"] for c in psti["changes"]]
