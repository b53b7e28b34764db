"""Passwords from the command line: reset (admin), redeem with the secret, change."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW, NEWER = "amber lantern over quiet fjords", "violet kettle under the stairs", \
    "seven quiet lanterns by the sea"


def run(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PRODSEC_DATA_DIR": str(tmp / "data")}
    env.pop("PRODSEC_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "prodsec", *args, "--db", str(tmp / "ws.db")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
                          input=stdin)


def test_reset_redeem_change(tmp_path: Path) -> None:
    made = run(tmp_path, "user", "create", "ann@acme.example", "--org", "Acme",
               "--password-stdin", stdin=f"{OLD}\n")
    assert made.returncode == 0, made.stderr
    short = run(tmp_path, "user", "create", "bob@acme.example", "--org", "Acme",
                "--password-stdin", stdin="twelve chars\n")
    assert short.returncode == 2 and "at least 15" in short.stderr
    assert "Traceback" not in short.stderr
    reset = run(tmp_path, "user", "reset", "ann@acme.example", "--org", "Acme")
    assert reset.returncode == 0, reset.stderr
    secret = re.search(r"^(psr_\S+)$", reset.stdout, re.MULTILINE)
    assert secret
    redeemed = run(tmp_path, "user", "redeem", "--password-stdin", stdin=f"{secret[1]}\n{NEW}\n")
    assert redeemed.returncode == 0, redeemed.stderr
    wrong = run(tmp_path, "user", "password", "ann@acme.example", "--org", "Acme",
                "--password-stdin", stdin=f"{OLD}\n{NEWER}\n")
    assert wrong.returncode == 2 and "current_password" in wrong.stderr
    changed = run(tmp_path, "user", "password", "ann@acme.example", "--org", "Acme",
                  "--password-stdin", stdin=f"{NEW}\n{NEWER}\n")
    assert changed.returncode == 0, changed.stderr
    trail = run(tmp_path, "audit", "verify", "--org", "Acme")
    assert trail.returncode == 0, trail.stderr
