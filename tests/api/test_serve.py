"""``prodsec serve``: the first run on an empty database creates the admin, then uvicorn runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from prodsec.cli.app import app as cli_app
from prodsec.db.engine import open_database
from prodsec.workspace.users import authenticate_password


def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[Any]]:
    import uvicorn

    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "evidence"))
    result = CliRunner().invoke(cli_app, ["serve", "--db", str(tmp_path / "s.db"),
                                          "--port", "8123"])
    assert result.exit_code == 0, result.output
    return result.output, calls


def test_first_serve_prints_a_one_time_password(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODSEC_ADMIN_PASSWORD", raising=False)
    output, calls = serve(tmp_path, monkeypatch)
    password = output.strip().rsplit(" ", 1)[-1]
    assert "admin@localhost" in output and len(password) >= 20
    assert calls[0][1] == {"host": "127.0.0.1", "port": 8123, "log_level": "info",
                           "proxy_headers": False}
    again, _ = serve(tmp_path, monkeypatch)
    assert password not in again  # shown once only
    db = open_database(str(tmp_path / "s.db"))
    with db.transaction() as session:
        actor = authenticate_password(session, "admin@localhost", password)
    db.dispose()
    assert actor is not None and actor.role == "admin"


def test_admin_password_from_the_environment(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODSEC_ADMIN_PASSWORD", "a very secret admin password")
    output, _ = serve(tmp_path, monkeypatch)
    assert "a very secret admin password" not in output
    assert ("created admin@localhost (admin) in organisation 'default' with the password from "
            "PRODSEC_ADMIN_PASSWORD") in output  # the line is logged, the secret never
    again, _ = serve(tmp_path, monkeypatch)
    assert "created" not in again
    db = open_database(str(tmp_path / "s.db"))
    with db.transaction() as session:
        assert authenticate_password(session, "admin@localhost", "a very secret admin password")
    db.dispose()


def test_cli_start_does_not_import_the_web_stack() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom prodsec.cli import app\n"
            "print(','.join(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
