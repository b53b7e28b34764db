"""Publish → tree → ingest: Acme publishes an advisory about proton-bridge 1.8.0 (real SBOM,
real Go advisories) as a signed provider tree; Beta, which ships the same components, ingests
the tree offline and gets the same advisory: its known_affected products as findings, its
not-affected and fixed statements as VEX proposals below Beta's own triage. A changed byte
refuses the advisory and stores nothing. Real third-party advisories (CISA, OASIS) are
validated and matched by product name and version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.errors import CsafTreeError
from prodsec.workspace import csaf_author, csaf_ingest, csaf_tree, sbom_import, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor
from prodsec.workspace.products import get_release_by_label
from prodsec.workspace.vex_decisions import effective
from tests.formats.test_csaf_tree import generate_key
from tests.realdata import DATA
from tests.workspace.conftest import make_actor
from tests.workspace.test_csaf_publish import _authored
from tests.workspace.test_vulnerabilities import _product
from tests.workspace.vuln_data import SBOM_B, make_osv_dir


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


@pytest.fixture(scope="module")
def secret_key() -> bytes:
    return generate_key()


def _published_tree(db: Database, acme: Actor, kb: KnowledgeBase, osv_dir: Path,
                    key: bytes, out: Path) -> dict[str, Any]:
    _, doc_id = _authored(db, acme, kb, osv_dir)
    with db.transaction() as s:
        revision = csaf_author.publish(s, acme, doc_id, "final")
        doc: dict[str, Any] = revision.document
        sha = revision.sha256
    with db.transaction() as s:
        summary = csaf_tree.write_tree(s, acme, out, secret_key=key)
    assert summary["documents"] == 1 and summary["signed_by"]
    return {"doc": doc, "sha256": sha}


def _beta(db: Database, kb: KnowledgeBase) -> tuple[Actor, str]:
    """Another organisation shipping the same components (no advisory database of its own)."""
    beta = make_actor(db, "Beta", "editor")
    pid = _product(db, beta, kb)
    with db.transaction() as s:
        sbom_import.import_sbom(s, beta, pid, "1.8.0", SBOM_B.read_bytes(), SBOM_B.name)
    return beta, pid


def _statuses(doc: dict[str, Any]) -> dict[str, set[str]]:
    """Vulnerability name → the product statuses the published advisory gives it."""
    out: dict[str, set[str]] = {}
    for v in doc["vulnerabilities"]:
        name = v.get("cve") or v["ids"][0]["text"]
        out[name] = set(v["product_status"])
    return out


def test_publish_tree_ingest_round_trip(database: Database, editor: Actor, kb: KnowledgeBase,
                                        osv_dir: Path, secret_key: bytes, tmp_path: Path) -> None:
    out = tmp_path / "site"
    published = _published_tree(database, editor, kb, osv_dir, secret_key, out)
    report = csaf_tree.check_tree(out)
    assert report["problems"] == [] and report["signed"] == 1
    assert report["role"] == "csaf_trusted_provider"
    beta, pid = _beta(database, kb)
    with database.transaction() as s:
        assert vulns.list_findings(s, beta, pid, "1.8.0") == []
        summary = csaf_ingest.ingest(s, beta, out)
    assert summary["refused"] == [] and summary["tree_problems"] == []
    [advisory] = summary["advisories"]
    doc = published["doc"]
    # the same advisory: tracking id, version and the published bytes' SHA-256
    assert (advisory["tracking_id"], advisory["version"], advisory["sha256"]) == (
        "ACME-2026-001", doc["document"]["tracking"]["version"], published["sha256"])
    statuses = _statuses(doc)
    affected = {n for n, st in statuses.items() if "known_affected" in st}
    proposed = {n for n, st in statuses.items() if st & {"known_not_affected", "fixed"}}
    assert affected and proposed
    with database.transaction() as s:
        findings = vulns.list_findings(s, beta, pid, "1.8.0")
        statements = vex.statements_for(s, beta, pid)
    names = {f["aliases"][0] for f in findings}
    assert names == affected
    assert all(f["vulnerability"].startswith("ACME-2026-001:") for f in findings)
    assert {r.vulnerability for r in statements} == proposed
    assert {r.source for r in statements} == {"import:csaf:ACME-2026-001"}


def test_our_triage_outranks_the_suppliers_advisory(database: Database, editor: Actor,
                                                    kb: KnowledgeBase, osv_dir: Path,
                                                    secret_key: bytes, tmp_path: Path) -> None:
    out = tmp_path / "site"
    published = _published_tree(database, editor, kb, osv_dir, secret_key, out)
    beta, pid = _beta(database, kb)
    fixed = next(n for n, st in _statuses(published["doc"]).items() if "fixed" in st)
    with database.transaction() as s:
        vex.set_statement(s, beta, pid, fixed, "exploitable")
        summary = csaf_ingest.ingest(s, beta, out)
    conflicts = [c for p in summary["advisories"][0]["proposals"] for c in p["conflicts"]]
    assert [(c["vulnerability"], c["ours"][0]["state"]) for c in conflicts] == [(fixed, "exploitable")]
    with database.transaction() as s:
        rows = [r for r in vex.statements_for(s, beta, pid) if r.vulnerability == fixed]
        release = get_release_by_label(s, beta, pid, "1.8.0").id
    # the supplier's narrower statement is kept as a proposal, but ours decides
    assert sorted((r.state, r.source) for r in rows) == [
        ("exploitable", "manual"), ("resolved", "import:csaf:ACME-2026-001")]
    purl = next(r.component_key for r in rows if r.source != "manual")
    decision = effective(rows, release, {fixed}, purl)
    assert decision is not None and (decision.state, decision.source) == ("exploitable", "manual")


def test_a_bad_hash_refuses_the_advisory_and_stores_nothing(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path, secret_key: bytes,
        tmp_path: Path) -> None:
    out = tmp_path / "site"
    _published_tree(database, editor, kb, osv_dir, secret_key, out)
    path = next(out.glob(".well-known/csaf/white/*/acme-2026-001.json"))
    path.write_bytes(path.read_bytes().replace(b"Initial release.", b"Initial releasE.", 1))
    assert any("hash does not match" in p for p in csaf_tree.check_tree(out)["problems"])
    beta, pid = _beta(database, kb)
    with database.transaction() as s:
        summary = csaf_ingest.ingest(s, beta, out)
    assert summary["advisories"] == []
    [refused] = summary["refused"]
    assert refused["source"] == f"white/{path.parent.name}/acme-2026-001.json"
    assert any(r.endswith(".sha256: hash does not match the document") for r in refused["reasons"])
    assert any(".asc: bad signature" in r for r in refused["reasons"])
    with database.transaction() as s:
        assert vulns.list_findings(s, beta, pid, "1.8.0") == []
        assert vex.statements_for(s, beta, pid) == []


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_an_invalid_provider_metadata_refuses_the_tree(database: Database, editor: Actor,
                                                       kb: KnowledgeBase, osv_dir: Path,
                                                       secret_key: bytes, tmp_path: Path) -> None:
    out = tmp_path / "site"
    _published_tree(database, editor, kb, osv_dir, secret_key, out)
    meta_path = out / ".well-known" / "csaf" / "provider-metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["publisher"]
    meta_path.write_text(json.dumps(meta))
    with database.transaction() as s, pytest.raises(CsafTreeError, match=r"provider-metadata\.json "
                                                                          "is invalid"):
        csaf_ingest.ingest(s, editor, out)


# Components named as two real advisories name their products: IBM webMethods (CISA
# va-24-254-01, by product name and version) and the CSAF Tools converter (BSI-2022-0001, by CPE).
SUPPLIED = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [
    {"type": "application", "bom-ref": "wm", "name": "IBM webMethods Integration",
     "version": "10.15", "purl": "pkg:maven/com.softwareag/webmethods-integration@10.15"},
    {"type": "library", "bom-ref": "conv", "name": "cvrf-csaf-converter", "version": "1.0.0-alpha",
     "cpe": "cpe:/a:csaf-tools:cvrf-csaf-converter:1.0.0-alpha",
     "purl": "pkg:pypi/cvrf-csaf-converter@1.0.0-alpha"}]}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_real_advisories_match_by_name_version_and_cpe(database: Database, editor: Actor,
                                                       kb: KnowledgeBase, tmp_path: Path) -> None:
    """Real third-party advisories read from a folder: CISA's names IBM webMethods Integration
    10.15 known_affected (matched by name and version), BSI's the converter 1.0.0-alpha (by CPE);
    each becomes findings on exactly that component. An invalid file in the folder is refused
    alone, with the failed schema rule named, and stores nothing."""
    pid = _product(database, editor, kb)
    with database.transaction() as s:
        sbom_import.import_sbom(s, editor, pid, "1.8.0", json.dumps(SUPPLIED).encode(), "supplied.json")
    folder = tmp_path / "in"
    folder.mkdir()
    for real in (DATA / "csaf" / "real" / "cisa" / "va-24-254-01.json",
                 DATA / "csaf" / "examples" / "csaf" / "bsi-2022-0001.json"):
        (folder / real.name).write_bytes(real.read_bytes())
    broken = json.loads((folder / "va-24-254-01.json").read_bytes())
    del broken["document"]["title"]
    broken["document"]["tracking"]["id"] = "BROKEN-1"
    (folder / "broken.json").write_text(json.dumps(broken))
    with database.transaction() as s:
        summary = csaf_ingest.ingest(s, editor, folder)
        found = {(f["component"], f["aliases"][0]) for f in vulns.list_findings(s, editor, pid)}
    assert sorted(a["tracking_id"] for a in summary["advisories"]) == ["BSI-2022-0001",
                                                                        "VA-24-254-01"]
    [refused] = summary["refused"]
    assert refused["source"] == "broken.json"
    assert any("'title' is a required property" in r for r in refused["reasons"])
    wm, conv = (c["purl"] for c in SUPPLIED["components"])  # type: ignore[index]
    assert found == {(wm, "CVE-2024-45074"), (wm, "CVE-2024-45075"), (wm, "CVE-2024-45076"),
                     (conv, "CVE-2022-27193")}


def test_candidates_key_rules() -> None:
    """An unversioned purl matches nothing (it would name every version); qualifiers do not
    change the package; names compare case- and space-insensitively."""
    comp = csaf_ingest.Component("p", "P", "1", "OpenSSL", "3.0.1", "pkg:generic/openssl@3.0.1",
                                 None)
    index = csaf_ingest.Candidates()
    index.add(csaf_ingest._key(comp.purl), comp)
    index.add(csaf_ingest._key("OpenSSL 3.0.1"), comp)
    assert index.match("pkg:generic/openssl") == []
    assert index.match("pkg:generic/openssl@3.0.1?arch=x86") == [comp]
    assert index.match("openssl  3.0.1") == [comp]
    assert index.match("openssl 3.0.2") == []


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_loose_files_have_their_hash_and_signature_checked(database: Database, editor: Actor,
                                                           secret_key: bytes,
                                                           tmp_path: Path) -> None:
    """Outside a tree, a hash file or signature beside a file is checked too: a signature needs
    the publisher's key (--key), a key the tree does not list is not trusted."""
    from prodsec.formats import openpgp

    real = DATA / "csaf" / "real" / "cisa" / "va-24-254-01.json"
    folder = tmp_path / "in"
    folder.mkdir()
    data = real.read_bytes()
    (folder / real.name).write_bytes(data)
    (folder / (real.name + ".sha256")).write_text("0" * 64 + "  " + real.name + "\n")
    (folder / "ok.json").write_bytes(data.replace(b"VA-24-254-01", b"VA-24-254-99"))
    with openpgp.signer(secret_key, None, "test") as signer:
        (folder / "ok.json.asc").write_bytes(signer.sign((folder / "ok.json").read_bytes()))
        public = signer.public_key.encode()
    with database.transaction() as s:
        unchecked = csaf_ingest.ingest(s, editor, folder)
    assert {r["source"]: r["reasons"] for r in unchecked["refused"]} == {
        "ok.json": ["ok.json.asc: bad signature (signed, but no public key to check it with "
                    "(--key))"],
        "va-24-254-01.json": ["va-24-254-01.json.sha256: hash does not match the document"]}
    with database.transaction() as s:
        checked = csaf_ingest.ingest(s, editor, folder, [public])
    assert [a["tracking_id"] for a in checked["advisories"]] == ["VA-24-254-99"]


