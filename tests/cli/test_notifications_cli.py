"""``prodsec notifications`` and ``prodsec support`` end to end (subprocesses on SQLite): a
webhook on 127.0.0.1 receives a support-ending event from ``notifications run``; errors are a
message and exit 2, never a traceback."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.cli.test_cli import ROOT, run
from tests.workspace.notify_servers import Receiver, webhook_receiver

ROUTER = str(ROOT / "examples/products/router.yaml")
NAME = "Fictinet AX3000 Home Router"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PRODSEC_WEBHOOK_ALLOW_PRIVATE", "1")
    path = str(tmp_path / "cli.db")
    assert run("product", "add", ROUTER, "--db", path).returncode == 0
    return path


def test_subscribe_scan_deliver_and_log(db: str) -> None:
    today = dt.date.today()
    placed, end = today - dt.timedelta(days=6 * 365), today + dt.timedelta(days=20)
    assert run("product", "release", NAME, "1.0", "--placed-on-market", placed.isoformat(),
               "--support-end", end.isoformat(), "--db", db).returncode == 0
    with webhook_receiver(Receiver("a-secret-of-16-chars-or-more")) as hook:
        added = run("notifications", "add", "support.ending", "--webhook", hook.url,
                    "--secret", hook.secret, "--support-days", "30", "--db", db,
                    "--format", "json")
        assert added.returncode == 0, added.stderr
        sub = json.loads(added.stdout)
        assert sub["secret"] == hook.secret
        ran = run("notifications", "run", "--db", db, "--format", "json")
        assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"scan": {"organisations": 1, "new_events": 1},
                                      "deliver": {"delivered": 1, "retrying": 0, "failed": 0}}
    (got,) = hook.received
    assert got["signed"] and got["body"]["payload"]["days_left"] == 20
    log = json.loads(run("notifications", "log", "--db", db, "--format", "json").stdout)
    assert [(a["attempt"], a["ok"], a["status"]) for a in log] == [(1, True, "HTTP 200")]
    listed = json.loads(run("notifications", "list", "--db", db, "--format", "json").stdout)
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
    assert run("notifications", "remove", sub["id"], "--db", db).returncode == 0


def test_support_check_and_set(db: str) -> None:
    assert run("product", "release", NAME, "2.0", "--placed-on-market", "2027-01-01",
               "--db", db).returncode == 0
    short = run("support", "set", NAME, "2.0", "--end", "2029-01-01", "--db", db)
    assert short.returncode == 2 and "Traceback" not in short.stderr
    assert "support_end: 24 months, shorter than 5 years" in short.stderr
    ok = run("support", "set", NAME, "2.0", "--end", "2029-01-01", "--expected-use-months", "24",
             "--justification", "a two-season event app", "--db", db, "--format", "json")
    assert ok.returncode == 0, ok.stderr
    checked = json.loads(run("support", "check", NAME, "--db", db, "--format", "json").stdout)
    assert checked["releases"][0]["check"]["status"] == "ok-short"


@pytest.mark.parametrize(("args", "error"), [
    (["notifications", "add", "support.ending"], "exactly one of --webhook URL or --email"),
    (["notifications", "add", "nonsense", "--email", "a@example.com"], "kinds: nonsense"),
    (["notifications", "add", "support.ending", "--webhook", "https://user:pw@example.com/"],
     "must not carry credentials"),
    (["notifications", "remove", "0" * 32], "no subscription"),
])
def test_errors_are_messages(db: str, args: list[str], error: str) -> None:
    result = run(*args, "--db", db)
    assert result.returncode == 2, result.stderr
    assert error in result.stderr and "Traceback" not in result.stderr


def test_private_urls_need_the_switch(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODSEC_WEBHOOK_ALLOW_PRIVATE")
    result = run("notifications", "add", "support.ending", "--webhook", "https://127.0.0.1/x",
                 "--db", db)
    assert result.returncode == 2 and "loopback, private" in result.stderr
