"""Authored CSAF advisories are clean and start as drafts; publishing is an explicit, audited
step that makes immutable revisions. Real data: the proton-bridge 1.8.0 SBOM against the Go
advisories that concern it. Each advisory is checked twice: by prodsec's validator
(``prodsec.formats.csaf``: the bundled OASIS schema with FIRST's CVSS schemas, and the section 6
tests) and by the ``csaf`` reference package's own validator entry point."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.formats import csaf
from prodsec.workspace import audit, csaf_author, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor, Conflict, ValidationFailed
from tests.workspace.test_vulnerabilities import _loaded, _triage
from tests.workspace.vuln_data import make_osv_dir

V31 = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
# Informative tests an authored advisory may still report, each explained in docs/csaf.md.
ALLOWED_INFORMATIVE = {"6.3.3", "6.3.4"}


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def _exploitable(db: Database, actor: Actor, pid: str) -> str:
    """The vulnerability the triage marks exploitable (the advisory data scores none)."""
    with db.transaction() as s:
        return next(str(f["vulnerability"]) for f in vulns.list_findings(s, actor, pid, "1.8.0")
                    if f["state"] == "exploitable")


def _authored(db: Database, actor: Actor, kb: KnowledgeBase, osv_dir: Path) -> tuple[str, str]:
    pid = _loaded(db, actor, kb, osv_dir)
    _triage(db, actor, pid)
    vid = _exploitable(db, actor, pid)
    with db.transaction() as s:
        row = csaf_author.author(s, actor, pid, "1.8.0", tracking_id="ACME-2026-001",
                                 cvss={vid: V31})
        return pid, row.id


def assert_clean(doc: dict[str, Any]) -> None:
    """Zero schema, mandatory and recommended failures in both validators."""
    from csaf.csaf.v20._validator import validate  # type: ignore[import-untyped]

    ours = csaf.validate(json.dumps(doc).encode(), "advisory.json")
    assert [f for f in ours.failures if f.group != "informative"] == []
    assert {f.test for f in ours.failures} <= ALLOWED_INFORMATIVE
    theirs = validate(doc, preset="full")
    failed = [(r.id, r.errors[:1]) for r in theirs.results if not r.passed and not r.skipped]
    assert [f for f in failed if not f[0].startswith("6.3.")] == []
    assert {f[0] for f in failed} <= ALLOWED_INFORMATIVE
    assert theirs.overall_valid


def test_authored_advisory_is_a_clean_draft(database: Database, editor: Actor, kb: KnowledgeBase,
                                            osv_dir: Path) -> None:
    _, doc_id = _authored(database, editor, kb, osv_dir)
    with database.transaction() as s:
        row = csaf_author.get_document(s, editor, doc_id)
        doc: dict[str, Any] = row.document
        assert row.status == "draft"
        events = [e for e in audit.history(s, editor, doc_id) if e["action"] == "csaf.author"]
    tracking = doc["document"]["tracking"]
    assert (tracking["status"], tracking["version"]) == ("draft", "0")
    assert [h["number"] for h in tracking["revision_history"]] == ["0"]
    assert events and events[0]["after"]["status"] == "draft"
    assert_clean(doc)
    self_ref = next(r for r in doc["document"]["references"] if r["category"] == "self")
    year = tracking["initial_release_date"][:4]
    assert self_ref["url"].endswith(f"/.well-known/csaf/white/{year}/acme-2026-001.json")
    tree = doc["product_tree"]
    release = tree["branches"][0]["branches"][0]["branches"][0]["product"]
    uri = release["product_identification_helper"]["x_generic_uris"][0]["uri"]
    assert uri.endswith("/releases/1.8.0") and not uri.startswith("pkg:")
    for rel in tree["relationships"]:  # never the component's purl alone
        assert "purl" not in rel["full_product_name"]["product_identification_helper"]


@SQLITE_ONLY
def test_unscored_affected_products_stop_authoring(database: Database, editor: Actor,
                                                   kb: KnowledgeBase, osv_dir: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    _triage(database, editor, pid)
    vid = _exploitable(database, editor, pid)
    with database.transaction() as s:
        with pytest.raises(ValidationFailed, match=rf"6\.2\.3.*{vid}.*--cvss"):
            csaf_author.author(s, editor, pid, "1.8.0")
        with pytest.raises(ValidationFailed, match=r"cvss\.CVE-1999-0001"):
            csaf_author.author(s, editor, pid, "1.8.0", cvss={"CVE-1999-0001": V31})
        with pytest.raises(ValidationFailed, match=r"v4\.0"):
            csaf_author.author(s, editor, pid, "1.8.0", cvss={
                vid: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"})


def test_publish_makes_immutable_audited_revisions(database: Database, editor: Actor,
                                                   kb: KnowledgeBase, osv_dir: Path) -> None:
    pid, doc_id = _authored(database, editor, kb, osv_dir)
    with database.transaction() as s:
        with pytest.raises(ValidationFailed, match="interim or final"):
            csaf_author.publish(s, editor, doc_id, "draft")
        first = csaf_author.publish(s, editor, doc_id, "interim", "Initial public release.")
        first_doc, first_sha = dict(first.document), first.sha256
    tracking = first_doc["document"]["tracking"]
    assert (tracking["status"], tracking["version"]) == ("interim", "1")
    assert [h["number"] for h in tracking["revision_history"]] == ["1"]  # no 0 (6.1.18)
    assert tracking["initial_release_date"] == tracking["current_release_date"]
    assert_clean(first_doc)
    vid = _exploitable(database, editor, pid)
    with database.transaction() as s:  # the triage changes, then a final revision
        vex.set_statement(s, editor, pid, vid, "resolved", detail="fixed in 1.8.1",
                          release_label="1.8.0")
    with database.transaction() as s:
        second = csaf_author.publish(s, editor, "ACME-2026-001", "final", "Fix available.")
        second_doc = dict(second.document)
    tracking2 = second_doc["document"]["tracking"]
    assert (tracking2["status"], tracking2["version"]) == ("final", "2")
    assert [h["number"] for h in tracking2["revision_history"]] == ["1", "2"]
    assert tracking2["initial_release_date"] == tracking["initial_release_date"]
    assert_clean(second_doc)
    assert hashlib.sha256(csaf_author.document_bytes(second_doc)).hexdigest() == second.sha256
    with database.transaction() as s, pytest.raises(ValidationFailed, match="back to interim"):
        csaf_author.publish(s, editor, doc_id, "interim")
    with database.transaction() as s:
        kept = csaf_author.revisions(s, editor, doc_id)
        assert [(r.version, r.status) for r in kept] == [("1", "interim"), ("2", "final")]
        assert kept[0].document == first_doc and kept[0].sha256 == first_sha
        assert csaf_author.get_document(s, editor, doc_id).status == "final"
        published = [e["after"] for e in audit.history(s, editor, doc_id)
                     if e["action"] == "csaf.publish"]
    assert [(p["version"], p["sha256"]) for p in reversed(published)] == [
        ("1", first_sha), ("2", kept[1].sha256)]


@SQLITE_ONLY
def test_tracking_ids_stay_unique(database: Database, editor: Actor, kb: KnowledgeBase,
                                  osv_dir: Path) -> None:
    pid, _ = _authored(database, editor, kb, osv_dir)
    vid = _exploitable(database, editor, pid)
    with database.transaction() as s, pytest.raises(Conflict, match="ACME-2026-001"):
        csaf_author.author(s, editor, pid, "1.8.0", tracking_id="ACME-2026-001", cvss={vid: V31})