def test_a_symbolic_link_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    """A loose folder of advisories: a link to a file or a folder elsewhere is skipped, never
    read (pentest h11pen2 F6)."""
    from prodsec.workspace import csaf_ingest

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text("{}")
    folder = tmp_path / "supplier"
    folder.mkdir()
    (folder / "link.json").symlink_to(outside / "secret.json")
    (folder / "dir").symlink_to(outside, target_is_directory=True)
    found, problems = csaf_ingest.sources(folder, [])
    assert found == [] and problems == []


def _cves(doc: dict[str, Any]) -> list[str]:
    return [v["cve"] for v in doc["vulnerabilities"] if "cve" in v]


def _mandatory_failures(doc: dict[str, Any]) -> list[str]:
    """The official CSAF 2.0 schema (bundled copy) and every mandatory test, 6.1.23 (multiple
    use of the same CVE) among them, as prodsec's validator runs them."""
    from prodsec.formats import csaf

    report = csaf.validate(json.dumps(doc).encode(), "authored.json",
                           tests=tuple(t for t in csaf.TESTS if t.startswith("6.1.")))
    return [f"{f.test} {f.path}: {f.message}" for f in report.failures]


def test_a_suppliers_statement_on_a_known_cve_lands_on_the_existing_finding(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path, secret_key: bytes,
        tmp_path: Path) -> None:
    """Beta has its findings from the OSV import; Acme's advisory names the same CVEs known
    affected. No second finding: the statement goes onto the OSV finding as a supplier
    proposal (exploitable, with Acme's remediation and the advisory as its source), and
    Beta's authored advisory and CSAF VEX name each CVE once and pass the validator."""
    out = tmp_path / "site"
    published = _published_tree(database, editor, kb, osv_dir, secret_key, out)
    beta, pid = _beta(database, kb)
    with database.transaction() as s:
        vulns.import_advisories(s, beta, osv_dir)
        before = {(f["component"], f["vulnerability"]) for f in vulns.list_findings(s, beta, pid)}
    with database.transaction() as s:
        summary = csaf_ingest.ingest(s, beta, out)
    [advisory] = summary["advisories"]
    affected = {n for n, st in _statuses(published["doc"]).items() if "known_affected" in st}
    assert advisory["findings"] == {"added": 0, "removed": 0, "kept": 0}
    assert advisory["affected"] == []
    assert {line.split()[0] for line in advisory["on_existing_findings"]} == affected
    with database.transaction() as s:
        findings = vulns.list_findings(s, beta, pid, "1.8.0")
        rows = [r for r in vex.statements_for(s, beta, pid) if r.state == "exploitable"]
        vex_doc = vex.export(s, beta, pid, "1.8.0", "csaf")
        advisory_doc = csaf_author.build(s, beta, pid, "1.8.0", "csaf_security_advisory")
    assert {(f["component"], f["vulnerability"]) for f in findings} == before
    assert {r.vulnerability for r in rows} == affected
    assert {r.source for r in rows} == {"import:csaf:ACME-2026-001"}
    assert all(r.detail.startswith("Acme") and "ACME-2026-001 version 1" in r.detail for r in rows)
    on_them = [f for f in findings if affected & {f["vulnerability"], *f["aliases"]}]
    assert on_them and {f["state"] for f in on_them} == {"exploitable"}
    for doc in (vex_doc, advisory_doc):
        assert len(_cves(doc)) == len(set(_cves(doc))) > 0
        assert _mandatory_failures(doc) == []
    with database.transaction() as s:  # ingesting it again changes nothing
        again = csaf_ingest.ingest(s, beta, out)["advisories"][0]
        assert again["on_existing_findings"] == advisory["on_existing_findings"]
        assert len(vulns.list_findings(s, beta, pid, "1.8.0")) == len(findings)


