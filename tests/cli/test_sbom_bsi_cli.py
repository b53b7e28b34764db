"""``prodsec sbom quality --bsi``: the TR-03183-2 report, its exit codes, no traceback."""

from __future__ import annotations

import json

from tests.cli.test_cli import run
from tests.realdata import DATA

CONFORMING = DATA / "bsi" / "lhc-vdm-editor.bsi.cdx.json"
ORIGINAL = DATA / "sbom/cyclonedx/SBOM/cern-lhc-vdm-editor-e564943/bom.json"


def test_a_conforming_sbom_exits_0_with_the_clause_table() -> None:
    result = run("sbom", "quality", str(CONFORMING), "--bsi")
    assert result.returncode == 0, result.stderr
    assert "conforms to BSI TR-03183-2 v2.1.0" in result.stdout
    assert "5.2.2" in result.stdout and "CRA Annex I Part II (1)" in result.stdout


def test_a_failing_sbom_exits_1_and_the_json_names_each_component() -> None:
    result = run("sbom", "quality", str(ORIGINAL), "--bsi", "--format", "json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["summary"].startswith("does not conform to BSI TR-03183-2 v2.1.0: format")
    assert len(report["components"]) == 43
    assert report["source"] == str(ORIGINAL)


def test_an_xml_sbom_is_refused_by_name() -> None:
    result = run("sbom", "quality", str(DATA / "sbom/cyclonedx/SBOM/laravel-7.12.0/bom.1.4.xml"),
                 "--bsi")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "reads JSON SBOMs" in result.stderr
