"""``prodsec product edit|archive|restore|delete``: the verdict diff before a save, the
version as --if-version, the archive's read-only state, a delete that says what it removes
and only acts with --yes. Errors exit 2 without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.test_workspace_cli import ROOT, ROUTER, ok, run


def _us_only(tmp: Path) -> Path:
    profile = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
    path = tmp / "router-us.yaml"
    path.write_text(yaml.safe_dump(profile | {"markets": ["US"]}))
    return path


def test_edit_dry_run_then_save_with_version(tmp_path: Path) -> None:
    ok(tmp_path, "product", "add", "examples/products/router.yaml")
    edited = _us_only(tmp_path)
    dry = json.loads(ok(tmp_path, "product", "edit", ROUTER, str(edited), "--dry-run",
                        "--as-of", "2026-11-27", "--format", "json"))
    cra = next(c for c in dry["changes"] if c["regulation"] == "eu-cra")
    assert {"field": "status", "from": "required", "to": "not-applicable"} in cra["fields"]
    assert "saved_version" not in dry
    table = ok(tmp_path, "product", "edit", ROUTER, str(edited), "--dry-run")
    assert "eu-cra" in table and "not saved (--dry-run)" in table
    assert [a["field"] for a in dry["answers"]] == ["markets"] and dry["answers"][0]["to"] == "US"
    assert "Answers changed" in table
    stale = run(tmp_path, "product", "edit", ROUTER, str(edited), "--if-version", "7")
    assert stale.returncode == 2 and "changed since version 7" in stale.stderr
    assert "Traceback" not in stale.stderr
    saved = json.loads(ok(tmp_path, "product", "edit", ROUTER, str(edited), "--if-version", "1",
                          "--format", "json"))
    assert saved["saved_version"] == 2
    listed = json.loads(ok(tmp_path, "product", "list", "--format", "json"))
    assert listed["items"][0]["profile"]["markets"] == ["US"]


def test_archive_restore_and_delete(tmp_path: Path) -> None:
    ok(tmp_path, "product", "add", "examples/products/router.yaml")
    assert "archived (version 2)" in ok(tmp_path, "product", "archive", ROUTER)
    refused = run(tmp_path, "product", "release", ROUTER, "1.0")
    assert refused.returncode == 2 and "archived (read-only)" in refused.stderr
    assert "restored (version 3)" in ok(tmp_path, "product", "restore", ROUTER)
    ok(tmp_path, "product", "release", ROUTER, "1.0")
    asked = run(tmp_path, "product", "delete", ROUTER)
    assert asked.returncode == 2 and "re-run with --yes" in asked.stderr
    assert "releases" in asked.stdout and "kept" in asked.stdout
    deleted = json.loads(ok(tmp_path, "product", "delete", ROUTER, "--yes", "--format", "json"))
    assert deleted["deleted"] and deleted["removed"]["releases"] == 1
    assert json.loads(ok(tmp_path, "product", "list", "--format", "json"))["total"] == 0
    assert "audit trail intact" in ok(tmp_path, "audit", "verify")