def test_two_advisories_of_one_cve_make_one_csaf_vulnerability(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path, secret_key: bytes,
        tmp_path: Path) -> None:
    """The other order: Acme's advisory first (its findings), then the OSV import (a second
    advisory of each of those CVEs on the same component). Authoring groups by CVE anyway: one
    ``vulnerabilities[]`` entry per CVE, one status per product, in the advisory and the VEX."""
    out = tmp_path / "site"
    _published_tree(database, editor, kb, osv_dir, secret_key, out)
    beta, pid = _beta(database, kb)
    with database.transaction() as s:
        csaf_ingest.ingest(s, beta, out)
        vulns.import_advisories(s, beta, osv_dir)
    with database.transaction() as s:
        findings = vulns.list_findings(s, beta, pid, "1.8.0")
        vex_doc = vex.export(s, beta, pid, "1.8.0", "csaf")
        advisory_doc = csaf_author.build(s, beta, pid, "1.8.0", "csaf_security_advisory")
    by_cve: dict[tuple[str, str], set[str]] = {}
    for f in findings:
        for cve in (n for n in (f["vulnerability"], *f["aliases"]) if n.startswith("CVE-")):
            by_cve.setdefault((f["component"], cve), set()).add(f["vulnerability"])
    assert any(len(ids) == 2 for ids in by_cve.values())  # the duplicate this guards against
    for doc in (vex_doc, advisory_doc):
        assert len(_cves(doc)) == len(set(_cves(doc))) > 0
        assert _mandatory_failures(doc) == []
        for v in doc["vulnerabilities"]:
            named = [p for pids in v["product_status"].values() for p in pids]
            assert len(named) == len(set(named))


