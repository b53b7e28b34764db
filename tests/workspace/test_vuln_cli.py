"""The vulnerability commands end to end on an embedded database, with real data."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prodsec.cli.app import app
from prodsec.errors import ProdsecError
from prodsec.formats import csaf, cyclonedx
from prodsec.workspace.vex import check_openvex
from tests.workspace.vuln_data import SBOM_A, SBOM_B, make_osv_dir

ROOT = Path(__file__).resolve().parents[2]
NAME = "Fictinet AX3000 Home Router"


def test_cli_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "ev"))
    db = ["--db", str(tmp_path / "w.db")]
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, *db])
        exit_code = (result.exception.exit_code if isinstance(result.exception, ProdsecError)
                     else result.exit_code)  # as prodsec.cli.app.run maps them
        assert exit_code == code, (args, result.output, result.exception)
        return result.stdout

    run("product", "add", str(ROOT / "examples/products/router.yaml"))
    for label in ("1.6.3", "1.8.0"):
        run("product", "release", NAME, label)
    run("sbom", "import", NAME, "1.6.3", str(SBOM_A))
    run("sbom", "import", NAME, "1.8.0", str(SBOM_B))
    osv_dir = make_osv_dir(tmp_path / "osv")
    (osv_dir / "broken.json").write_text("[1, 2")
    run("advisories", "import", str(osv_dir), code=2)  # one bad file: reported, rest imported
    found = json.loads(run("findings", NAME, "1.8.0", "--format", "json"))["findings"]
    assert found and all(f["release"] == "1.8.0" for f in found)
    vid = found[0]["vulnerability"]
    run("vex", "set", NAME, vid, "exploitable", "--response", "update")
    page = json.loads(run("triage", NAME, "--release", "1.8.0", "--limit", "3", "--format", "json"))
    assert page["total"] == len(found) and len(page["findings"]) == 3
    mine = json.loads(run("triage", NAME, "--state", "exploitable", "--format", "json"))
    assert {f["vulnerability"] for f in mine["findings"]} == {vid}
    assert "open" in run("triage", NAME, "--fix-available", "yes")
    run("triage", NAME, "--sort", "colour", code=2)
    others = sorted({f["vulnerability"] for f in found} - {vid})[:2]
    assert "2 triage decisions" in run("vex", "set-many", NAME, "not_affected", *others,
                                        "--justification", "code_not_reachable")
    again = json.loads(run("triage", NAME, "--state", "not_affected", "--format", "json"))
    assert {f["vulnerability"] for f in again["findings"]} == set(others)
    diff = json.loads(run("sbom", "diff", NAME, "1.6.3", "1.8.0", "--format", "json"))
    assert any(c["component"].endswith("go-resty/resty/v2") for c in diff["changed"])
    outputs = {}
    for fmt in ("cyclonedx", "openvex", "csaf"):
        target = tmp_path / f"vex.{fmt}.json"
        run("vex", "export", NAME, "1.8.0", "--format", fmt, "--output", str(target))
        outputs[fmt] = target.read_bytes()
    assert cyclonedx.validate(outputs["cyclonedx"], "x").valid
    assert check_openvex(json.loads(outputs["openvex"])) == []
    assert csaf.validate(outputs["csaf"], "x").valid
    supplier = json.loads(outputs["openvex"])
    supplier["statements"].append({"vulnerability": {"name": "CVE-2099-" + "1" * 200},
                                   "products": [{"@id": found[0]["component"]}],
                                   "status": "fixed"})  # an id longer than we store: refused
    (tmp_path / "supplier.json").write_text(json.dumps(supplier))
    supplier["statements"].append({"vulnerability": {"name": vid}, "status": "fixed",
                                   "products": [{"@id": "pkg:generic/elsewhere/router@1"}]})
    (tmp_path / "supplier.json").write_text(json.dumps(supplier))
    result = runner.invoke(app, ["vex", "import", NAME, str(tmp_path / "supplier.json"), *db])
    assert result.exit_code == 2, result.output  # two refused (with reasons), the rest imported
    counts = re.search(r"(\d+) of (\d+) statements imported", result.stdout)
    assert counts and int(counts.group(2)) - int(counts.group(1)) == 2 and int(counts.group(1)) > 0
    assert "/statements/" in result.stderr and "elsewhere/router@1 is unknown here" in result.stderr
    assert "Traceback" not in result.output
    states = {f["vulnerability"]: f["state"]
              for f in json.loads(run("findings", NAME, "1.8.0", "--format", "json"))["findings"]}
    assert states[vid] == "exploitable" and not any(v.startswith("CVE-2099") for v in states)
    advisory = tmp_path / "advisory.json"
    run("csaf", "author", NAME, "1.8.0", "--tracking-id", "ACME-1", "--output", str(advisory),
        "--cvss", f"{vid}=CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N")
    assert runner.invoke(app, ["csaf", "validate", str(advisory)]).exit_code == 0
    published = tmp_path / "published.json"  # the file hashes to the audited SHA-256
    done = runner.invoke(app, ["csaf", "publish", "ACME-1", "--status", "final",
                               "--output", str(published), *db])
    assert done.exit_code == 0, done.output
    sha = re.search(r"sha256 ([0-9a-f]{64})", done.stderr)
    assert sha and hashlib.sha256(published.read_bytes()).hexdigest() == sha.group(1)
    run("csaf", "publish", "ACME-1", "--status", "interim", code=2)  # final never goes back
    case = json.loads(run("case", "open", NAME, "--title", "exploited", "--exploited", vid,
                          "--aware-at", "2026-09-12T08:00Z", "--member-state", "DE",
                          "--format", "json"))
    run("case", "submit", case["id"], "early-warning", "--at", "2026-09-12T20:00Z")
    cases = json.loads(run("case", "list", "--format", "json"))["cases"]
    assert cases[0]["stages"][0]["status"] == "submitted"
    run("case", "close", case["id"], "--advisory", "ACME-1", code=2)  # no final report yet
    assert "intact" in run("audit", "verify")
