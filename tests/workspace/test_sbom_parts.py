"""A release's SBOM assembled from several real SBOMs (issue 18 item 2) and exported as
CycloneDX 1.6/1.7 with the CRA facts (item 4), on SQLite and PostgreSQL.

The parts are the CycloneDX project's examples (tests/data/sbom/cyclonedx, CC0-1.0): the
proton-bridge application SBOM, the PCIe-SATA adapter HBOM as the hardware part, laravel as the
cloud service, and proton-bridge's older SBOM as a "firmware" that embeds the older library
versions — which is what conflicting versions across parts look like."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import FindingRecord, OrgProfile, ProductDocumentation, SbomRecord
from prodsec.formats import cyclonedx
from prodsec.vuln import bsi
from prodsec.workspace import products, sbom_export, sbom_import, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor, NotFound, ValidationFailed
from tests.realdata import DATA
from tests.workspace.vuln_data import SBOM_A, SBOM_B, make_osv_dir

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
CDX = DATA / "sbom" / "cyclonedx"
HBOM = CDX / "HBOM/PCIe-SATA-adapter-board/bom.json"
LARAVEL = CDX / "SBOM/laravel-7.12.0/bom.1.4.json"
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def _purls(path: Path) -> set[str]:
    return {c["purl"] for c in json.loads(path.read_text()).get("components", []) if "purl" in c}


def _release(db: Database, actor: Actor, kb: KnowledgeBase) -> str:
    with db.transaction() as s:
        product = products.add_product(s, actor, kb, ROUTER)
        products.add_release(s, actor, product.id, "2.0", None, None)
        return product.id


def _add(db: Database, actor: Actor, pid: str, path: Path, part: str, kind: str) -> dict:
    with db.transaction() as s:
        return sbom_import.import_sbom(s, actor, pid, "2.0", path.read_bytes(), path.name,
                                       part=part, kind=kind)


def test_parts_are_merged_by_purl_with_their_origin_and_conflicts_listed(
        database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _release(database, editor, kb)
    first = _add(database, editor, pid, SBOM_B, "app", "application")
    assert (first["parts"], first["format"], first["conflicts"]) == (1, "CycloneDX", [])
    _add(database, editor, pid, HBOM, "hardware", "hardware")
    _add(database, editor, pid, LARAVEL, "cloud", "service")
    result = _add(database, editor, pid, SBOM_A, "firmware", "firmware")
    assert result["parts"] == 4 and result["format"] == "assembled"
    with database.transaction() as s:
        parts = vulns.list_sbom_parts(s, editor, pid, "2.0")
        record = s.scalar(select(SbomRecord))
        assert record is not None
        assembly = vulns.release_assembly(s, editor, record)
    assert [(p["name"], p["kind"], p["components"]) for p in parts] == [
        ("app", "application", 201), ("cloud", "service", 62), ("firmware", "firmware", 201),
        ("hardware", "hardware", 6)]
    shared = _purls(SBOM_A) & _purls(SBOM_B)
    expected = len(_purls(SBOM_A) | _purls(SBOM_B) | _purls(LARAVEL)) + 6  # HBOM: no purls
    assert len(assembly.components) == expected
    both = [m for m in assembly.components if m.component.purl in shared]
    assert both and all([o.part for o in m.origins] == ["app", "firmware"] for m in both)
    # Every module upgraded between 1.6.3 and 1.8.0 is one conflict, naming both parts.
    upgraded = {p.rsplit("@", 1)[0] for p in _purls(SBOM_A) ^ _purls(SBOM_B)}
    upgraded &= {p.rsplit("@", 1)[0] for p in _purls(SBOM_A)} & {
        p.rsplit("@", 1)[0] for p in _purls(SBOM_B)}
    assert {c.identity for c in assembly.conflicts} == upgraded
    assert len(result["conflicts"]) == len(upgraded) > 0
    assert all("app: " in m and "firmware: " in m for m in result["conflicts"])
    assert record.quality["components"] == expected
    assert [p["name"] for p in record.quality["parts"]] == ["app", "cloud", "firmware", "hardware"]


def test_reimporting_a_part_replaces_only_that_part(database: Database, editor: Actor,
                                                    kb: KnowledgeBase) -> None:
    pid = _release(database, editor, kb)
    _add(database, editor, pid, SBOM_B, "app", "application")
    _add(database, editor, pid, HBOM, "hardware", "hardware")
    again = _add(database, editor, pid, SBOM_B, "app", "application")
    assert again["parts"] == 2
    with database.transaction() as s:
        parts = vulns.list_sbom_parts(s, editor, pid, "2.0")
    assert [(p["name"], p["components"]) for p in parts] == [("app", 201), ("hardware", 6)]


@SQLITE_ONLY
def test_findings_cover_every_part_once_and_follow_removal(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    pid = _release(database, editor, kb)
    with database.transaction() as s:
        vulns.import_advisories(s, editor, osv_dir)
    _add(database, editor, pid, SBOM_B, "app", "application")
    with database.transaction() as s:
        app_only = {(f["component"], f["vulnerability"])
                    for f in vulns.list_findings(s, editor, pid, "2.0")}
    _add(database, editor, pid, SBOM_A, "firmware", "firmware")
    with database.transaction() as s:
        both = [(f["component"], f["vulnerability"])
                for f in vulns.list_findings(s, editor, pid, "2.0")]
    assert len(both) == len(set(both)), "a package in two parts is one finding"
    assert app_only < set(both)  # the firmware's older modules add findings
    with database.transaction() as s:
        removed = vulns.remove_sbom_part(s, editor, pid, "2.0", "firmware")
        after = {(f["component"], f["vulnerability"])
                 for f in vulns.list_findings(s, editor, pid, "2.0")}
    assert removed["parts"] == 1 and removed["findings"]["removed"] > 0
    assert after == app_only
    with database.transaction() as s:
        vulns.remove_sbom_part(s, editor, pid, "2.0", "app")
        assert s.scalar(select(func.count()).select_from(SbomRecord)) == 0
        assert s.scalar(select(func.count()).select_from(FindingRecord)) == 0


def test_bad_part_names_kinds_and_unknown_parts_are_refused(database: Database, editor: Actor,
                                                            kb: KnowledgeBase) -> None:
    pid = _release(database, editor, kb)
    with pytest.raises(ValidationFailed, match="part name"):
        _add(database, editor, pid, HBOM, "../x", "hardware")
    with pytest.raises(ValidationFailed, match="expected one of firmware"):
        _add(database, editor, pid, HBOM, "hw", "toaster")
    _add(database, editor, pid, HBOM, "hardware", "hardware")
    with pytest.raises(NotFound, match="no SBOM part 'app'; its parts: hardware"), \
            database.transaction() as s:
        vulns.remove_sbom_part(s, editor, pid, "2.0", "app")


def _set_cra_facts(db: Database, actor: Actor, pid: str) -> None:
    with db.transaction() as s:
        s.add(OrgProfile(org_id=actor.org_id, legal_name="Acme Devices GmbH",
                         postal_address="Musterstraße 1, 10115 Berlin, DE",
                         website="https://acme.example", contact_email="info@acme.example",
                         security_contact="psirt@acme.example",
                         vdp_url="https://acme.example/vdp",
                         csaf_url="https://acme.example/.well-known/csaf/provider-metadata.json"))
        s.add(ProductDocumentation(org_id=actor.org_id, product_id=pid,
                                   fields={"doc_url": "https://acme.example/doc/router.pdf"}))
        release = vulns.get_release(s, actor, pid, "2.0")
        release.support_end = dt.date(2031, 12, 31)


@pytest.mark.parametrize("spec", ["1.6", "1.7"])
@SQLITE_ONLY
def test_export_is_schema_valid_nested_and_carries_the_cra_facts(
        database: Database, editor: Actor, kb: KnowledgeBase, spec: str) -> None:
    pid = _release(database, editor, kb)
    for path, part, kind in ((SBOM_B, "app", "application"), (HBOM, "hardware", "hardware"),
                             (SBOM_A, "firmware", "firmware")):
        _add(database, editor, pid, path, part, kind)
    _set_cra_facts(database, editor, pid)
    with database.transaction() as s:
        doc, warnings = sbom_export.export(s, editor, pid, "2.0", spec)
    report = cyclonedx.validate(json.dumps(doc).encode(), "export")
    assert report.valid and report.spec_version == spec, report.issues[:3]
    assert all(w.startswith("pkg:golang/") for w in warnings)  # only the version conflicts
    meta = doc["metadata"]
    assert meta["manufacturer"]["name"] == "Acme Devices GmbH"
    assert meta["manufacturer"]["contact"] == [{"email": "info@acme.example"}]
    product = meta["component"]
    # The support end under the CycloneDX taxonomy's own name; lifecycles only say in which
    # phase the data was captured, which an export does not know, so none are written.
    assert {"name": "cdx:lifecycle:milestone:endOfGuaranteedSupport",
            "value": "2031-12-31"} in product["properties"]
    assert "lifecycles" not in meta
    assert product["manufacturer"] == meta["manufacturer"]  # the product's creator (TR table 9)
    creator = next(d for d in bsi.check(doc)["document"] if d["field"] == "sbom-creator")
    assert (creator["status"], creator["message"]) == ("present", "info@acme.example, "
                                                       "https://acme.example")
    assert product["purl"] == "pkg:generic/acme-devices-gmbh/" + vex.slug(ROUTER["name"]) + "@2.0"
    refs = {r["type"]: r["url"] for r in product["externalReferences"]}
    assert refs["security-contact"] == "mailto:psirt@acme.example"
    assert refs["documentation"] == "https://acme.example/doc/router.pdf"
    assert refs["advisories"].endswith("provider-metadata.json")
    parts = {c["name"]: c for c in doc["components"]}
    assert {n: c["type"] for n, c in parts.items()} == {
        "app": "application", "firmware": "firmware", "hardware": "device"}
    nested = sum(len(c.get("components", [])) for c in parts.values())
    assert nested == len(_purls(SBOM_A) | _purls(SBOM_B)) + 6
    # A module in both SBOMs is nested once (under "app") and says it is in both.
    shared = sorted(_purls(SBOM_A) & _purls(SBOM_B))[0]
    entry = next(c for c in parts["app"]["components"] if c.get("purl") == shared)
    assert [p["value"].split(":")[0] for p in entry["properties"]] == ["app", "firmware"]
    graph = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert graph["product"] == ["part:app", "part:firmware", "part:hardware"]
    assert entry["bom-ref"] in graph["part:firmware"]


@SQLITE_ONLY
def test_missing_cra_facts_are_warnings_never_invented(database: Database, editor: Actor,
                                                       kb: KnowledgeBase) -> None:
    pid = _release(database, editor, kb)
    _add(database, editor, pid, HBOM, "hardware", "hardware")
    with database.transaction() as s:
        doc, warnings = sbom_export.export(s, editor, pid, "2.0")
        vex_doc, vex_warnings = vex.export_with_warnings(s, editor, pid, "2.0", "cyclonedx")
    assert cyclonedx.validate(json.dumps(doc).encode(), "x").valid
    assert vex.export_problems(vex_doc, "cyclonedx") == []
    text = " | ".join(warnings)
    for missing in ("legal name", "security contact", "support period end",
                    "declaration of conformity"):
        assert missing in text
    meta = doc["metadata"]
    assert "externalReferences" not in meta["component"] and "properties" not in meta["component"]
    assert meta["manufacturer"] == {"name": "Acme"}  # the workspace organisation, as warned
    assert vex_warnings == warnings


@SQLITE_ONLY
def test_vex_exports_carry_the_cra_facts_and_validate(database: Database, editor: Actor,
                                                      kb: KnowledgeBase, osv_dir: Path) -> None:
    pid = _release(database, editor, kb)
    with database.transaction() as s:
        vulns.import_advisories(s, editor, osv_dir)
    _add(database, editor, pid, SBOM_B, "app", "application")
    _set_cra_facts(database, editor, pid)
    with database.transaction() as s:
        cdx, cdx_warnings = vex.export_with_warnings(s, editor, pid, "2.0", "cyclonedx")
        open_vex, open_warnings = vex.export_with_warnings(s, editor, pid, "2.0", "openvex")
    assert vex.export_problems(cdx, "cyclonedx") == [] and cdx_warnings == []
    assert vex.export_problems(open_vex, "openvex") == []
    assert cdx["metadata"]["manufacturer"]["name"] == "Acme Devices GmbH"
    product = cdx["metadata"]["component"]
    assert product["externalReferences"] and product["properties"] == [
        {"name": "cdx:lifecycle:milestone:endOfGuaranteedSupport", "value": "2031-12-31"}]
    assert cdx["vulnerabilities"]
    assert open_vex["author"] == "Acme Devices GmbH"
    assert open_warnings and "OpenVEX 0.2.0 has no field" in open_warnings[0]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_export_without_sbom_and_unknown_spec_are_refused(database: Database, editor: Actor,
                                                          kb: KnowledgeBase) -> None:
    pid = _release(database, editor, kb)
    with database.transaction() as s:
        with pytest.raises(NotFound, match="has no SBOM"):
            sbom_export.export(s, editor, pid, "2.0")
        with pytest.raises(ValidationFailed, match=r"1\.6, 1\.7"):
            sbom_export.export(s, editor, pid, "2.0", "1.5")


def test_migration_makes_each_existing_sbom_its_release_s_main_part(
        database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    """0011 on a workspace that holds an SBOM: it becomes the part "main" (same id, file, hash
    and report) and its components and edges point at it; the models match the schema."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import text

    from prodsec.db.engine import alembic_config
    from prodsec.db.models import Base

    pid = _release(database, editor, kb)
    _add(database, editor, pid, SBOM_B, "main", "application")
    with database.transaction() as s:
        before = s.scalar(select(SbomRecord))
        assert before is not None
        sbom_id, sha = before.id, before.sha256
    config = alembic_config(database)
    with database.engine.begin() as conn:  # back to 0010: the part rows and columns go
        conn.execute(text("DELETE FROM sbom_parts"))
    command.downgrade(config, "0010")
    with database.engine.connect() as conn:
        assert "sbom_parts" not in conn.dialect.get_table_names(conn)
        assert conn.execute(text("SELECT count(*) FROM components")).scalar() == 201
    command.upgrade(config, "head")
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name, sha256 FROM sbom_parts")).all()
        assert [tuple(r) for r in rows] == [(sbom_id, "main", sha)]
        assert conn.execute(text("SELECT count(*) FROM components WHERE part_id = :p"),
                            {"p": sbom_id}).scalar() == 201
        assert conn.execute(text("SELECT count(*) FROM dependency_edges WHERE part_id IS NULL")
                            ).scalar() == 0
        ours = {"include_name": lambda name, kind, _parent: not (
            kind == "table" and (name or "").startswith("procrastinate_"))}  # the queue's own
        assert compare_metadata(MigrationContext.configure(conn, opts=ours), Base.metadata) == []
    with database.transaction() as s:
        assert [p["name"] for p in vulns.list_sbom_parts(s, editor, pid, "2.0")] == ["main"]


