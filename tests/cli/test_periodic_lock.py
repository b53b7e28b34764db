"""``prodsec jobs run-periodic`` from cron: a run that starts while the last one still runs
exits 0 with "already running" and does nothing, instead of racing it (#17)."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

from tests.cli.test_workspace_cli import ok, run


def test_an_overlapping_run_exits_0_and_does_nothing(tmp_path: Path) -> None:
    assert "prodsec.watch_feeds" in ok(tmp_path, "jobs", "run-periodic")  # makes the workspace
    lock = tmp_path / "ws.db.periodic.lock"
    assert lock.exists()  # next to the database, as docs/jobs.md says
    with lock.open("a") as held:  # the last run, still going
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        table = run(tmp_path, "jobs", "run-periodic")
        as_json = run(tmp_path, "jobs", "run-periodic", "--format", "json")
    assert table.returncode == 0 and "Traceback" not in table.stderr
    assert f"already running: another run holds {lock}; nothing done" in table.stdout
    assert "prodsec.watch_feeds" not in table.stdout
    assert json.loads(as_json.stdout) == {"tasks": [], "already_running": str(lock)}
    again = json.loads(ok(tmp_path, "jobs", "run-periodic", "--format", "json"))
    assert "already_running" not in again and again["tasks"]  # released: the next run runs
