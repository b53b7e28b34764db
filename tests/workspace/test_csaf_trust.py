"""What a CSAF ingest trusts (review h18r): the TLP label gates ingest and keeps a restricted
supplier's words out of our public exports (H1); the same (namespace, id, version) with other
bytes is refused and the publisher's signing key is pinned on first use (H2); a document whose
TLP is not its folder's is refused (M6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import AuditEvent, CsafPublisherKey, IngestedCsaf
from prodsec.errors import ValidationFailed
from prodsec.formats import csaf_tree as tree_format
from prodsec.workspace import csaf_author, csaf_ingest, csaf_tree, csaf_trust, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor
from tests.formats.test_csaf_tree import generate_key
from tests.realdata import DATA
from tests.workspace.test_csaf_ingest import _beta
from tests.workspace.test_csaf_publish import V31, _authored
from tests.workspace.vuln_data import make_osv_dir

REAL = DATA / "csaf" / "real" / "cisa" / "va-24-254-01.json"


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return generate_key(), generate_key()


def _public(secret: bytes) -> bytes:
    from prodsec.formats import openpgp

    with openpgp.signer(secret, None, "test") as signer:
        return signer.public_key.encode()


def _tree(db: Database, acme: Actor, kb: KnowledgeBase, osv_dir: Path, key: bytes, out: Path,
          tlp: str = "WHITE") -> None:
    """Acme's advisory ACME-2026-001 published with ``tlp`` and written as a signed tree."""
    pid, doc_id = _authored(db, acme, kb, osv_dir)
    with db.transaction() as s:
        csaf_author.publish(s, acme, doc_id, "final")
        if tlp != "WHITE":
            row = csaf_author.author(s, acme, pid, "1.8.0", tracking_id="ACME-2026-002", tlp=tlp,
                                     cvss={"GO-2020-0017": V31})
            csaf_author.publish(s, acme, row.id, "final")
    with db.transaction() as s:
        csaf_tree.write_tree(s, acme, out, secret_key=key, access_protected=tlp != "WHITE")


def test_accepted_labels() -> None:
    assert csaf_trust.accepted_labels(None) == {None, "WHITE", "GREEN"}
    assert csaf_trust.accepted_labels("amber") == {None, "WHITE", "GREEN", "AMBER"}
    assert csaf_trust.accepted_labels("RED") == {None, "WHITE", "GREEN", "AMBER", "RED"}
    with pytest.raises(ValidationFailed, match="accept_tlp"):
        csaf_trust.accepted_labels("PURPLE")


def test_a_draft_is_never_ingested_and_red_only_when_accepted() -> None:
    doc: dict[str, Any] = json.loads(REAL.read_bytes())
    doc["document"]["tracking"]["status"] = "draft"
    doc["document"]["distribution"] = {"tlp": {"label": "RED"}}
    everything = csaf_trust.accepted_labels("RED")
    assert [p.split(":")[0] for p in csaf_trust.tlp_problems(doc, everything)] == [
        "/document/tracking/status is draft"]
    doc["document"]["tracking"]["status"] = "final"
    assert csaf_trust.tlp_problems(doc, everything) == []
    [problem] = csaf_trust.tlp_problems(doc, csaf_trust.accepted_labels("AMBER"))
    assert "TLP:RED" in problem and "--accept-tlp RED" in problem


def test_amber_is_refused_by_default_and_kept_out_of_public_exports(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path,
        keys: tuple[bytes, bytes], tmp_path: Path) -> None:
    out = tmp_path / "site"
    _tree(database, editor, kb, osv_dir, keys[0], out, tlp="AMBER")
    beta, pid = _beta(database, kb)
    with database.transaction() as s:
        refused = csaf_ingest.ingest(s, beta, out)
    assert [a["tracking_id"] for a in refused["advisories"]] == ["ACME-2026-001"]
    [item] = refused["refused"]
    assert item["source"].startswith("amber/")
    assert any("TLP:AMBER: not ingested without accepting it" in r for r in item["reasons"])
    with database.transaction() as s:
        before = vex.export_with_warnings(s, beta, pid, "1.8.0", "openvex")[0]
        before_findings = vulns.list_findings(s, beta, pid, "1.8.0")
        taken = csaf_ingest.ingest(s, beta, out, accept_tlp="AMBER")
    assert taken["refused"] == []
    assert {a["tracking_id"]: a["tlp"] for a in taken["advisories"]} == {
        "ACME-2026-001": "WHITE", "ACME-2026-002": "AMBER"}
    with database.transaction() as s:
        findings = vulns.list_findings(s, beta, pid, "1.8.0")
        doc, warnings = vex.export_with_warnings(s, beta, pid, "1.8.0", "openvex")
        stored = {r.tracking_id: r.tlp for r in s.scalars(select(IngestedCsaf).where(
            IngestedCsaf.org_id == beta.org_id))}
    assert stored == {"ACME-2026-001": "WHITE", "ACME-2026-002": "AMBER"}
    amber = [f for f in findings if f["vulnerability"].startswith("ACME-2026-002:")
             or f["decision_source"] == "import:csaf:ACME-2026-002"]
    assert amber, "the AMBER advisory recorded something in the workspace"
    left_out = [w for w in warnings if "csaf:ACME-2026-002, labelled TLP:AMBER" in w]
    assert len(left_out) == len(amber)
    assert "ACME-2026-002" not in json.dumps(doc)
    # what the WHITE advisory recorded still goes out: only the AMBER source's findings left
    kept = [f for f in findings if f not in amber]
    assert all(f["vulnerability"] in json.dumps(doc) for f in kept)
    assert len(findings) == len(before_findings) == len(kept) + len(amber)
    assert before["statements"]


