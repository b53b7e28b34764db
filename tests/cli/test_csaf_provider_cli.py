"""``prodsec csaf tree`` and ``prodsec csaf ingest`` end to end on an embedded database: author,
publish, write a signed tree, check it, ingest it into another organisation; a tampered tree is
named file by file (exit 2) and a folder that is not a tree is never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prodsec.cli.app import app
from prodsec.errors import ProdsecError
from tests.formats.test_csaf_tree import generate_key
from tests.realdata import DATA
from tests.workspace.vuln_data import SBOM_B, make_osv_dir

ROOT = Path(__file__).resolve().parents[2]
NAME = "Fictinet AX3000 Home Router"
V31 = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"


def test_tree_check_and_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "ev"))
    db = ["--db", str(tmp_path / "w.db")]
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, *db])
        exit_code = (result.exception.exit_code if isinstance(result.exception, ProdsecError)
                     else result.exit_code)
        assert exit_code == code, (args, result.output, result.exception)
        return result.output + (str(result.exception) if result.exception else "")

    for org in ("default", "Beta"):
        run("product", "add", str(ROOT / "examples/products/router.yaml"), "--org", org)
        run("product", "release", NAME, "1.8.0", "--org", org)
        run("sbom", "import", NAME, "1.8.0", str(SBOM_B), "--org", org)
    run("advisories", "import", str(make_osv_dir(tmp_path / "osv")))
    found = json.loads(run("findings", NAME, "1.8.0", "--format", "json"))["findings"]
    vid = found[0]["vulnerability"]
    run("vex", "set", NAME, vid, "exploitable", "--response", "update")
    run("csaf", "author", NAME, "1.8.0", "--tracking-id", "FN-2026-1", "--cvss", f"{vid}={V31}",
        "--output", str(tmp_path / "draft.json"))
    run("csaf", "publish", "FN-2026-1", "--output", str(tmp_path / "published.json"))
    run("csaf", "author", NAME, "1.8.0", "--tracking-id", "FN-2026-G", "--cvss", f"{vid}={V31}",
        "--tlp", "GREEN", "--output", str(tmp_path / "green-draft.json"))
    run("csaf", "publish", "FN-2026-G")
    key = tmp_path / "secret.asc"
    key.write_bytes(generate_key())
    site = tmp_path / "site"
    out = run("csaf", "tree", str(site), "--key", str(key))
    assert "1 advisories" in out and "/.well-known/csaf/provider-metadata.json" in out
    assert "warning: FN-2026-G is TLP:GREEN: left out of the public tree" in out
    assert not (site / ".well-known/csaf/green").exists()
    [doc] = site.glob(".well-known/csaf/white/*/fn-2026-1.json")
    assert doc.read_bytes() == (tmp_path / "published.json").read_bytes()
    assert "0 problems" in run("csaf", "tree", str(site), "--check")

    summary = json.loads(run("csaf", "ingest", str(site), "--json", "--org", "Beta"))
    [advisory] = summary["advisories"]
    assert advisory["tracking_id"] == "FN-2026-1" and advisory["findings"]["added"] >= 1
    beta = json.loads(run("findings", NAME, "1.8.0", "--format", "json", "--org", "Beta"))
    assert [vid in f["aliases"] and f["vulnerability"].startswith("FN-2026-1:")
            for f in beta["findings"]] == [True]

    doc.write_bytes(doc.read_bytes().replace(b"FN-2026-1", b"FN-2026-2", 1))
    out = run("csaf", "tree", str(site), "--check", code=2)
    assert f"white/{doc.parent.name}/fn-2026-1.json.sha512: hash does not match" in out
    out = run("csaf", "ingest", str(site), "--org", "Beta", code=2)
    assert "refused white/" in out and "bad signature" in out

    protected = tmp_path / "protected"
    out = run("csaf", "tree", str(protected), "--access-protected", "--aggregators", "mirror")
    assert "2 advisories" in out and "left out" not in out
    assert ("warning: .well-known/csaf/green/ holds TLP:GREEN/AMBER/RED advisories: serve it "
            "ONLY behind access control") in out
    assert len(list(protected.glob(".well-known/csaf/green/*/fn-2026-g.json"))) == 1
    meta = json.loads((protected / ".well-known/csaf/provider-metadata.json").read_text())
    assert meta["mirror_on_CSAF_aggregators"] is True
    assert "0 problems" in run("csaf", "tree", str(protected), "--check")

    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    out = run("csaf", "tree", str(other), code=2)
    assert "not empty and not a CSAF tree" in out
    assert [p.name for p in other.iterdir()] == ["keep.txt"]


def test_ingest_names_every_skipped_statement(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """An advisory about products no release ships is ingested, and each statement that
    recorded nothing is printed with its JSON location and the reason."""
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "ev"))
    real = DATA / "csaf" / "real" / "cisa" / "va-24-254-01.json"
    result = CliRunner().invoke(app, ["csaf", "ingest", str(real), "--db",
                                      str(tmp_path / "w.db")])
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.output.splitlines() if ": skipped: " in line]
    doc = json.loads(real.read_bytes())
    statuses = sum(len(ids) for v in doc["vulnerabilities"]
                   for ids in v["product_status"].values())
    assert len(skipped) == statuses > 0
    assert skipped[0].startswith("warning: va-24-254-01.json/vulnerabilities/0/product_status/")
    assert "no component of any release is" in skipped[0]
