"""Vulnerability handling in the workspace, on SQLite and PostgreSQL, with real data: the
proton-bridge SBOMs against (a relevant subset of) the real Go OSV database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import AdvisoryRecord, FindingRecord, SbomComponent, SbomRecord
from prodsec.errors import FormatError
from prodsec.formats import csaf, cyclonedx, osv
from prodsec.vuln import AdvisoryIndex, scan
from prodsec.workspace import audit, csaf_author, feeds, products, sbom_import, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor, NotFound, PermissionDenied, ValidationFailed
from tests.realdata import DATA
from tests.workspace.vuln_data import SBOM_A, SBOM_B, kev_catalogue, make_osv_dir

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
NAME = ROUTER["name"]


SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
"""Flows whose SQL is already covered on PostgreSQL by the tests without this mark."""


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def _product(db: Database, actor: Actor, kb: KnowledgeBase) -> str:
    with db.transaction() as s:
        product = products.add_product(s, actor, kb, ROUTER)
        for label in ("1.6.3", "1.8.0"):
            products.add_release(s, actor, product.id, label, None, None)
        return product.id


def _loaded(db: Database, actor: Actor, kb: KnowledgeBase, osv_dir: Path) -> str:
    pid = _product(db, actor, kb)
    with db.transaction() as s:
        sbom_import.import_sbom(s, actor, pid, "1.8.0", SBOM_B.read_bytes(), SBOM_B.name)
        vulns.import_advisories(s, actor, osv_dir)
    return pid


def test_findings_equal_the_standalone_scan(database: Database, editor: Actor, kb: KnowledgeBase,
                                            osv_dir: Path) -> None:
    """SBOM first, advisories second: the advisory import computes the findings, and they are
    exactly what the standalone scanner finds for the same files."""
    pid = _loaded(database, editor, kb, osv_dir)
    expected = {(f.component, f.vulnerability) for f in scan(
        cyclonedx.parse(SBOM_B.read_bytes(), "b"), AdvisoryIndex(osv.load(osv_dir).advisories))}
    with database.transaction() as s:
        found = vulns.list_findings(s, editor, pid, "1.8.0")
        assert {(f["component"], f["vulnerability"]) for f in found} == expected
        assert len(expected) > 10
        first = found[0]
        assert first["csaf_product_id"].startswith("CSAFPID-") and first["component_ref"]
        assert first["state"] == "in_triage"
        actions = [e["action"] for e in audit.history(s, editor)]
        assert {"sbom.import", "advisories.import"} <= set(actions)
        assert audit.verify(s, editor.org_id).ok


def test_findings_recomputed_when_either_side_changes(database: Database, editor: Actor,
                                                      kb: KnowledgeBase, osv_dir: Path,
                                                      tmp_path: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        before = vulns.list_findings(s, editor, pid, "1.8.0")
        target = before[0]
        vex.set_statement(s, editor, pid, target["aliases"][0], "not_affected",
                          justification="code_not_reachable")
    # the advisory side: the advisory now says the component's version is fixed → finding gone
    source = osv_dir / f"{target['vulnerability']}.json"
    doc = json.loads(source.read_text())
    doc["affected"] = [{"package": {"ecosystem": "Go", "name": "example.com/unrelated"},
                        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / source.name).write_text(json.dumps(doc))
    with database.transaction() as s:
        report = vulns.import_advisories(s, editor, changed)
        assert (report.updated, report.added, report.findings["removed"]) == (1, 0, 1)
        after = vulns.list_findings(s, editor, pid, "1.8.0")
        assert len(after) == len(before) - 1
    # unchanged re-import touches nothing
    with database.transaction() as s:
        report = vulns.import_advisories(s, editor, osv_dir)
        assert report.unchanged == report.files - report.withdrawn - 1 and report.updated == 1
        assert report.findings["added"] == 1
        again = vulns.list_findings(s, editor, pid, "1.8.0")
        kept = next(f for f in again if f["vulnerability"] == target["vulnerability"])
        assert kept["state"] == "not_affected"  # the VEX decision survived the recomputation
    # the SBOM side: the older SBOM into the same release replaces it and recomputes
    with database.transaction() as s:
        result = sbom_import.import_sbom(s, editor, pid, "1.8.0", SBOM_A.read_bytes(), SBOM_A.name)
        assert result["findings"]["added"] + result["findings"]["removed"] > 0
        assert s.scalar(select(func.count()).select_from(SbomRecord)) == 1


@SQLITE_ONLY
def test_withdrawn_advisory_is_removed(database: Database, editor: Actor, kb: KnowledgeBase,
                                       osv_dir: Path, tmp_path: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        target = vulns.list_findings(s, editor, pid)[0]["vulnerability"]
    doc = json.loads((osv_dir / f"{target}.json").read_text())
    doc["withdrawn"] = "2026-01-01T00:00:00Z"
    (tmp_path / f"{target}.json").write_text(json.dumps(doc))
    with database.transaction() as s:
        report = vulns.import_advisories(s, editor, tmp_path)
        assert (report.withdrawn, report.removed) == (1, 1)
        assert target not in {f["vulnerability"] for f in vulns.list_findings(s, editor, pid)}


@SQLITE_ONLY
def test_bad_advisory_files_are_skipped_the_rest_imported(database: Database, editor: Actor,
                                                          tmp_path: Path, osv_dir: Path) -> None:
    for path in sorted(osv_dir.iterdir())[:5]:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "shape.yaml").write_text("id: X-1\naffected: 3\n")
    with database.transaction() as s:
        report = vulns.import_advisories(s, editor, tmp_path)
    assert report.added == 5 and len(report.failures) == 2
    assert {Path(f).name for f, _ in report.failures} == {"broken.json", "shape.yaml"}


def test_failed_sbom_import_leaves_the_previous_one(database: Database, editor: Actor,
                                                    kb: KnowledgeBase, tmp_path: Path) -> None:
    pid = _product(database, editor, kb)
    with database.transaction() as s:
        sbom_import.import_sbom(s, editor, pid, "1.6.3", SBOM_A.read_bytes(), SBOM_A.name)
    bad = json.loads(SBOM_A.read_text())
    bad["components"][3]["type"] = "not-a-type"
    with pytest.raises(ValidationFailed, match="/components/3/type"), database.transaction() as s:
        sbom_import.import_sbom(s, editor, pid, "1.6.3", json.dumps(bad).encode(), "bad.json")
    with database.transaction() as s:
        record = s.scalar(select(SbomRecord))
        assert record is not None and record.filename == SBOM_A.name
        count = s.scalar(select(func.count()).select_from(SbomComponent))
        assert count == len(json.loads(SBOM_A.read_text())["components"])


def test_isolation_and_roles(database: Database, editor: Actor, viewer: Actor, outsider: Actor,
                             kb: KnowledgeBase, osv_dir: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        with pytest.raises(NotFound):
            vulns.list_findings(s, outsider, pid)
        assert s.scalar(select(func.count()).select_from(AdvisoryRecord)
                        .where(AdvisoryRecord.org_id == outsider.org_id)) == 0
        with pytest.raises(PermissionDenied):
            vulns.import_advisories(s, viewer, osv_dir)
        with pytest.raises(PermissionDenied):
            vex.set_statement(s, viewer, pid, "GO-2020-0017", "exploitable")
        assert vulns.list_findings(s, viewer, pid)


@SQLITE_ONLY
def test_kev_flag(database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        finding = vulns.list_findings(s, editor, pid)[0]
        cve = next(a for a in finding["aliases"] if a.startswith("CVE-"))
        kev = kev_catalogue({cve: "2024-01-02", "CVE-2099-0001": None})
        assert feeds.import_feed(s, editor, kev, "kev.json")["counts"]["new"] == 2
        flagged = [f for f in vulns.list_findings(s, editor, pid) if f["known_exploited"]]
        assert {f["vulnerability"] for f in flagged} == {finding["vulnerability"]}
        with pytest.raises(FormatError, match="cveID"):
            feeds.import_feed(s, editor, b'{"catalogVersion": "1", "vulnerabilities": '
                              b'[{"cveID": 3}]}', "bad.json")


def _triage(db: Database, actor: Actor, pid: str) -> list[dict[str, object]]:
    with db.transaction() as s:
        found = vulns.list_findings(s, actor, pid, "1.8.0")
        ids = sorted({str(f["vulnerability"]) for f in found})
        vex.set_statement(s, actor, pid, ids[0], "not_affected", justification="code_not_reachable")
        vex.set_statement(s, actor, pid, ids[1], "exploitable", responses=["update"],
                          release_label="1.8.0")
        vex.set_statement(s, actor, pid, ids[2], "resolved", detail="patched in our fork")
        vex.set_statement(s, actor, pid, ids[3], "not_affected",
                          detail="the vulnerable function is never called")
        return found


@SQLITE_ONLY
def test_vex_exports_pass_their_validators(database: Database, editor: Actor, kb: KnowledgeBase,
                                           osv_dir: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    _triage(database, editor, pid)
    with database.transaction() as s:
        cdx = vex.export(s, editor, pid, "1.8.0", "cyclonedx")
        assert cyclonedx.validate(json.dumps(cdx).encode(), "vex").valid
        states = {v["analysis"]["state"] for v in cdx["vulnerabilities"]}
        assert {"not_affected", "exploitable", "resolved", "in_triage"} <= states
        open_vex = vex.export(s, editor, pid, "1.8.0", "openvex")
        assert vex.check_openvex(open_vex) == []
        assert {st["status"] for st in open_vex["statements"]} == {
            "not_affected", "affected", "fixed", "under_investigation"}
        csaf_vex = vex.export(s, editor, pid, "1.8.0", "csaf")
        report = csaf.validate(json.dumps(csaf_vex).encode(), "vex.json")
        assert report.valid, report.failures


def test_openvex_check_catches_rule_breaks() -> None:
    doc = {"@context": vex.OPENVEX_CONTEXT, "@id": "x", "author": "a", "timestamp": "t",
           "version": 1, "statements": [
               {"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "p"}], "status": "affected"},
               {"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "p"}],
                "status": "not_affected"},
               {"vulnerability": {}, "products": [], "status": "bogus"}]}
    problems = vex.check_openvex(doc)
    assert any("/statements/0/action_statement" in p for p in problems)
    assert any("/statements/1/justification" in p for p in problems)
    assert any("/statements/2/status" in p for p in problems)


@SQLITE_ONLY
def test_vex_for_one_product_does_not_apply_to_another(database: Database, editor: Actor,
                                                       kb: KnowledgeBase, osv_dir: Path) -> None:
    """Our export names the product; imported into another product with the same SBOM every
    statement is refused (a scanner must not apply it elsewhere either), nothing is stored.
    The round trip into the product itself is in test_vex_semantics.py."""
    from prodsec.workspace.vex_import import import_summary

    pid = _loaded(database, editor, kb, osv_dir)
    _triage(database, editor, pid)
    with database.transaction() as s:
        exported = {fmt: vex.export(s, editor, pid, "1.8.0", fmt)
                    for fmt in ("cyclonedx", "openvex", "csaf")}
    for fmt, doc in exported.items():
        with database.transaction() as s:
            copy = products.add_product(s, editor, kb, dict(ROUTER, name=f"Copy {fmt}"))
            products.add_release(s, editor, copy.id, "1.8.0", None, None)
            sbom_import.import_sbom(s, editor, copy.id, "1.8.0", SBOM_B.read_bytes(), SBOM_B.name)
            summary = import_summary(s, editor, copy.id, json.dumps(doc).encode(), f"x.{fmt}")
            states = {f["state"] for f in vulns.list_findings(s, editor, copy.id, "1.8.0")}
        assert summary["imported"] == 0 and summary["refused"], fmt
        assert all("is unknown here" in r["reason"] for r in summary["refused"]), fmt
        assert states == {"in_triage"}, fmt


@SQLITE_ONLY
def test_vex_statement_rules(database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _product(database, editor, kb)
    with database.transaction() as s:
        with pytest.raises(ValidationFailed, match="justification"):
            vex.set_statement(s, editor, pid, "CVE-2024-1", "not_affected")
        with pytest.raises(ValidationFailed, match="state"):
            vex.set_statement(s, editor, pid, "CVE-2024-1", "maybe")
        row = vex.set_statement(s, editor, pid, "CVE-2024-1", "under_investigation")
        assert row.state == "in_triage"


@SQLITE_ONLY
def test_csaf_advisory_authored_from_findings(database: Database, editor: Actor, kb: KnowledgeBase,
                                              osv_dir: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s, pytest.raises(ValidationFailed, match="triage"):
        csaf_author.author(s, editor, pid, "1.8.0")
    found = _triage(database, editor, pid)
    exploitable = sorted({str(f["vulnerability"]) for f in found})[1]  # no score in the Go data
    with database.transaction() as s:
        row = csaf_author.author(s, editor, pid, "1.8.0", tracking_id="ACME-2026-001", cvss={
            exploitable: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"})
        doc: dict[str, Any] = row.document
    assert len(doc["vulnerabilities"]) == 4  # the decided ones; the rest wait for triage
    report = csaf.validate(json.dumps(doc).encode(), "advisory.json")
    assert report.valid, [f for f in report.failures if f.blocking]
    pids = {r["full_product_name"]["product_id"] for r in doc["product_tree"]["relationships"]}
    helpers = [p["product_identification_helper"]["purl"]
               for p in doc["product_tree"]["full_product_names"]]
    assert all(h.startswith("pkg:golang/") for h in helpers)
    for vuln in doc["vulnerabilities"]:
        assert set().union(*vuln["product_status"].values()) <= pids


@SQLITE_ONLY
def test_sbom_diff_and_quality(database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _product(database, editor, kb)
    with database.transaction() as s:
        sbom_import.import_sbom(s, editor, pid, "1.6.3", SBOM_A.read_bytes(), SBOM_A.name)
        with pytest.raises(NotFound, match="no SBOM"):
            vulns.sbom_diff(s, editor, pid, "1.6.3", "1.8.0")
        sbom_import.import_sbom(s, editor, pid, "1.8.0", SBOM_B.read_bytes(), SBOM_B.name)
        diff = vulns.sbom_diff(s, editor, pid, "1.6.3", "1.8.0")
    resty = next(c for c in diff["changed"] if c["component"].endswith("go-resty/resty/v2"))
    assert (resty["from"], resty["to"]) == ("v2.3.0", "v2.6.0")
    spdx = next((DATA / "sbom" / "spdx").rglob("*.spdx.json"))
    report = vulns.sbom_quality(spdx.read_bytes(), str(spdx))
    assert report["format"].startswith("SPDX") and report["components"] > 0
    assert {e["element"] for e in report["elements"]} >= {"supplier", "version", "licence"}
    quality = vulns.sbom_quality(SBOM_B.read_bytes(), "b")
    supplier = next(e for e in quality["elements"] if e["element"] == "supplier")
    assert supplier["present"] == 0 and not quality["ntia_minimum_met"]


@SQLITE_ONLY
def test_findings_cascade_when_release_deleted(database: Database, editor: Actor,
                                               kb: KnowledgeBase, osv_dir: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        product = products.get_product(s, editor, pid)
        s.delete(product)
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(FindingRecord)) == 0


def test_bulk_inserts_refuse_text_the_database_cannot_store(database: Database,
                                                            editor: Actor) -> None:
    """Core ``insert()`` never flushes, so the flush guard did not see bulk rows (advisory
    aliases, KEV entries, findings): ``_bulk`` checks them, JSON values too."""
    from prodsec.db.guards import TextRefused, check_rows
    from prodsec.db.models import KevEntry

    with pytest.raises(TextRefused, match=r"^licenses: contains a NUL .*\(component 2 'b'\)"):
        check_rows("component", [{"ref": "a", "licenses": ["MIT"]},
                                 {"ref": "b", "licenses": ["MIT\x00"]}], ("ref",))
    with database.transaction() as s, pytest.raises(TextRefused, match="cve: contains a NUL"):
        vulns._bulk(s, KevEntry, [{"id": "k1", "org_id": editor.org_id, "cve": "CVE-1\x00",
                                   "date_added": None, "source": "x"}])