@SQLITE_ONLY
def test_an_organisation_copy_keeps_its_parts_when_ids_are_remapped(
        database: Database, editor: Actor, kb: KnowledgeBase, tmp_path: Path) -> None:
    """``components.part_id`` has no foreign key; the import still remaps it (transfer's
    SOFT_REFERENCES), so the copy's parts hold their components."""
    from prodsec.workspace import transfer
    from prodsec.workspace.users import get_or_create_org

    pid = _release(database, editor, kb)
    _add(database, editor, pid, SBOM_B, "app", "application")
    _add(database, editor, pid, HBOM, "hardware", "hardware")
    export = tmp_path / "acme.json"
    transfer.export_org(database, "Acme", export)
    result = transfer.import_org(database, export, "Acme Copy", "cli:tester")
    assert result.notes[-1] == "ids remapped (they exist here)"
    with database.transaction() as s:
        copy = get_or_create_org(s, "Acme Copy")
        other = Actor(editor.user_id, editor.email, copy.id, "editor")
        parts = vulns.list_sbom_parts(s, other, ROUTER["name"], "2.0")
        doc, _ = sbom_export.export(s, other, ROUTER["name"], "2.0")
    assert [(p["name"], p["components"]) for p in parts] == [("app", 201), ("hardware", 6)]
    assert sum(len(c.get("components", [])) for c in doc["components"]) == 207


