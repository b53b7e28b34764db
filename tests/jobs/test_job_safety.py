"""Jobs that never lose a change, never poison a batch, never loop forever (#17, review h17r).

On the real PostgreSQL queue (procrastinate, in-process workers): a release that fails every
time is split off its rescan batch; a change committed while the rescan that covers it waits
is not lost to a worker that starts that rescan first; a job that kills its worker is failed
after its task's attempts instead of being requeued forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from prodsec import jobs
from prodsec.db.engine import Database
from prodsec.jobs.queue import retry_stalled_jobs
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor
from tests.jobs import synthetic
from tests.jobs.test_queue import NEEDS_POSTGRES, _flagged, _job_rows, _release
from tests.jobs.test_queue import pg as pg  # the fixture
from tests.workspace.conftest import POSTGRES, make_actor

pytestmark = NEEDS_POSTGRES
OOM_WORKER = Path(__file__).with_name("oom_worker.py")


def _run_due(db: Database, rounds: int) -> None:
    """Run a worker until the queue is empty, ``rounds`` times, making waiting retries due
    in between (their backoff would otherwise hold the test for a minute)."""
    for _ in range(rounds):
        jobs.run_worker(db, wait=False)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now() "
                              "WHERE status = 'todo'"))


def _report(db: Database, job_id: int) -> dict[str, Any]:
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT note, error FROM job_reports WHERE job_id = :id"),
                           {"id": job_id}).mappings().one()
    return dict(row)


def _status(db: Database, job_id: int) -> tuple[str, int]:
    with db.engine.connect() as conn:
        status, attempts = conn.execute(text(
            "SELECT status::text, attempts FROM procrastinate_jobs WHERE id = :id"),
            {"id": job_id}).one()
    return str(status), int(attempts)


# ---- 1. a poison release is split off its batch ----------------------------------------------


@pytest.fixture
def poisoned(pg: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Actor, list]]:
    """Four releases of one batch; the third fails every rescan ("bad data")."""
    editor = make_actor(pg, "Acme", "editor")
    made = [_release(pg, editor, 5, f"{i}.0") for i in range(4)]
    poison = sorted(rid for _, rid in made)[2]
    real = vulns.wanted_findings_of

    def failing_for_poison(session: Any, actor: Actor, components: dict[str, Any]) -> Any:
        if poison in components:
            raise RuntimeError(f"release {poison}: bad data")
        return real(session, actor, components)

    monkeypatch.setattr(vulns, "wanted_findings_of", failing_for_poison)
    yield editor, [(pid, rid, rid == poison) for pid, rid in made]


def test_a_failing_release_is_split_off_and_its_batch_rescans_the_others(
        pg: Database, tmp_path: Path, poisoned: tuple[Actor, list]) -> None:
    editor, made = poisoned
    poison = next(rid for _, rid, bad in made if bad)
    with pg.transaction() as s:
        report = vulns.import_advisories(s, editor, synthetic.osv_dir(tmp_path / "osv", 5),
                                         rescan="job")
    assert report.findings == {"releases": 4, "queued": 4}
    jobs.run_worker(pg, wait=False)
    batch, single = _job_rows(pg)
    assert (batch["task_name"], batch["status"], batch["attempts"]) == (
        "findings.rescan_releases", "succeeded", 1)  # one attempt: the others not held up
    assert single["task_name"] == "findings.rescan_release"
    assert single["args"]["release_id"] == poison
    assert f"split off into jobs of their own: {poison}" in _report(pg, batch["id"])["note"]
    for pid, _, bad in made:
        assert _flagged(pg, editor, pid) == (set() if bad else synthetic.expected(5))


def test_the_split_off_release_retries_then_fails_visibly_with_its_error(
        pg: Database, tmp_path: Path, poisoned: tuple[Actor, list]) -> None:
    editor, made = poisoned
    poison = next(rid for _, rid, bad in made if bad)
    with pg.transaction() as s:
        vulns.import_advisories(s, editor, synthetic.osv_dir(tmp_path / "osv", 5), rescan="job")
    _run_due(pg, rounds=7)
    single = _job_rows(pg)[1]
    assert (single["status"], single["attempts"]) == ("failed", 5)
    assert f"RuntimeError: release {poison}: bad data" in _report(pg, single["id"])["error"]
    with pg.transaction() as s:  # a new change of that release is queued, not "already waiting"
        assert vulns.queue_rescans(s, editor, [poison]) == {"releases": 1, "queued": 1}


# ---- 2. a change committed while its rescan waits is not lost --------------------------------


def test_waiting_batch_covering_a_change_cannot_start_before_the_change_commits(
        pg: Database, tmp_path: Path) -> None:
    """T1 queues batch J. T2 (a second advisory change) leaves the release to J; a worker
    that looks for work before T2 commits must not start J (it would read the old
    advisories, succeed, and the release would stay stale)."""
    editor = make_actor(pg, "Acme", "editor")
    made = [_release(pg, editor, 10, f"{i}.0") for i in range(2)]
    with pg.transaction() as s:  # T1: advisories of modules 0-4
        vulns.import_advisories(s, editor, synthetic.osv_dir(tmp_path / "a", 5), rescan="job")
    second = pg.sessions()
    try:  # T2: advisories of modules 0-9; the releases' batch waits: not queued again
        report = vulns.import_advisories(second, editor, synthetic.osv_dir(tmp_path / "b", 10),
                                         rescan="job")
        assert report.findings == {"releases": 2, "queued": 0}
        jobs.run_worker(pg, wait=False)  # before T2 commits
        assert [r["status"] for r in _job_rows(pg)] == ["todo"]
        second.commit()
    finally:
        second.close()
    jobs.run_worker(pg, wait=False)
    assert [r["status"] for r in _job_rows(pg)] == ["succeeded"]
    for pid, _ in made:
        assert _flagged(pg, editor, pid) == synthetic.expected(10)


def test_waiting_release_rescan_held_by_its_queueing_lock_waits_for_the_change(
        pg: Database) -> None:
    """The same race through the queueing lock ``rescan:<id>``: a second SBOM change finds
    the release's rescan waiting (enqueue returns None) and holds it until it commits."""
    editor = make_actor(pg, "Acme", "editor")
    _, rid = _release(pg, editor, 5)
    with pg.transaction() as s:
        job_id = jobs.enqueue(s, "findings.rescan_release", actor=editor, release_id=rid)
    assert job_id is not None
    second = pg.sessions()
    try:
        assert jobs.enqueue(second, "findings.rescan_release", actor=editor,
                            release_id=rid) is None
        jobs.run_worker(pg, wait=False)
        assert _status(pg, job_id)[0] == "todo"
        second.commit()
    finally:
        second.close()
    jobs.run_worker(pg, wait=False)
    assert _status(pg, job_id)[0] == "succeeded"