def test_identities_match_in_their_canonical_forms() -> None:
    """``pkg:npm/Lodash`` is ``pkg:npm/lodash``; a CPE 2.2 URI in capitals is the same CPE 2.3."""
    comp = csaf_ingest.Component("p", "P", "1", "lodash", "4.17.21", "pkg:npm/lodash@4.17.21",
                                 "cpe:2.3:a:lodash:lodash:4.17.21:*:*:*:*:*:*:*")
    index = csaf_ingest.Candidates()
    index.add(csaf_ingest._key(comp.purl), comp)
    index.add(csaf_ingest._key(comp.cpe), comp)
    assert index.match("pkg:npm/Lodash@4.17.21") == [comp]
    assert index.match("pkg:NPM/lodash@4.17.21?b=&a=1") == [comp]
    assert index.match("cpe:/a:Lodash:Lodash:4.17.21") == [comp]
    assert index.match("pkg:npm/lodash@4.17.20") == []


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_every_skipped_item_is_reported_with_its_place(database: Database, editor: Actor,
                                                       kb: KnowledgeBase, osv_dir: Path,
                                                       secret_key: bytes,
                                                       tmp_path: Path) -> None:
    """A tree whose index.txt does not list its documents is read, but the listing problem is
    reported; every statement that recorded nothing is listed with its JSON location."""
    out = tmp_path / "site"
    _published_tree(database, editor, kb, osv_dir, secret_key, out)
    index = next(out.glob(".well-known/csaf/white/index.txt"))
    index.write_text("")
    other = make_actor(database, "Gamma", "editor")  # ships none of the components
    with database.transaction() as s:
        summary = csaf_ingest.ingest(s, other, out)
    assert "white/index.txt: does not list exactly the documents of white/" in \
        summary["tree_problems"]
    [advisory] = summary["advisories"]
    assert advisory["statements"] == advisory["unmatched"] == len(advisory["skipped"]) > 0
    assert all(s["where"].startswith("/vulnerabilities/") and "no component" in s["reason"]
               for s in advisory["skipped"])
