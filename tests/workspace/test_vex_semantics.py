"""VEX that says what it means (issue 14): the same triage exported as CycloneDX VEX, OpenVEX
and CSAF VEX names the same (product, component, vulnerability, status, justification) tuples;
each export imports back into the product without changing its triage; a supplier's statement
about something else is refused alone. On the real proton-bridge SBOM and Go advisories (and, in
an extended test, the full Go database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from sqlalchemy import delete

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import VexStatement
from prodsec.formats import csaf, cyclonedx
from prodsec.formats.vex import JUSTIFICATIONS, RESPONSES, STATES, canonical, parse_vex
from prodsec.workspace import audit, products, sbom_import, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor
from prodsec.workspace.vex_import import import_summary
from tests.realdata import DATA, SHARED, extended
from tests.workspace.test_vulnerabilities import ROUTER, SQLITE_ONLY, _loaded
from tests.workspace.vuln_data import SBOM_B, make_osv_dir

FORMATS = ("cyclonedx", "openvex", "csaf")
SCHEMA = json.loads((DATA / "openvex" / "openvex_json_schema.json").read_text())
Tuple = tuple[str | None, str | None, str, str, str | None]


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def _findings(db: Database, actor: Actor, pid: str) -> list[dict[str, Any]]:
    with db.transaction() as s:
        return vulns.list_findings(s, actor, pid, "1.8.0")


def _release_purl() -> str:
    # the editor's organisation is "Acme" (tests/workspace/conftest.py) and has no profile
    return vex.release_purl("Acme", ROUTER["name"], "1.8.0")


def _expected(findings: list[dict[str, Any]]) -> set[Tuple]:
    """What every export must say: the finding's triage in the shared vocabulary."""
    return {(_release_purl(), f["component"], f["vulnerability"],
             *canonical(f["state"], f["justification"])) for f in findings}


def _tuples(doc: dict[str, Any], findings: list[dict[str, Any]]) -> set[Tuple]:
    """An export parsed back, each format's vocabulary mapped to the shared one, vulnerabilities
    named by their OSV id (CSAF leads with the CVE, the others with the OSV id)."""
    osv_id = {n: f["vulnerability"] for f in findings for n in (f["vulnerability"], *f["aliases"])}
    out = set()
    for s in parse_vex(json.dumps(doc).encode(), "export.json"):
        assert s.problem is None, s
        state = vex.normalise_state(s.state)
        out.add((s.product, s.component, osv_id[s.vulnerability], *canonical(state, s.justification)))
    return out


def _triage(db: Database, actor: Actor, pid: str, findings: list[dict[str, Any]]) -> None:
    """Every kind of decision: product-wide, per release, per component; every state."""
    ids = sorted({f["vulnerability"] for f in findings})
    component = next(f["component"] for f in findings if f["vulnerability"] == ids[5])
    with db.transaction() as s:
        vex.set_statement(s, actor, pid, ids[0], "not_affected", justification="code_not_reachable")
        vex.set_statement(s, actor, pid, ids[1], "exploitable", responses=["update"],
                          release_label="1.8.0")
        vex.set_statement(s, actor, pid, ids[2], "resolved", detail="patched in our fork")
        vex.set_statement(s, actor, pid, ids[3], "not_affected",
                          detail="the vulnerable function is never called")
        vex.set_statement(s, actor, pid, ids[4], "false_positive", detail="wrong module")
        vex.set_statement(s, actor, pid, ids[5], "not_affected",
                          justification="protected_by_compiler", component=component)
        vex.set_statement(s, actor, pid, ids[6], "resolved_with_pedigree")


def _exports(db: Database, actor: Actor, pid: str) -> dict[str, dict[str, Any]]:
    with db.transaction() as s:
        return {fmt: vex.export(s, actor, pid, "1.8.0", fmt) for fmt in FORMATS}