def test_one_version_one_document(database: Database, editor: Actor, keys: tuple[bytes, bytes],
                                  tmp_path: Path) -> None:
    """The same (namespace, tracking id, version) with other bytes: refused, both hashes
    named, nothing of it stored; the same bytes again are fine."""
    import hashlib

    folder = tmp_path / "in"
    folder.mkdir()
    data = REAL.read_bytes()
    (folder / REAL.name).write_bytes(data)
    with database.transaction() as s:
        assert csaf_ingest.ingest(s, editor, folder)["refused"] == []
        assert csaf_ingest.ingest(s, editor, folder)["refused"] == []
    changed = data.replace(b"Matthew Galligan", b"Matthew Galligam", 1)
    assert changed != data
    (folder / REAL.name).write_bytes(changed)
    with database.transaction() as s:
        summary = csaf_ingest.ingest(s, editor, folder)
        rows = s.scalars(select(IngestedCsaf).where(IngestedCsaf.org_id == editor.org_id)).all()
    [item] = summary["refused"]
    [reason] = item["reasons"]
    assert hashlib.sha256(data).hexdigest() in reason
    assert hashlib.sha256(changed).hexdigest() in reason
    assert [r.sha256 for r in rows] == [hashlib.sha256(data).hexdigest()]


def test_the_signing_key_is_pinned_on_first_use(database: Database, editor: Actor,
                                                kb: KnowledgeBase, osv_dir: Path,
                                                keys: tuple[bytes, bytes],
                                                tmp_path: Path) -> None:
    """A tree re-signed with another key (its own keys replaced): refused without --key; with
    the new key given explicitly, accepted and re-pinned, audited."""
    out = tmp_path / "site"
    _tree(database, editor, kb, osv_dir, keys[0], out)
    beta, _ = _beta(database, kb)
    with database.transaction() as s:
        first = csaf_ingest.ingest(s, beta, out)
        pinned = s.scalars(select(CsafPublisherKey.fingerprint).where(
            CsafPublisherKey.org_id == beta.org_id)).one()
    assert first["refused"] == [] and first["advisories"][0]["signed_by"] == pinned
    with database.transaction() as s:
        csaf_tree.write_tree(s, editor, out, secret_key=keys[1])
    assert csaf_tree.check_tree(out)["problems"] == []  # the tree vouches for itself
    with database.transaction() as s:
        second = csaf_ingest.ingest(s, beta, out)
    [item] = second["refused"]
    assert any(f"first ingested signed by {pinned} (pinned)" in r for r in item["reasons"])
    with database.transaction() as s:
        third = csaf_ingest.ingest(s, beta, out, [_public(keys[1])])
        now = s.scalars(select(CsafPublisherKey.fingerprint).where(
            CsafPublisherKey.org_id == beta.org_id)).one()
        repins = s.scalars(select(AuditEvent).where(
            AuditEvent.org_id == beta.org_id, AuditEvent.action == "csaf.key_repin")).all()
    assert third["refused"] == [] and now != pinned
    assert now == third["advisories"][0]["signed_by"] and len(repins) == 1


def test_a_document_in_another_labels_folder_is_refused(database: Database, editor: Actor,
                                                        kb: KnowledgeBase, osv_dir: Path,
                                                        keys: tuple[bytes, bytes],
                                                        tmp_path: Path) -> None:
    """An AMBER document moved into white/ (site-bad2): check and ingest say so; ingest
    refuses it even when AMBER is accepted."""
    out = tmp_path / "site"
    _tree(database, editor, kb, osv_dir, keys[0], out, tlp="AMBER")
    amber = next(out.glob(".well-known/csaf/amber/*/acme-2026-002.json"))
    white = out / ".well-known/csaf/white" / amber.parent.name / amber.name
    for suffix in ("", ".sha256", ".sha512", ".asc"):
        white.with_name(white.name + suffix).write_bytes(
            amber.with_name(amber.name + suffix).read_bytes())
    index = out / ".well-known/csaf/white/index.txt"
    index.write_text(index.read_text() + f"{amber.parent.name}/{amber.name}\n")
    problem = f"white/{amber.parent.name}/{amber.name} is TLP:AMBER but sits in the folder white/"
    assert any(p.startswith(problem) for p in csaf_tree.check_tree(out)["problems"])
    beta, _ = _beta(database, kb)
    with database.transaction() as s:
        summary = csaf_ingest.ingest(s, beta, out, accept_tlp="RED")
    refused = {r["source"]: r["reasons"] for r in summary["refused"]}
    assert any(r.startswith(problem) for r in refused[f"white/{amber.parent.name}/{amber.name}"])


def test_place_problems_name_the_label_folder() -> None:
    doc = json.loads(REAL.read_bytes())
    path = f"white/2024/{tree_format.file_name(doc['document']['tracking']['id'])}"
    doc["document"]["tracking"]["initial_release_date"] = "2024-01-01T00:00:00Z"
    for label, expected in (("WHITE", []), ("AMBER", ["TLP:AMBER but sits in the folder white/"])):
        doc["document"]["distribution"] = {"tlp": {"label": label}}
        found = tree_format._place_problems(path, json.dumps(doc).encode())
        assert [p.split(" is ", 1)[1][:-len(" (one folder and feed per TLP label, CSAF 2.0 "
                                             "7.1.15)")] for p in found] == expected


def test_the_vex_tracking_id_cites_the_id_section() -> None:
    """L5: the tracking id is CSAF 2.0 3.2.1.12.4 (3.2.1.12.6 is the revision history)."""
    from prodsec.workspace import vex_location

    assert "3.2.1.12.4" in (vex_location.tracking_id.__doc__ or "")
    assert "3.2.1.12.6" not in Path(vex_location.__file__).read_text()
