"""``jobs.run_periodic`` (``prodsec jobs run-periodic``): every periodic task once, in this
process, with the functions the worker's periodic jobs call — in an order that delivers in the
same run what it found; on SQLite the queue's housekeeping is skipped; a task that fails is
reported and does not stop the others."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from prodsec import jobs
from prodsec.db.engine import Database
from prodsec.jobs import queue
from prodsec.workspace import feeds, notifications
from prodsec.workspace import vulnerabilities as vulns
from tests.workspace import feed_data as fd
from tests.workspace.conftest import make_actor
from tests.workspace.notify_servers import Receiver, webhook_receiver

FUTURE = dt.date.today() + dt.timedelta(days=5 * 365)


def test_one_run_imports_the_dropped_kev_proposes_and_delivers(
        database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not database.is_sqlite:
        pytest.skip("on PostgreSQL the imports it queues wait for a worker (tests/jobs)")
    monkeypatch.setenv("PRODSEC_WEBHOOK_ALLOW_PRIVATE", "1")
    admin = make_actor(database, "Acme", "admin")
    fd.release(database, admin, "Router", FUTURE)
    with database.transaction() as s:
        vulns.import_advisories(s, admin, fd.osv_dir(tmp_path / "osv"))
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "kev.json").write_bytes(fd.KEV.read_bytes())
    monkeypatch.setenv(feeds.DIR_ENV, str(drop))
    monkeypatch.setenv(feeds.ORG_ENV, "Acme")
    with webhook_receiver(Receiver("a-secret-of-16-chars-or-more")) as hook:
        with database.transaction() as s:
            notifications.add_subscription(s, admin, "webhook", hook.url, ["finding.exploited"],
                                           secret=hook.secret)
        results = jobs.run_periodic(database)
    by_task = {r["task"]: r for r in results}
    assert [r["task"] for r in results] == list(queue.PERIODIC_ORDER)
    assert {t: r["status"] for t, r in by_task.items()} == {
        "prodsec.retry_stalled_jobs": "skipped", "prodsec.watch_feeds": "done",
        "notifications.scan": "done", "notifications.deliver": "done",
        "prodsec.remove_old_jobs": "skipped"}
    assert [f["kind"] for f in by_task["prodsec.watch_feeds"]["detail"]["files"]] == ["kev"]
    assert by_task["notifications.deliver"]["detail"]["delivered"] >= 1
    told = {r["body"]["payload"]["vulnerability"] for r in hook.received}
    assert fd.SALT_CVE in told
    assert jobs.run_periodic(database)[1]["detail"] == {"files": []}  # each file once


def test_a_failing_task_is_reported_and_the_others_run(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(db: Database, **_: Any) -> None:
        raise RuntimeError("the knowledge base could not be read")

    spec = jobs.tasks()["notifications.scan"]
    monkeypatch.setitem(queue._TASKS, spec.name, dataclasses.replace(spec, fn=broken))
    by_task = {r["task"]: r for r in jobs.run_periodic(database)}
    assert by_task["notifications.scan"]["status"] == "failed"
    assert "could not be read" in by_task["notifications.scan"]["detail"]
    assert by_task["notifications.deliver"]["status"] == "done"
    housekeeping = by_task["prodsec.retry_stalled_jobs"]
    if database.is_sqlite:
        assert housekeeping["status"] == "skipped"
    else:  # the worker's own query, run once: nothing is stalled here
        assert housekeeping == housekeeping | {"status": "done", "detail": {"requeued": 0, "failed": 0}}