def test_a_rescan_that_already_started_does_not_cover_a_new_change(pg: Database) -> None:
    """Once the rescan runs, it no longer holds its queueing lock: the change queues its own."""
    editor = make_actor(pg, "Acme", "editor")
    _, rid = _release(pg, editor, 5)
    with pg.transaction() as s:
        first = jobs.enqueue(s, "findings.rescan_release", actor=editor, release_id=rid)
    with pg.engine.begin() as conn:  # a worker has taken it
        conn.execute(text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"),
                     {"id": first})
    with pg.transaction() as s:
        assert vulns.waiting_rescans(s, editor) == set()
        second = jobs.enqueue(s, "findings.rescan_release", actor=editor, release_id=rid)
    assert second is not None and second != first


# ---- 3. a job that kills its worker is not requeued forever ----------------------------------


def _stalled(db: Database, job_id: int, attempts: int) -> None:
    """Make ``job_id`` look taken by a worker that died an hour ago, after ``attempts``."""
    with db.engine.begin() as conn:
        worker = conn.execute(text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                   "VALUES (now() - interval '1 hour') RETURNING id")).scalar()
        conn.execute(text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w, "
                          "attempts = :a WHERE id = :id"),
                     {"w": worker, "a": attempts, "id": job_id})


def test_stalled_job_is_requeued_until_its_last_attempt_then_failed(
        pg: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODSEC_JOBS_STALLED_AFTER", "5")
    editor = make_actor(pg, "Acme", "editor")
    _, rid = _release(pg, editor, 5)
    with pg.transaction() as s:  # findings.rescan_release: 5 attempts
        job_id = jobs.enqueue(s, "findings.rescan_release", actor=editor, release_id=rid)
    assert job_id is not None
    _stalled(pg, job_id, attempts=3)
    assert retry_stalled_jobs(pg) == {"requeued": 1, "failed": 0}
    assert _status(pg, job_id) == ("todo", 4)
    _stalled(pg, job_id, attempts=4)  # its worker died on the fifth attempt too
    assert retry_stalled_jobs(pg) == {"requeued": 0, "failed": 1}
    assert _status(pg, job_id) == ("failed", 5)
    assert "worker died 5 times" in _report(pg, job_id)["error"]
    assert retry_stalled_jobs(pg) == {"requeued": 0, "failed": 0}  # and stays failed


@pytest.mark.slow
def test_a_job_that_kills_its_worker_every_time_fails_after_its_attempts(
        pg: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real workers, really killed: ``tests.oom`` (2 attempts) kills two, then is failed."""
    monkeypatch.setenv("PRODSEC_JOBS_STALLED_AFTER", "1")
    editor = make_actor(pg, "Acme", "editor")
    jobs.TASK_MODULES.append("tests.jobs.oom_worker")
    try:
        with pg.transaction() as s:
            job_id = jobs.enqueue(s, "tests.oom", actor=editor)
    finally:
        jobs.TASK_MODULES.remove("tests.jobs.oom_worker")
    assert job_id is not None
    deaths = 0
    with (tmp_path / "worker.log").open("ab") as log:
        while _status(pg, job_id)[0] != "failed" and deaths < 4:
            worker = subprocess.Popen([sys.executable, str(OOM_WORKER), str(POSTGRES)],
                                      env=os.environ | {"PRODSEC_JOBS_STALLED_AFTER": "1"},
                                      stdout=log, stderr=subprocess.STDOUT)
            assert worker.wait(timeout=60) == -signal.SIGKILL
            deaths += 1
            time.sleep(1.5)  # its heartbeat goes stale
            retry_stalled_jobs(pg)
    assert (deaths, _status(pg, job_id)) == (2, ("failed", 2))
    assert "worker died 2 times" in _report(pg, job_id)["error"]