@pytest.fixture
def triaged(database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> str:
    pid = _loaded(database, editor, kb, osv_dir)
    _triage(database, editor, pid, _findings(database, editor, pid))
    return pid


@SQLITE_ONLY
def test_openvex_names_the_product_and_its_components(database: Database, editor: Actor,
                                                      triaged: str) -> None:
    doc = _exports(database, editor, triaged)["openvex"]
    Draft202012Validator(SCHEMA, format_checker=FormatChecker()).validate(doc)
    assert vex.check_openvex(doc) == []
    assert doc["author"] == "Acme" and doc["author"] != editor.email
    assert doc["role"] == "manufacturer" and doc["@id"].startswith("urn:uuid:")
    sbom = {c.get("purl") for c in json.loads(SBOM_B.read_text())["components"]}
    for statement in doc["statements"]:
        (product,) = statement["products"]
        assert product["@id"] == _release_purl() == product["identifiers"]["purl"]
        assert product["subcomponents"] and all(
            c["@id"] in sbom for c in product["subcomponents"])  # never the product itself
        assert statement["timestamp"] <= doc["timestamp"]
    again = _exports(database, editor, triaged)["openvex"]
    assert again == doc  # the same triage is the same document: @id and timestamps stable
    with database.transaction() as s:
        vex.set_statement(s, editor, triaged, doc["statements"][0]["vulnerability"]["name"],
                          "exploitable", detail="reachable after all")
        changed = vex.export(s, editor, triaged, "1.8.0", "openvex", author="Acme PSIRT")
    assert changed["@id"] != doc["@id"] and changed["author"] == "Acme PSIRT"


@SQLITE_ONLY
def test_the_three_formats_say_the_same_thing(database: Database, editor: Actor,
                                              triaged: str) -> None:
    findings = _findings(database, editor, triaged)
    exports = _exports(database, editor, triaged)
    assert cyclonedx.validate(json.dumps(exports["cyclonedx"]).encode(), "vex").valid
    report = csaf.validate(json.dumps(exports["csaf"]).encode(), "vex.json")
    assert report.valid, report.failures
    expected = _expected(findings)
    assert {t[3] for t in expected} == {"not_affected", "affected", "fixed", "under_investigation"}
    assert len({t[4] for t in expected}) >= 4  # several justifications, and none
    for fmt, doc in exports.items():
        assert _tuples(doc, findings) == expected, fmt


@SQLITE_ONLY
def test_own_exports_import_without_loss(database: Database, editor: Actor, triaged: str) -> None:
    _assert_round_trip(database, editor, triaged)


def _assert_round_trip(db: Database, actor: Actor, pid: str) -> None:
    before = _findings(db, actor, pid)
    exports = _exports(db, actor, pid)
    exact = {(f["vulnerability"], f["component"]): (f["state"], f["justification"],
                                                    f["responses"], f["detail"]) for f in before}
    for fmt, doc in exports.items():
        with db.transaction() as s:
            summary = import_summary(s, actor, pid, json.dumps(doc).encode(), f"own.{fmt}")
        assert summary["refused"] == [] and summary["imported"] == summary["statements"] > 0, fmt
        after = _findings(db, actor, pid)
        assert _expected(after) == _expected(before), fmt
        if fmt == "cyclonedx":  # the stored vocabulary itself: nothing collapses
            assert {(f["vulnerability"], f["component"]): (
                f["state"], f["justification"], f["responses"], f["detail"]) for f in after} == exact


@SQLITE_ONLY
def test_a_statement_about_something_else_is_refused_alone(database: Database, editor: Actor,
                                                           kb: KnowledgeBase,
                                                           triaged: str) -> None:
    findings = _findings(database, editor, triaged)
    # a finding we have not decided ourselves: an import decides only there (see below)
    good = next(f for f in findings if f["state"] == "in_triage")
    other = findings[-1]
    product = {"@id": _release_purl(), "subcomponents": [{"@id": good["component"]}]}

    def statement(vid: str, products: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {"vulnerability": {"name": vid}, "products": products, "status": "not_affected",
                "justification": "vulnerable_code_not_present", **extra}

    doc = {"@context": vex.OPENVEX_CONTEXT, "@id": "https://supplier.example/vex/1",
           "author": "Supplier", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
           "statements": [
               statement(good["vulnerability"], [product]),
               statement(other["vulnerability"], [{"@id": "pkg:generic/acme/other-product@1"}]),
               statement(other["vulnerability"], [{**product, "subcomponents": [
                   {"@id": "pkg:golang/example.com/not-in-the-sbom@v1.0.0"}]}]),
               statement(other["vulnerability"], [product], justification="because"),
               statement(other["vulnerability"], [{"@id": vex.release_purl(
                   "Acme", ROUTER["name"], "1.6.3"), "subcomponents": [
                   {"@id": good["component"]}]}]),
           ]}
    with database.transaction() as s:
        summary = import_summary(s, editor, triaged, json.dumps(doc).encode(), "supplier.json",
                                 "1.8.0")
    reasons = [r["reason"] for r in summary["refused"]]
    assert summary["imported"] == 1 and len(reasons) == 4, reasons
    assert "product pkg:generic/acme/other-product@1 is unknown here" in reasons[0]
    assert "not-in-the-sbom@v1.0.0 is not in the SBOM" in reasons[1]
    assert "'because' is not an OpenVEX justification" in reasons[2]
    assert "1.6.3, not 1.8.0" in reasons[3]
    assert [r["where"] for r in summary["refused"]] == [f"/statements/{i}" for i in (1, 2, 3, 4)]
    after = {(f["vulnerability"], f["component"]): f for f in _findings(database, editor, triaged)}
    assert after[(good["vulnerability"], good["component"])]["justification"] == "code_not_present"
    assert after[(other["vulnerability"], other["component"])]["state"] == other["state"]


decision = st.one_of(
    st.tuples(st.sampled_from([s for s in STATES if s != "not_affected"]), st.none(),
              st.lists(st.sampled_from(RESPONSES), max_size=2, unique=True),
              st.sampled_from(["", "see the advisory"])),
    st.tuples(st.just("not_affected"), st.sampled_from(JUSTIFICATIONS), st.just([]),
              st.sampled_from(["", "not reachable"])),
    st.tuples(st.just("not_affected"), st.none(), st.just([]), st.just("never called")),
)


@SQLITE_ONLY
@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(choices=st.lists(st.tuples(decision, st.booleans(), st.booleans()), min_size=1,
                        max_size=12))
def test_any_triage_round_trips_through_all_three_formats(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path,
        choices: list[tuple[tuple[str, str | None, list[str], str], bool, bool]]) -> None:
    pid = _product_once(database, editor, kb, osv_dir)
    findings = _findings(database, editor, pid)
    with database.transaction() as s:
        s.execute(delete(VexStatement).where(VexStatement.product_id == pid))
        for f, ((state, justification, responses, detail), per_release, per_component) in zip(
                findings, choices, strict=False):
            vex.set_statement(s, editor, pid, f["vulnerability"], state,
                              justification=justification, responses=responses, detail=detail,
                              release_label="1.8.0" if per_release else None,
                              component=f["component"] if per_component else None)
    findings = _findings(database, editor, pid)
    for fmt, doc in _exports(database, editor, pid).items():
        assert _tuples(doc, findings) == _expected(findings), fmt
    _assert_round_trip(database, editor, pid)


_LOADED: dict[int, str] = {}


def _product_once(db: Database, actor: Actor, kb: KnowledgeBase, osv_dir: Path) -> str:
    """One loaded product per database (hypothesis reuses the test's function-scoped one)."""
    if id(db) not in _LOADED:
        _LOADED[id(db)] = _loaded(db, actor, kb, osv_dir)
    return _LOADED[id(db)]


@extended
@SQLITE_ONLY
def test_round_trip_with_the_full_go_database(database: Database, editor: Actor,
                                              kb: KnowledgeBase, tmp_path: Path) -> None:
    """The same checks on the shared set: both proton-bridge releases' SBOMs, every Go advisory."""
    sbom = SHARED / "sbom" / "cyclonedx" / "SBOM" / "proton-bridge" / "proton-bridge-v1.8.0.bom.json"
    with database.transaction() as s:
        product = products.add_product(s, editor, kb, ROUTER)
        products.add_release(s, editor, product.id, "1.8.0", None, None)
        sbom_import.import_sbom(s, editor, product.id, "1.8.0", sbom.read_bytes(), sbom.name)
        vulns.import_advisories(s, editor, SHARED / "osv" / "go" / "osv")
        pid = product.id
    findings = _findings(database, editor, pid)
    assert len({f["vulnerability"] for f in findings}) > 7
    _triage(database, editor, pid, findings)
    findings = _findings(database, editor, pid)
    for fmt, doc in _exports(database, editor, pid).items():
        assert _tuples(doc, findings) == _expected(findings), fmt
    _assert_round_trip(database, editor, pid)



@SQLITE_ONLY
def test_an_imported_statement_never_overrides_our_decision(database: Database, editor: Actor,
                                                            triaged: str) -> None:
    """The h14 review's F1: our product-wide "exploitable, update" and a supplier's
    component-level "not_affected" on the same vulnerability. Ours decides, the supplier's is a
    conflict on the finding and in the summary (audited), and no export says not_affected."""
    findings = _findings(database, editor, triaged)
    target = next(f for f in findings if f["state"] == "in_triage")
    vid, component = target["vulnerability"], target["component"]
    with database.transaction() as s:
        vex.set_statement(s, editor, triaged, vid, "exploitable", responses=["update"],
                          detail="upgrade")
    doc = {"@context": vex.OPENVEX_CONTEXT, "@id": "https://supplier.example/vex/2",
           "author": "Supplier Inc", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
           "statements": [
               {"vulnerability": {"name": vid}, "products": [{"@id": component}],
                "status": "not_affected", "justification": "vulnerable_code_not_present"},
               {"vulnerability": {"name": vid},
                "products": [{"@id": vex.release_purl("Acme", ROUTER["name"], None)}],
                "status": "not_affected", "justification": "vulnerable_code_not_present"}]}
    with database.transaction() as s:
        summary = import_summary(s, editor, triaged, json.dumps(doc).encode(), "bad.json")
        product_wide = [r for r in vex.statements_for(s, editor, triaged)
                        if r.vulnerability == vid and not r.component_key]
    assert summary["refused"] == [] and len(summary["conflicts"]) == 2
    assert summary["conflicts"][0]["ours"][0]["state"] == "exploitable"
    assert [r.source for r in product_wide] == ["manual"]  # ours at the same scope: kept
    row = next(f for f in _findings(database, editor, triaged)
               if (f["vulnerability"], f["component"]) == (vid, component))
    assert (row["state"], row["decision_source"]) == ("exploitable", "manual")
    assert [(c["state"], c["source"]) for c in row["vex_conflicts"]] == [
        ("not_affected", "bad.json")]
    for fmt, exported in _exports(database, editor, triaged).items():
        said = {t[3] for t in _tuples(exported, findings) if t[2] == vid}
        assert said == {"affected"}, fmt
    with database.transaction() as s:
        events = [e for e in audit.history(s, editor, triaged)
                  if e["action"] == "vex.import-conflict"]
    assert len(events) == 1 and events[0]["after"]["source"] == "bad.json"


def test_openvex_names_an_osv_iri_only_for_ids_osv_serves() -> None:
    """A supplier advisory's id (``FN-SA 2026/002:CVE-…``) has no osv.dev page: the statement
    names it without an ``@id`` rather than with a broken IRI (review h18 F2)."""
    from prodsec.workspace import vex as vex_module

    item = {"aliases": ["CVE-2020-36567"], "component": "pkg:golang/github.com/gin-gonic/gin@v1.4.0"}
    osv = vex_module._openvex_statement("GO-2020-0001", [item], "in_triage", None, "",
                                        "pkg:generic/acme/router@1.0")
    own = vex_module._openvex_statement("FN-SA 2026/002:CVE-2020-36567", [item], "in_triage",
                                        None, "", "pkg:generic/acme/router@1.0")
    assert osv["vulnerability"]["@id"] == "https://osv.dev/vulnerability/GO-2020-0001"
    assert "@id" not in own["vulnerability"]
    assert own["vulnerability"]["name"] == "FN-SA 2026/002:CVE-2020-36567"
