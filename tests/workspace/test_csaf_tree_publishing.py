"""What the organisation's provider tree publishes, on real data (the proton-bridge 1.8.0 SBOM
against the Go advisories): the advisory's ``self`` reference is the URL the tree serves it at
(CSAF 2.0 6.2.11, 7.1.11), also when the draft was written in another year than it was
published; TLP:GREEN/AMBER/RED advisories stay out of the public tree unless asked for, and then
go in their own access-protected folder (7.1.5); the provider metadata's publisher carries the
contact details the documents carry (7.1.7) and its aggregator flags say only what was chosen."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import OrgProfile
from prodsec.formats import csaf_tree as tree_format
from prodsec.workspace import csaf_author, csaf_tree
from prodsec.workspace.context import Actor
from tests.workspace.test_csaf_publish import V31, _exploitable
from tests.workspace.test_vulnerabilities import _loaded, _triage
from tests.workspace.vuln_data import make_osv_dir

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
CSAF = ".well-known/csaf"


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def _publish(db: Database, actor: Actor, kb: KnowledgeBase, osv_dir: Path, tracking_id: str,
             tlp: str = "WHITE") -> dict[str, Any]:
    """Author and publish (final) one advisory; the published document."""
    pid = _loaded(db, actor, kb, osv_dir)
    _triage(db, actor, pid)
    vid = _exploitable(db, actor, pid)
    with db.transaction() as s:
        row = csaf_author.author(s, actor, pid, "1.8.0", tracking_id=tracking_id,
                                 cvss={vid: V31}, tlp=tlp)
        document: dict[str, Any] = csaf_author.publish(s, actor, row.id, "final").document
    return document


def _self_url(doc: dict[str, Any]) -> str:
    return str(next(r["url"] for r in doc["document"]["references"] if r["category"] == "self"))


def _at(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    moment = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)
    monkeypatch.setattr(csaf_author, "utcnow", lambda: moment)


@SQLITE_ONLY
def test_the_self_reference_is_where_the_tree_serves_the_advisory(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Drafted on 31 December, published on 2 January: the year folder (7.1.11) is the
    publication's, and the self reference follows it; the ROLIE entry names the same URL."""
    pid = _loaded(database, editor, kb, osv_dir)
    _triage(database, editor, pid)
    vid = _exploitable(database, editor, pid)
    _at(monkeypatch, "2026-12-31T23:00:00")
    with database.transaction() as s:
        row = csaf_author.author(s, editor, pid, "1.8.0", tracking_id="ACME-2026-9",
                                 cvss={vid: V31})
    _at(monkeypatch, "2027-01-02T08:00:00")
    with database.transaction() as s:
        doc = csaf_author.publish(s, editor, row.id, "final").document
        summary = csaf_tree.write_tree(s, editor, tmp_path / "site")
    url = _self_url(doc)
    assert url.endswith("/.well-known/csaf/white/2027/acme-2026-9.json")
    served = url.split("/.well-known/", 1)[1]
    assert (tmp_path / "site" / ".well-known" / served).is_file()
    feed = json.loads((tmp_path / "site" / CSAF / "white" / "csaf-feed-tlp-white.json").read_text())
    assert feed["feed"]["entry"][0]["content"]["src"] == url
    assert summary["self_reference_elsewhere"] == []
    assert csaf_author.check_clean(doc) == []


@SQLITE_ONLY
def test_an_advisory_whose_self_reference_is_elsewhere_is_named(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    """A revision published before the reference followed the tree keeps its bytes; the tree
    names it so the next revision fixes it."""
    _publish(database, editor, kb, osv_dir, "ACME-2026-8")
    with database.transaction() as s:
        row = csaf_author.get_document(s, editor, "ACME-2026-8")
        doc = json.loads(json.dumps(row.document))
        old = "https://acme.example/.well-known/csaf/acme-2026-8.json"
        for ref in doc["document"]["references"]:
            if ref["category"] == "self":
                ref["url"] = old
        row.document = doc
        _, summary = csaf_tree.build_files(s, editor)
    [item] = summary["self_reference_elsewhere"]
    assert (item["tracking_id"], item["self"]) == ("ACME-2026-8", old)
    assert item["served_at"].endswith("/white/" + doc["document"]["tracking"][
        "initial_release_date"][:4] + "/acme-2026-8.json")


@SQLITE_ONLY
def test_green_advisories_are_left_out_unless_asked_for_then_in_their_own_folder(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    doc = _publish(database, editor, kb, osv_dir, "ACME-2026-7", tlp="GREEN")
    assert "/.well-known/csaf/green/" in _self_url(doc)
    with database.transaction() as s:
        files, summary = csaf_tree.build_files(s, editor)
        assert summary["documents"] == 0 and summary["access_protected"] == []
        assert summary["left_out"] == [{"tracking_id": "ACME-2026-7", "tlp": "GREEN"}]
        assert not any("acme-2026-7" in p for p in files)
        files, summary = csaf_tree.build_files(s, editor, access_protected=True)
    assert summary["left_out"] == [] and summary["documents"] == 1
    assert summary["access_protected"] == [f"{CSAF}/green/"]
    placed = [p for p in files if p.endswith("acme-2026-7.json")]
    assert placed == [f"{CSAF}/{_self_url(doc).split('/.well-known/csaf/', 1)[1]}"]
    assert not any(p.startswith(f"{CSAF}/white/") for p in files)
    meta = json.loads(files[f"{CSAF}/provider-metadata.json"])
    [feed] = meta["distributions"][0]["rolie"]["feeds"]
    assert feed["tlp_label"] == "GREEN" and feed["url"].endswith("/green/csaf-feed-tlp-green.json")
    assert tree_format.metadata_problems(meta) == []


@SQLITE_ONLY
def test_provider_publisher_carries_the_documents_contact_details(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    with database.transaction() as s:
        s.add(OrgProfile(org_id=editor.org_id, legal_name="Acme Devices GmbH",
                         website="https://acme.example", security_contact="psirt@acme.example",
                         contact_email="info@acme.example"))
    doc = _publish(database, editor, kb, osv_dir, "ACME-2026-6")
    with database.transaction() as s:
        files, _ = csaf_tree.build_files(s, editor)
    meta = json.loads(files[f"{CSAF}/provider-metadata.json"])
    assert meta["publisher"] == doc["document"]["publisher"]
    assert meta["publisher"]["contact_details"] == (
        "Security contact: psirt@acme.example; Email: info@acme.example")
    assert (meta["list_on_CSAF_aggregators"], meta["mirror_on_CSAF_aggregators"]) == (True, False)
    assert tree_format.metadata_problems(meta) == []


@SQLITE_ONLY
def test_without_contact_details_the_publisher_has_none(database: Database, editor: Actor) -> None:
    with database.transaction() as s:
        files, _ = csaf_tree.build_files(s, editor, aggregators="mirror")
    meta = json.loads(files[f"{CSAF}/provider-metadata.json"])
    assert "contact_details" not in meta["publisher"]
    assert (meta["list_on_CSAF_aggregators"], meta["mirror_on_CSAF_aggregators"]) == (True, True)
