"""Side-by-side comparison of two products built from real data: a router whose release carries
the proton-bridge SBOM and the real Go advisories, a camera with one requirement met and proved."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from prodsec.cli.app import app
from prodsec.core.applicability import Engine
from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.profile import parse_profile
from prodsec.db.engine import Database
from prodsec.documents import comparison
from prodsec.errors import ProdsecError
from prodsec.workspace import compliance, products, sbom_import, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor, NotFound, ValidationFailed
from tests.workspace.vuln_data import SBOM_B, make_osv_dir

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
CAMERA = yaml.safe_load((ROOT / "examples/products/camera.yaml").read_text())
AS_OF = dt.date(2026, 11, 27)
MET = "uk-psti:schedule-1:1"


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def _two_products(db: Database, actor: Actor, kb: KnowledgeBase, osv_dir: Path) -> tuple[str, str]:
    with db.transaction() as s:
        router = products.add_product(s, actor, kb, ROUTER)
        products.add_release(s, actor, router.id, "1.8.0", dt.date(2026, 1, 5),
                             dt.date(2031, 1, 5), "five years")
        sbom_import.import_sbom(s, actor, router.id, "1.8.0", SBOM_B.read_bytes(), SBOM_B.name)
        vulns.import_advisories(s, actor, osv_dir)
        first = vulns.list_findings(s, actor, router.id, "1.8.0")[0]
        vex.set_statement(s, actor, router.id, first["vulnerability"], "not_affected",
                          justification="code_not_reachable")
        camera = products.add_product(s, actor, kb, CAMERA)
        products.assess(s, actor, kb, camera.id, AS_OF)
        status = compliance.find_status(s, actor, camera.id, MET)
        compliance.set_status(s, actor, status, "met", None, None)
        for title, expires in (("password policy", None), ("old pentest", dt.date(2026, 1, 1))):
            item = compliance.add_evidence(s, actor, db.evidence_dir, title,
                                           stream=io.BytesIO(title.encode()), filename="e.txt",
                                           expires_on=expires)
            compliance.link_evidence(s, actor, item, status=status)
        return router.id, camera.id


def _rows(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {row["key"]: row["cells"] for aspect in data["aspects"] for row in aspect["rows"]}


def test_cells_differ_where_the_products_differ(database: Database, editor: Actor, viewer: Actor,
                                                kb: KnowledgeBase, osv_dir: Path) -> None:
    router_id, camera_id = _two_products(database, editor, kb, osv_dir)
    with database.transaction() as s:
        findings = vulns.list_findings(s, editor, router_id, "1.8.0")
        data = comparison.compare(s, viewer, kb, [router_id, CAMERA["name"]], AS_OF)
    assert [p["id"] for p in data["products"]] == [router_id, camera_id]
    assert [a["aspect"] for a in data["aspects"]] == ["identity", "promise", "proof",
                                                      "vulnerabilities"]
    rows = _rows(data)
    router, camera = 0, 1
    assert rows["latest_release"][router]["value"] == "1.8.0"
    assert rows["latest_release"][camera]["value"] == comparison.ABSENT
    assert rows["support_end"][router]["value"] == "2031-01-05"
    assert rows["support_end"][camera]["value"] == comparison.ABSENT
    # the CRA class of each comes from the applicability engine, per product
    verdicts = {p: {v.regulation: v for v in Engine(kb).check(
        parse_profile(profile, kb.vocabulary, "x"), AS_OF).results}
        for p, profile in (("router", ROUTER), ("camera", CAMERA))}
    assert rows["cra_class"][router]["value"] == verdicts["router"]["eu-cra"].category
    assert rows["cra_class"][camera]["value"] == verdicts["camera"]["eu-cra"].category
    assert rows["instrument:eu-cra"][router]["value"] == verdicts["router"]["eu-cra"].status
    # proof: only the camera was assessed, with one requirement met and two pieces of evidence
    psti = rows["progress:uk-psti"]
    assert psti[router]["value"] == "not assessed"
    done, total = map(int, psti[camera]["value"].split("/"))
    assert done == 1 and total > 1 and psti[camera]["note"].startswith(f"{total - 1} open")
    assert [c["value"] for c in rows["evidence"]] == [0, 2]
    assert [c["value"] for c in rows["evidence_expired"]] == [0, 1]
    assert [c["value"] for c in rows["eu_declaration"]] == ["no", "no"]
    # vulnerability handling: the router's SBOM and findings, nothing for the camera
    components = len(json.loads(SBOM_B.read_text())["components"])
    assert rows["components"][router]["value"] == components
    assert rows["components"][camera]["value"] == "—"
    assert rows["sbom"][camera]["value"] == "no release"
    assert isinstance(rows["sbom_quality"][router]["value"], float)
    assert rows["findings"][router]["value"] == len(findings) > 10
    assert rows["findings_not_affected"][router]["value"] == 1
    assert rows["findings_in_triage"][router]["value"] == len(findings) - 1
    scores = [f["cvss"]["base_score"] for f in findings if f["cvss"]]
    assert rows["highest_cvss"][router]["value"] == (max(scores) if scores else "—")
    assert [c["value"] for c in rows["csaf_advisories"]] == [0, 0]
    assert all(c["source"] for cells in rows.values() for c in cells)


def test_other_organisations_products_are_unknown(database: Database, editor: Actor,
                                                  outsider: Actor, kb: KnowledgeBase,
                                                  osv_dir: Path) -> None:
    router_id, camera_id = _two_products(database, editor, kb, osv_dir)
    with database.transaction() as s:
        with pytest.raises(NotFound) as foreign:
            comparison.compare(s, outsider, kb, [router_id, camera_id], AS_OF)
        with pytest.raises(NotFound) as unknown:
            comparison.compare(s, outsider, kb, ["0" * 32, camera_id], AS_OF)
        assert str(foreign.value).replace(router_id, "X") == str(unknown.value).replace("0" * 32, "X")
        with pytest.raises(ValidationFailed):
            comparison.compare(s, editor, kb, [router_id], AS_OF)
        with pytest.raises(ValidationFailed):
            comparison.compare(s, editor, kb, [router_id, ROUTER["name"]], AS_OF)


def test_cli_compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "ev"))
    db = ["--db", str(tmp_path / "w.db")]
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, [*args, *db])
        exit_code = (result.exception.exit_code if isinstance(result.exception, ProdsecError)
                     else result.exit_code)
        assert exit_code == code, (args, result.output, result.exception)
        return result

    for name in ("router", "camera"):
        run("product", "add", str(ROOT / f"examples/products/{name}.yaml"))
    run("product", "release", ROUTER["name"], "1.8.0")
    run("sbom", "import", ROUTER["name"], "1.8.0", str(SBOM_B))
    data = json.loads(run("compare", ROUTER["name"], CAMERA["name"], "--as-of", "2026-11-27",
                          "--format", "json").stdout)
    assert [p["name"] for p in data["products"]] == [ROUTER["name"], CAMERA["name"]]
    cells = _rows(data)["components"]
    assert cells[0]["value"] == len(json.loads(SBOM_B.read_text())["components"])
    assert cells[1]["value"] == "—"
    table = run("compare", ROUTER["name"], CAMERA["name"]).stdout
    assert "Vulnerability handling" in table and CAMERA["name"] in table
    markdown = run("compare", ROUTER["name"], CAMERA["name"], "--format", "markdown").stdout
    assert f"|  | {ROUTER['name']} | {CAMERA['name']} |" in markdown
    single = run("compare", ROUTER["name"], code=2)
    assert "at least two" in str(single.exception)
    unknown = run("compare", ROUTER["name"], "No Such Thing", code=2)
    assert "No Such Thing" in str(unknown.exception)
