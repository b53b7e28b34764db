"""A product's lifecycle services on SQLite and PostgreSQL: the verdict diff of a profile edit
(nothing stored), archive (read-only, left out of the portfolio, restorable), delete (what goes,
what the audit trail keeps, refused while Article 14 cases exist)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import AuditEvent, Evidence, Product
from prodsec.workspace import article14, compliance, products, vex_statements
from prodsec.workspace.context import Actor, Conflict, PermissionDenied
from tests.workspace.test_workspace import AS_OF, ROUTER, _add_and_assess


def _router(db: Database, actor: Actor, kb: KnowledgeBase) -> str:
    pid = _add_and_assess(db, actor, kb)
    with db.transaction() as s:
        products.add_release(s, actor, pid, "1.0", dt.date(2026, 1, 1), None)
    return pid


def test_profile_changes_name_each_verdict_change_and_store_nothing(
        database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _router(database, editor, kb)
    with database.transaction() as s:
        same = products.profile_changes(s, editor, kb, pid, ROUTER, AS_OF)
        assert same == {"product": pid, "version": 1, "profile": same["profile"],
                        "profile_changed": False, "answers": [], "changes": []}
        data = products.profile_changes(s, editor, kb, pid, ROUTER | {"markets": ["US"]}, AS_OF)
        assert data["profile_changed"] and data["version"] == 1
        assert [(a["field"], a["added"], a["removed"]) for a in data["answers"]] == [
            ("markets", [m for m in ["US"] if m not in ROUTER["markets"]],
             [m for m in ROUTER["markets"] if m != "US"])]
        cra = next(c for c in data["changes"] if c["regulation"] == "eu-cra")
        assert {"field": "status", "from": "required", "to": "not-applicable"} in cra["fields"]
        assert {"field": "class", "from": "important-class-1", "to": None} in cra["fields"]
        assert cra["requirements"]["removed"] and not cra["requirements"]["added"]
        assert s.get(Product, pid).profile["markets"] == ROUTER["markets"]  # type: ignore[union-attr]


def test_archived_product_is_read_only_hidden_and_restorable(
        database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _router(database, editor, kb)
    with database.transaction() as s:
        archived = products.set_archived(s, editor, pid, True, 1)
        assert archived.archived_at is not None and archived.version == 2
    with database.transaction() as s:
        assert pid not in [p.id for p in compliance.products_of(s, editor)]
        assert pid in [p.id for p in compliance.products_of(s, editor, archived=True)]
        assert products.product_view(products.get_product(s, editor, pid))["archived_at"]
        release = products.get_product(s, editor, pid).releases[0]
        for write in (lambda: products.update_profile(s, editor, kb, pid, ROUTER, None),
                      lambda: products.add_release(s, editor, pid, "2.0", None, None),
                      lambda: products.update_release(s, editor, release, {"support_rationale": "x"}, None),
                      lambda: products.delete_release(s, editor, release, None),
                      lambda: products.assess(s, editor, kb, pid, AS_OF),
                      lambda: vex_statements.set_statement(s, editor, pid, "CVE-2026-1", "in_triage"),
                      lambda: article14.open_case(s, editor, pid, "incident", "x",
                                                  dt.datetime.now(dt.UTC), member_state_code="DE"),
                      lambda: products.set_archived(s, editor, pid, True, None)):
            with pytest.raises(Conflict, match="archived"):
                write()
    with database.transaction() as s:
        with pytest.raises(Conflict, match="changed since version 1"):
            products.set_archived(s, editor, pid, False, 1)
        assert products.set_archived(s, editor, pid, False, 2).archived_at is None
    with database.transaction() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.entity_id == pid)
                                               .order_by(AuditEvent.seq))]
        assert actions[-2:] == ["product.archive", "product.restore"]


def test_viewer_cannot_archive_or_delete(database: Database, editor: Actor, viewer: Actor,
                                         kb: KnowledgeBase) -> None:
    pid = _router(database, editor, kb)
    with database.transaction() as s:
        with pytest.raises(PermissionDenied):
            products.set_archived(s, viewer, pid, True, None)
        with pytest.raises(PermissionDenied):
            products.delete_product(s, viewer, pid, None)


def test_deletion_effects_then_delete_keeps_audit_and_evidence(
        database: Database, editor: Actor, kb: KnowledgeBase, tmp_path: Path) -> None:
    pid = _router(database, editor, kb)
    with database.transaction() as s:
        status = compliance.find_status(s, editor, pid, "uk-psti:schedule-1:1")
        evidence = compliance.add_evidence(s, editor, tmp_path, "policy",
                                           url="https://example.com/p")
        compliance.link_evidence(s, editor, evidence, status=status)
        effects = products.deletion_effects(s, editor, pid)
        assert effects["blocked"] is None
        assert effects["removed"]["releases"] == 1 and effects["removed"]["assessments"] > 3
        assert effects["removed"]["evidence_links"] == 1 and effects["kept"]["evidence_items"] == 1
        assert effects["kept"]["audit_events"] >= 3  # create, assess, release
    with database.transaction() as s, pytest.raises(Conflict, match="changed since version 0"):
        products.delete_product(s, editor, pid, 0)
    with database.transaction() as s:
        products.delete_product(s, editor, pid, 1)
    with database.transaction() as s:
        assert s.get(Product, pid) is None
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.entity_id == pid)))
        assert events[-1].action == "product.delete" and ROUTER["name"] in (events[-1].before or "")
        assert [e.title for e in s.scalars(select(Evidence))] == ["policy"]  # kept, unlinked


def test_a_product_with_article14_cases_is_not_deleted_nor_archived_while_open(
        database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _router(database, editor, kb)
    with database.transaction() as s:
        article14.open_case(s, editor, pid, "incident", "ransomware", dt.datetime.now(dt.UTC),
                            member_state_code="DE")
    with database.transaction() as s:
        assert "Article 14 case" in (products.deletion_effects(s, editor, pid)["blocked"] or "")
        with pytest.raises(Conflict, match="cannot be deleted"):
            products.delete_product(s, editor, pid, None)
        with pytest.raises(Conflict, match="open Article 14 case"):
            products.set_archived(s, editor, pid, True, None)
