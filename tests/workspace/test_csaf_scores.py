"""CVSS base scores in findings and in authored CSAF 2.0 advisories, with real data: the
proton-bridge 1.8.0 SBOM against the real Go advisories that concern it, one of which is given
a severity vector (the Go database carries none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.formats import csaf, cyclonedx, osv
from prodsec.vuln import AdvisoryIndex, scan
from prodsec.workspace import csaf_author, products, sbom_import, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor
from tests.workspace.vuln_data import SBOM_B, make_osv_dir

ROUTER = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples/products/router.yaml")
                        .read_text())
V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V2 = "AV:N/AC:L/Au:N/C:P/I:P/A:P"
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


@pytest.fixture(scope="module")
def target(base_dir: Path) -> str:
    """The first advisory (by id) with a finding in the 1.8.0 SBOM."""
    found = scan(cyclonedx.parse(SBOM_B.read_bytes(), "b"),
                 AdvisoryIndex(osv.load(base_dir).advisories))
    return min(f.vulnerability for f in found)


def _with_severity(base_dir: Path, target: str, vector: str, tmp_path: Path) -> Path:
    """A copy of the advisories in which ``target`` carries ``vector`` as its OSV severity."""
    folder = make_osv_dir(tmp_path / "osv")
    doc = json.loads((base_dir / f"{target}.json").read_text())
    kind = {"CVSS:3": "CVSS_V3", "CVSS:4": "CVSS_V4"}.get(vector[:6], "CVSS_V2")
    doc["severity"] = [{"type": kind, "score": vector}]
    (folder / f"{target}.json").write_text(json.dumps(doc))
    return folder


def _authored(db: Database, actor: Actor, kb: KnowledgeBase, folder: Path,
              target: str, stored: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Findings of 1.8.0 and the advisory authored once ``target`` is triaged as exploitable
    (``stored=False``: only built — authoring refuses a known affected product without a score,
    CSAF 6.2.3, so an unscorable vector is looked at in the built document)."""
    with db.transaction() as s:
        product = products.add_product(s, actor, kb, ROUTER)
        products.add_release(s, actor, product.id, "1.8.0", None, None)
        sbom_import.import_sbom(s, actor, product.id, "1.8.0", SBOM_B.read_bytes(), SBOM_B.name)
        vulns.import_advisories(s, actor, folder)
        vex.set_statement(s, actor, product.id, target, "exploitable", responses=["update"])
        findings = vulns.list_findings(s, actor, product.id, "1.8.0")
        doc: dict[str, Any] = (csaf_author.author(s, actor, product.id, "1.8.0").document
                               if stored else csaf_author.build(
                                   s, actor, product.id, "1.8.0", "csaf_security_advisory",
                                   status="draft"))
    return findings, doc


def _entry(doc: dict[str, Any], target: str) -> dict[str, Any]:
    return next(v for v in doc["vulnerabilities"] if v["ids"][0]["text"] == target)


def _assert_valid(doc: dict[str, Any]) -> None:
    report = csaf.validate(json.dumps(doc).encode(), "advisory.json")
    assert [f for f in report.failures if f.blocking] == []
    assert csaf_author.check(doc) == []


SCORED = [
    (V31, "cvss_v3", {"version": "3.1", "vectorString": V31, "baseScore": 9.8,
                      "baseSeverity": "CRITICAL"}, "CRITICAL"),
    # v2: the FIRST v2.0 schema has no baseSeverity; the finding still gets NVD's v2 rating
    (V2, "cvss_v2", {"version": "2.0", "vectorString": V2, "baseScore": 7.5}, "HIGH"),
]


@SQLITE_ONLY
@pytest.mark.parametrize(("vector", "field", "expected", "rating"), SCORED)
def test_cvss_score_reaches_findings_and_the_advisory(
        database: Database, editor: Actor, kb: KnowledgeBase, base_dir: Path, target: str,
        tmp_path: Path, vector: str, field: str, expected: dict[str, Any], rating: str) -> None:
    folder = _with_severity(base_dir, target, vector, tmp_path)
    findings, doc = _authored(database, editor, kb, folder, target)
    scored = [f for f in findings if f["vulnerability"] == target]
    assert scored and all(f["cvss"] == {"version": expected["version"], "vector": vector,
                                        "base_score": expected["baseScore"],
                                        "base_severity": rating} for f in scored)
    assert all(f["cvss"] is None for f in findings if f["vulnerability"] != target)
    entry = _entry(doc, target)
    assert entry["scores"] == [{"products": entry["product_status"]["known_affected"],
                                field: expected}]
    assert len(entry["product_status"]["known_affected"]) == len(scored)
    _assert_valid(doc)


@SQLITE_ONLY
def test_invalid_vector_gives_no_score_and_valid_csaf(
        database: Database, editor: Actor, kb: KnowledgeBase, base_dir: Path, target: str,
        tmp_path: Path) -> None:
    folder = _with_severity(base_dir, target, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Q",
                            tmp_path)
    findings, doc = _authored(database, editor, kb, folder, target, stored=False)
    scored = [f for f in findings if f["vulnerability"] == target]
    assert scored and all(f["cvss"] is None and f["severity"].endswith("A:Q") for f in scored)
    entry = _entry(doc, target)
    assert "scores" not in entry and len(entry["notes"]) == 1
    _assert_valid(doc)


@SQLITE_ONLY
def test_cvss_40_becomes_a_note_not_a_score(
        database: Database, editor: Actor, kb: KnowledgeBase, base_dir: Path, target: str,
        tmp_path: Path) -> None:
    folder = _with_severity(base_dir, target, V40, tmp_path)
    _, doc = _authored(database, editor, kb, folder, target, stored=False)
    entry = _entry(doc, target)
    assert "scores" not in entry  # CSAF 2.0 scores take CVSS v2 and v3 only
    note = next(n for n in entry["notes"] if n["title"] == "CVSS v4.0")
    assert note["category"] == "other"
    assert "9.3 (CRITICAL)" in note["text"] and V40 in note["text"]
    _assert_valid(doc)
