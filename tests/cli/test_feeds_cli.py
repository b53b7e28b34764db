"""``prodsec feeds`` and ``prodsec case proposed|confirm|dismiss`` as a user runs them, on an
embedded SQLite file: the watched folder looked at once, the priority order, a proposal
confirmed into a case; a refused file exits non-zero with the reason and no traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.cli.test_workspace_cli import ROUTER, ok, run
from tests.workspace import feed_data as fd


def _router_shipping_salt(tmp_path: Path) -> None:
    """The router with a supported release 1.0 whose SBOM names salt 3000."""
    ok(tmp_path, "product", "add", "examples/products/router.yaml")
    ok(tmp_path, "product", "release", ROUTER, "1.0", "--support-end", "2031-12-31",
       "--rationale", "expected use")
    sbom = tmp_path / "sbom.json"
    sbom.write_bytes(fd.sbom(("salt", "3000")))
    ok(tmp_path, "sbom", "import", ROUTER, "1.0", str(sbom))


def test_watch_once_findings_by_priority_and_confirm(tmp_path: Path) -> None:
    _router_shipping_salt(tmp_path)
    ok(tmp_path, "advisories", "import", str(fd.osv_dir(tmp_path / "osv")))
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "kev.json").write_bytes(fd.KEV.read_bytes())
    (drop / "epss.csv").write_bytes(fd.epss_csv("2025-09-03", {fd.SALT_CVE: 0.97}))
    (drop / "junk.txt").write_text("hello")
    watched = run(tmp_path, "feeds", "watch", str(drop), "--once")
    assert watched.returncode == 1 and "Traceback" not in watched.stderr
    assert "junk.txt: refused: " in watched.stdout and "proposed" in watched.stdout
    again = run(tmp_path, "feeds", "watch", str(drop), "--once")
    assert again.returncode == 0 and again.stdout == ""  # each file once
    rows = json.loads(ok(tmp_path, "findings", ROUTER, "--sort", "priority", "--format", "json"))
    first = rows["findings"][0]
    assert first["priority"] == 1 and first["exploited"]["source"] == "kev"
    assert fd.SALT_CVE in first["aliases"] and first["epss"] == 0.97
    waiting = json.loads(ok(tmp_path, "cases", "proposed", "--format", "json"))["proposals"]
    salt = next(p for p in waiting if p["vulnerability"] == fd.SALT_CVE)
    case = json.loads(ok(tmp_path, "case", "confirm", salt["id"], "--aware-at",
                         "2026-11-30T10:00Z", "--format", "json"))
    assert case["aware_at"].startswith("2026-11-30T10:00") and case["vulnerability"] == fd.SALT_CVE
    refused = run(tmp_path, "case", "confirm", salt["id"], "--aware-at", "2026-11-30T10:00Z")
    assert refused.returncode != 0 and "was confirmed" in refused.stderr
    runs = json.loads(ok(tmp_path, "feeds", "runs", "--format", "json"))["runs"]
    assert {r["filename"]: r["status"] for r in runs} == {
        "kev.json": "imported", "epss.csv": "imported", "junk.txt": "refused"}


def test_refused_feed_file_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    cut = tmp_path / "kev.json"
    cut.write_bytes(fd.KEV.read_bytes()[:3000])
    result = run(tmp_path, "feeds", "import", str(cut))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "kev.json" in result.stderr
    wrong = run(tmp_path, "feeds", "import", str(fd.KEV), "--kind", "epss")
    assert wrong.returncode != 0 and "expected a FIRST EPSS" in wrong.stderr
    assert json.loads(ok(tmp_path, "feeds", "runs", "--format", "json"))["runs"] == []


def test_advisories_import_with_kev_is_the_feed_import(tmp_path: Path) -> None:
    """``advisories import --kev`` records a feed import, proposes the case and emits its
    notification event like ``feeds import``; the same catalogue again is skipped with the
    reason while the advisories are still imported."""
    _router_shipping_salt(tmp_path)
    osv = fd.osv_dir(tmp_path / "osv")
    out = ok(tmp_path, "advisories", "import", str(osv), "--kev", str(fd.KEV))
    assert f"{fd.KEV.name} (" in out and "48 new known-exploited CVEs" in out
    assert "Article 14 case(s) proposed" in out
    runs = json.loads(ok(tmp_path, "feeds", "runs", "--format", "json"))["runs"]
    assert [(r["kind"], r["filename"], r["counts"]["new"]) for r in runs] == [
        ("kev", fd.KEV.name, 48)]
    waiting = json.loads(ok(tmp_path, "cases", "proposed", "--format", "json"))["proposals"]
    assert fd.SALT_CVE in {p["vulnerability"] for p in waiting}
    with sqlite3.connect(tmp_path / "ws.db") as db:
        events = [json.loads(p)["vulnerability"] for (p,) in db.execute(
            "SELECT payload FROM notification_events WHERE kind = 'finding.exploited'")]
    assert fd.SALT_CVE in events
    again = json.loads(ok(tmp_path, "advisories", "import", str(osv), "--kev", str(fd.KEV),
                          "--format", "json"))
    assert again["files"] > 0 and "already imported" in again["kev"]["skipped"]
    assert len(json.loads(ok(tmp_path, "feeds", "runs", "--format", "json"))["runs"]) == 1
    bad = tmp_path / "kev.json"
    bad.write_bytes(b'{"vulnerabilities": []}')
    refused = run(tmp_path, "advisories", "import", str(osv), "--kev", str(bad))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "kev.json: not a feed prodsec reads" in refused.stderr


def test_jobs_run_periodic_watches_the_feed_folder_on_sqlite(tmp_path: Path,
                                                            monkeypatch: Any) -> None:
    """The cron line of docs/jobs.md: PRODSEC_FEEDS_DIR set, one run imports the new file."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "kev.json").write_bytes(fd.KEV.read_bytes())
    monkeypatch.setenv("PRODSEC_FEEDS_DIR", str(drop))
    table = ok(tmp_path, "jobs", "run-periodic")
    assert "prodsec.watch_feeds" in table and "notifications.deliver" in table
    assert "SQLite has no job queue" in table
    runs = json.loads(ok(tmp_path, "feeds", "runs", "--format", "json"))["runs"]
    assert [(r["filename"], r["status"]) for r in runs] == [("kev.json", "imported")]
    (drop / "junk.txt").write_text("not a feed")  # refused by its content, remembered
    assert "junk.txt: refused: " in ok(tmp_path, "jobs", "run-periodic")
    (drop / "cut.json").write_bytes(fd.KEV.read_bytes()[:3000])  # a KEV file whose import fails
    again = run(tmp_path, "jobs", "run-periodic", "--format", "json")
    assert again.returncode == 1 and "Traceback" not in again.stderr
    failed = [t for t in json.loads(again.stdout)["tasks"] if t["status"] == "failed"]
    assert [t["task"] for t in failed] == ["prodsec.watch_feeds"]
    assert "cut.json" in failed[0]["detail"]