def _findings(db: Database, actor: Actor, pid: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(component, vulnerability) → (finding id, first seen) of the release."""
    with db.transaction() as s:
        return {(f["component"], f["vulnerability"]): (f["id"], f["first_seen"])
                for f in vulns.list_findings(s, actor, pid, "2.0")}


def test_findings_keep_their_identity_when_parts_come_and_go(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    """A finding is one per package and advisory in the release (docs/sbom.md): adding a part
    that lists the same packages, importing it again or removing it changes neither the id nor
    the first_seen of a pair that persists, and counts nothing as removed that did not go."""
    pid = _release(database, editor, kb)
    with database.transaction() as s:
        vulns.import_advisories(s, editor, osv_dir)
    _add(database, editor, pid, SBOM_B, "app", "application")
    app = _findings(database, editor, pid)
    assert app, "the test needs findings in the app part"
    added = _add(database, editor, pid, SBOM_A, "old", "firmware")
    both = _findings(database, editor, pid)
    assert added["findings"]["removed"] == 0
    assert added["findings"]["kept"] == len(app)
    assert added["findings"]["added"] == len(both) - len(app) > 0
    assert {pair: both[pair] for pair in app} == app  # ids and first_seen unchanged
    again = _add(database, editor, pid, SBOM_A, "old", "firmware")
    assert again["findings"] == {"added": 0, "removed": 0, "kept": len(both)}
    assert _findings(database, editor, pid) == both
    with database.transaction() as s:
        removed = vulns.remove_sbom_part(s, editor, pid, "2.0", "old")
    assert removed["findings"]["removed"] == len(both) - len(app)
    assert _findings(database, editor, pid) == app


def _licence_and_reference_counts(components: list[dict]) -> tuple[int, int, int]:
    """(licence ids, expressions, external references) over components, nested ones included."""
    ids = expressions = references = 0
    for c in components:
        for choice in c.get("licenses", []):
            ids += "id" in choice.get("license", {})
            expressions += "expression" in choice
        references += len(c.get("externalReferences", []))
        nested = _licence_and_reference_counts(c.get("components", []))
        ids, expressions, references = ids + nested[0], expressions + nested[1], \
            references + nested[2]
    return ids, expressions, references


@pytest.mark.parametrize("spec", ["1.6", "1.7"])
@SQLITE_ONLY
def test_export_keeps_licence_ids_expressions_and_external_references(
        database: Database, editor: Actor, kb: KnowledgeBase, spec: str) -> None:
    """A round trip through a release keeps what the SBOM said: licence ids as ids, expressions
    as expressions, every external reference, and a version on every part (review h18r M1)."""
    pid = _release(database, editor, kb)
    _add(database, editor, pid, SBOM_B, "app", "application")
    source = json.loads(SBOM_B.read_text())["components"]
    with database.transaction() as s:
        doc, _ = sbom_export.export(s, editor, pid, "2.0", spec)
    assert cyclonedx.validate(json.dumps(doc).encode(), "export").valid
    wanted = _licence_and_reference_counts(source)
    assert wanted[0] > 0 and wanted[2] > 0  # the fixture really has ids and references
    assert _licence_and_reference_counts(doc["components"]) == wanted
    assert [c["version"] for c in doc["components"]] == ["2.0"]


def test_licence_choice_writes_ids_expressions_and_names_within_the_schema() -> None:
    """An SPDX id → ``license.id``, an expression → ``expression`` (with its acknowledgement),
    other text → ``license.name``; CycloneDX 1.6 allows one expression alone, not beside
    licences, so there a mixed list names the expression."""
    from prodsec.core.sbom import Component, Licence

    mixed = Component("c", "c", licence_choices=(
        Licence("id", "BSD-3-Clause", "declared"),
        Licence("expression", "(Apache-2.0 AND LicenseRef-1)", "concluded")))
    assert sbom_export.licence_choice(mixed, "1.7") == [
        {"license": {"id": "BSD-3-Clause", "acknowledgement": "declared"}},
        {"expression": "(Apache-2.0 AND LicenseRef-1)", "acknowledgement": "concluded"}]
    assert sbom_export.licence_choice(mixed, "1.6")[1] == {"license": {
        "name": "(Apache-2.0 AND LicenseRef-1)", "acknowledgement": "concluded"}}
    alone = Component("c", "c", licenses=("MIT OR GPL-2.0-only",))
    assert sbom_export.licence_choice(alone, "1.6") == [{"expression": "MIT OR GPL-2.0-only"}]
    named = Component("c", "c", licence_choices=(Licence("name", "Faust proprietary"),))
    assert sbom_export.licence_choice(named, "1.6") == [
        {"license": {"name": "Faust proprietary"}}]
