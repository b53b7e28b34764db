"""Passwords from the command line: reset (admin), redeem with the secret, change."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_devices_listed_and_revoked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``prodsec user devices``: the devices a sign-in remembered, and one revoked by id."""
    from sqlalchemy import select

    from prodsec.db.engine import open_database
    from prodsec.db.models import User
    from prodsec.workspace import devices
    from prodsec.workspace.users import actor_for

    made = run(tmp_path, "user", "create", "ann@acme.example", "--org", "Acme",
               "--password-stdin", stdin=f"{OLD}\n")
    assert made.returncode == 0, made.stderr
    assert "no remembered devices" in run(tmp_path, "user", "devices", "ann@acme.example",
                                          "--org", "Acme").stdout
    monkeypatch.setenv("PRODSEC_SECRET_KEY", "k" * 40)  # what a sign-in would do
    database = open_database(str(tmp_path / "ws.db"))
    with database.transaction() as session:
        user = session.scalar(select(User).where(User.email == "ann@acme.example"))
        assert user is not None
        devices.remember(session, actor_for(session, user), "Phone")
    database.dispose()
    listed = run(tmp_path, "user", "devices", "ann@acme.example", "--org", "Acme")
    assert listed.returncode == 0 and "Phone" in listed.stdout, listed.stderr
    device = listed.stdout.split()[0]
    unknown = run(tmp_path, "user", "devices", "ann@acme.example", "--org", "Acme",
                  "--revoke", "0" * 64)
    assert unknown.returncode != 0 and "no device" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    revoked = run(tmp_path, "user", "devices", "ann@acme.example", "--org", "Acme",
                  "--revoke", device)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    assert "no remembered devices" in run(tmp_path, "user", "devices", "ann@acme.example",
                                          "--org", "Acme").stdout


def test_user_commands_find_members_of_the_named_organisation_only(tmp_path: Path) -> None:
    """``user reset`` with ``--org Globex`` on Acme's member: "no user", exit 2, nothing reset.
    The command ran its own ``select(User)`` by e-mail in every organisation before
    (``workspace.users.member_by_email`` holds the tenancy now)."""
    for org, email in (("Acme", "ann@acme.example"), ("Globex", "bob@globex.example")):
        made = run(tmp_path, "user", "create", email, "--org", org, "--password-stdin",
                   stdin=f"{OLD}\n")
        assert made.returncode == 0, made.stderr
    for words in (("reset",), ("devices",)):
        other = run(tmp_path, "user", *words, "ann@acme.example", "--org", "Globex")
        assert other.returncode == 2, other.stdout
        assert "no user 'ann@acme.example' in this organisation" in other.stderr
        assert "Traceback" not in other.stderr
    own = run(tmp_path, "user", "reset", "ann@acme.example", "--org", "Acme")
    assert own.returncode == 0, own.stderr
