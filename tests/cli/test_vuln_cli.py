"""``prodsec sbom`` and ``prodsec csaf`` as a user runs them: exit codes, JSON, no traceback."""

from __future__ import annotations

import json

from tests.cli.test_cli import run
from tests.realdata import DATA


def test_sbom_validate_valid_and_invalid() -> None:
    assert run("sbom", "validate", str(DATA / "sbom/cyclonedx/SBOM/laravel-7.12.0/bom.1.4.xml")).returncode == 0
    bad = run("sbom", "validate", str(DATA / "sbom-conformance/cyclonedx/1.5/invalid-hash-alg-1.5.json"),
              "--format", "json")
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["errors"][0]["location"] == "/components/0/hashes/0/alg"


def test_bad_input_is_a_message_not_a_traceback(tmp_path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"bomFormat": ')
    result = run("sbom", "validate", str(broken))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "broken.json: line 1" in result.stderr


def test_csaf_validate_lists_failed_tests(tmp_path) -> None:
    path = DATA / "csaf-conformance/mandatory/oasis_csaf_tc-csaf_2_0-2021-6-1-02-01.json"
    result = run("csaf", "validate", str(path), "--format", "json")
    assert result.returncode == 2
    failures = json.loads(result.stdout)["failures"]
    assert {"test": "6.1.2", "group": "mandatory"}.items() <= failures[0].items()


def test_sbom_scan_json(tmp_path) -> None:
    advisories = tmp_path / "osv"
    advisories.mkdir()
    (advisories / "GO-2020-0001.json").write_bytes((DATA / "osv/go/osv/GO-2020-0001.json").read_bytes())
    (advisories / "bad.json").write_text("[")
    sbom = DATA / "sbom/cyclonedx/SBOM/proton-bridge/proton-bridge-v1.6.3.bom.json"
    result = run("sbom", "scan", str(sbom), "--advisories", str(advisories), "--format", "json", "--no-cache")
    assert result.returncode == 2  # one advisory file failed, and says so
    assert "bad.json" in result.stderr and "Traceback" not in result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert findings[0]["component"] == "pkg:golang/github.com/gin-gonic/gin@v1.4.0"
    assert findings[0]["vulnerability"] == "GO-2020-0001" and findings[0]["fixed"] == ["1.6.0"]


def test_sbom_scan_json_adds_the_cvss_base_score(tmp_path) -> None:
    """The documented keys stay; ``cvss`` is added, computed from the real advisory's vector."""
    advisories = tmp_path / "osv"
    advisories.mkdir()
    real = DATA / "osv/pypi/vulns/werkzeug/PYSEC-2023-221.yaml"
    (advisories / real.name).write_bytes(real.read_bytes())
    sbom = tmp_path / "bom.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                                "components": [{"type": "library", "name": "werkzeug",
                                                "version": "2.3.7", "bom-ref": "w",
                                                "purl": "pkg:pypi/werkzeug@2.3.7"}]}))
    result = run("sbom", "scan", str(sbom), "--advisories", str(advisories), "--format", "json",
                 "--no-cache")
    assert result.returncode == 0, result.stderr
    [finding] = json.loads(result.stdout)["findings"]
    assert {"component", "vulnerability", "aliases", "fixed"} <= finding.keys()
    assert finding["vulnerability"] == "PYSEC-2023-221" and "2.3.8" in finding["fixed"]
    assert finding["cvss"] == {"version": "3.1", "base_score": 7.5, "base_severity": "HIGH",
                               "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}


def test_findings_table_severity_cell() -> None:
    from prodsec.cli.vuln_workspace import _severity_cell

    cvss = {"version": "3.1", "vector": "CVSS:3.1/...", "base_score": 10.0, "base_severity": "CRITICAL"}
    assert _severity_cell({"cvss": cvss, "severity": "CVSS:3.1/..."}) == "10.0 CRITICAL"
    assert _severity_cell({"cvss": None, "severity": "moderate"}) == "MODERATE"
    assert _severity_cell({"cvss": None, "severity": "CVSS:3.1/AV:N/AC:Q"}) == ""
    assert _severity_cell({"cvss": None, "severity": None}) == ""
