"""The workspace from the command line, on an embedded SQLite file, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUTER = "Fictinet AX3000 Home Router"


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PRODSEC_DATA_DIR": str(tmp / "data")}
    env.pop("PRODSEC_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "prodsec", *args, "--db", str(tmp / "ws.db")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def ok(tmp: Path, *args: str) -> str:
    result = run(tmp, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_add_assess_status_gaps_audit(tmp_path: Path) -> None:
    ok(tmp_path, "product", "add", "examples/products/router.yaml")
    ok(tmp_path, "assess", ROUTER, "--as-of", "2026-11-27")
    before = json.loads(ok(tmp_path, "gaps", ROUTER, "--as-of", "2026-11-27", "--format", "json"))
    evidence = tmp_path / "pentest.txt"
    evidence.write_text("password test passed")
    ok(tmp_path, "status", ROUTER, "uk-psti:schedule-1:1", "--set", "met",
       "--evidence", str(evidence), "--expires", "2026-12-01")
    after = json.loads(ok(tmp_path, "gaps", ROUTER, "--as-of", "2026-11-27", "--format", "json"))
    psti = {i["regulation"]: i for i in before["instruments"]}["uk-psti"]
    psti_after = {i["regulation"]: i for i in after["instruments"]}["uk-psti"]
    assert psti_after["done"] == psti["done"] + 1
    assert after["expiring_evidence"][0]["title"] == "pentest.txt"
    assert "audit trail intact" in ok(tmp_path, "audit", "verify")


def test_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    ok(tmp_path, "product", "add", "examples/products/router.yaml")
    again = run(tmp_path, "product", "add", "examples/products/router.yaml")
    assert again.returncode == 2 and "exists already" in again.stderr
    missing = run(tmp_path, "assess", "No Such Product")
    assert missing.returncode == 2 and "no product 'No Such Product'" in missing.stderr
    ok(tmp_path, "assess", ROUTER)
    na = run(tmp_path, "status", ROUTER, "uk-psti:schedule-1:1", "--set", "not-applicable")
    assert na.returncode == 2 and "justification" in na.stderr
    bad = run(tmp_path, "status", ROUTER, "uk-psti:schedule-1:1", "--set", "done")
    assert bad.returncode == 2 and "expected one of" in bad.stderr
    gone = run(tmp_path, "status", ROUTER, "uk-psti:schedule-1:1", "--set", "met",
               "--evidence", str(tmp_path / "nope.pdf"))
    assert gone.returncode == 2 and "no such file" in gone.stderr
    for result in (again, missing, na, bad, gone):
        assert "Traceback" not in result.stderr
    # the failed status change with unreadable evidence left nothing behind
    gaps = json.loads(ok(tmp_path, "gaps", ROUTER, "--format", "json"))
    psti = {i["regulation"]: i for i in gaps["instruments"]}["uk-psti"]
    assert psti["by_status"].get("met", 0) == 0


def test_article14_stages_in_order_with_report_and_pdf(tmp_path: Path) -> None:
    """Out of order: exit 2 with the reason, no traceback. The draft file, completed, is the
    report; ``case report`` hands out the JSON whose SHA-256 ``case submit`` printed, and a PDF."""
    import hashlib

    ok(tmp_path, "product", "add", "examples/products/router.yaml")
    opened = json.loads(ok(tmp_path, "case", "open", ROUTER, "--title", "jwt bypass exploited",
                           "--exploited", "CVE-2020-26160", "--member-state", "DE",
                           "--format", "json"))
    case = opened["id"]
    early = run(tmp_path, "case", "submit", case, "notification")
    assert early.returncode == 2 and "Traceback" not in early.stderr
    assert "out of order: the early-warning" in early.stderr
    draft = json.loads(ok(tmp_path, "case", "draft", case, "notification",
                          "--include", "early-warning"))
    assert draft["to_complete"][:2] == ["nature_of_exploit", "nature_of_vulnerability"]
    draft["content"] |= {"nature_of_exploit": "crafted token", "nature_of_vulnerability":
                         "audience check bypass", "corrective_measures_taken": "none yet",
                         "user_measures": "disable remote administration"}
    path = tmp_path / "notification.json"
    path.write_text(json.dumps(draft))
    sent = ok(tmp_path, "case", "submit", case, "notification", "--include", "early-warning",
              "--content", str(path))
    sha = sent.split("sha256 of the report ")[1].strip()
    report = run(tmp_path, "case", "report", case, "early-warning")
    assert hashlib.sha256(report.stdout.encode()).hexdigest() == sha  # exactly, no newline
    saved = tmp_path / "early-warning.json"
    ok(tmp_path, "case", "report", case, "early-warning", "-o", str(saved))
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == sha
    pdf = tmp_path / "notification.pdf"
    ok(tmp_path, "case", "report", case, "notification", "--format", "pdf", "-o", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
