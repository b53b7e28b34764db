"""The CRA facts prodsec holds, written into the CSAF documents it authors (advisory and VEX)
and validated against the official CSAF 2.0 schema and the section 6 tests; OpenVEX carries
what its schema has room for (the manufacturer as author, the product identifier)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.formats import csaf
from prodsec.workspace import csaf_author, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor
from tests.workspace.test_sbom_parts import ROUTER, _add, _release, _set_cra_facts
from tests.workspace.vuln_data import SBOM_B, make_osv_dir

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def _with_findings(database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> str:
    pid = _release(database, editor, kb)
    with database.transaction() as s:
        vulns.import_advisories(s, editor, osv_dir)
    _add(database, editor, pid, SBOM_B, "app", "application")
    return pid


def _exported(database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path,
              fmt: str) -> tuple[dict, list[str]]:
    """The release's VEX in ``fmt`` once the organisation's CRA facts are recorded."""
    pid = _with_findings(database, editor, kb, osv_dir)
    _set_cra_facts(database, editor, pid)
    with database.transaction() as s:
        # as the API exports it: the request's address gives the CSAF self reference
        return vex.export_with_warnings(s, editor, pid, "2.0", fmt,
                                        location="https://prodsec.acme.example")


def _schema_valid(doc: dict) -> None:
    report = csaf.validate(json.dumps(doc).encode(), "authored", tests=())
    assert not report.failures, report.failures[:3]


@SQLITE_ONLY
def test_csaf_vex_carries_publisher_contact_references_support_and_purl(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    doc, warnings = _exported(database, editor, kb, osv_dir, "csaf")
    _schema_valid(doc)
    assert csaf_author.check_clean(doc) == [] and warnings == []
    publisher = doc["document"]["publisher"]
    assert publisher["name"] == "Acme Devices GmbH"
    assert publisher["namespace"] == "https://acme.example"
    assert publisher["contact_details"] == (
        "Security contact: psirt@acme.example; Email: info@acme.example; "
        "Address: Musterstraße 1, 10115 Berlin, DE")
    refs = {r["url"]: r["summary"] for r in doc["document"]["references"]}
    assert refs["https://acme.example/doc/router.pdf"].startswith("EU declaration of conformity")
    assert refs["https://acme.example/vdp"].startswith("Coordinated vulnerability disclosure")
    assert "https://acme.example/.well-known/csaf/provider-metadata.json" in refs
    support = [n for n in doc["document"]["notes"] if n["title"].startswith("Support period")]
    assert support and support[0]["text"].endswith("until 2031-12-31.")
    release = doc["product_tree"]["branches"][0]["branches"][0]["branches"][0]["product"]
    helper = release["product_identification_helper"]
    assert helper["purl"] == "pkg:generic/acme-devices-gmbh/" + vex.slug(ROUTER["name"]) + "@2.0"
    assert helper["x_generic_uris"]  # the generic URI is kept beside it


@SQLITE_ONLY
def test_an_authored_advisory_carries_the_facts_and_missing_ones_are_not_invented(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    pid = _with_findings(database, editor, kb, osv_dir)
    with database.transaction() as s:
        bare, warnings = vex.export_with_warnings(s, editor, pid, "2.0", "csaf")
    _schema_valid(bare)
    assert "contact_details" not in bare["document"]["publisher"]
    assert not [n for n in bare["document"]["notes"] if n["title"].startswith("Support")]
    assert any("security contact" in w for w in warnings)
    _set_cra_facts(database, editor, pid)
    with database.transaction() as s:
        row = csaf_author.author(s, editor, pid, "2.0", "csaf_vex")
        stored = row.document
    _schema_valid(stored)
    assert stored["document"]["publisher"]["contact_details"].startswith("Security contact")


@SQLITE_ONLY
def test_openvex_names_the_manufacturer_and_the_product(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    doc, _ = _exported(database, editor, kb, osv_dir, "openvex")
    assert vex.export_problems(doc, "openvex") == []
    assert doc["author"] == "Acme Devices GmbH" and doc["role"] == "manufacturer"
    purl = "pkg:generic/acme-devices-gmbh/" + vex.slug(ROUTER["name"]) + "@2.0"
    assert {p["@id"] for s in doc["statements"] for p in s["products"]} == {purl}
