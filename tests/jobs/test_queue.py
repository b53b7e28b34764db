"""The job queue on the real PostgreSQL (procrastinate, real workers) and on SQLite (in-process).

PostgreSQL tests need PRODSEC_TEST_POSTGRES_URL; the SQLite ones always run."""

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
import yaml
from sqlalchemy import text

from prodsec import jobs
from prodsec.db.engine import Database, open_database
from prodsec.services.knowledge import knowledge_base
from prodsec.workspace import jobs as job_views
from prodsec.workspace import products, sbom_import, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor, Conflict, NotFound, PermissionDenied
from tests.jobs import synthetic
from tests.workspace.conftest import POSTGRES, make_actor, reset_postgres

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
NEEDS_POSTGRES = pytest.mark.skipif(not POSTGRES, reason="PRODSEC_TEST_POSTGRES_URL not set")

CALLS: list[dict[str, Any]] = []


@jobs.task("tests.record", max_attempts=1)
def record(db: Database, **kwargs: Any) -> None:
    CALLS.append(kwargs)


@jobs.task("tests.always_fails", max_attempts=2)
def always_fails(db: Database, **kwargs: Any) -> None:
    raise RuntimeError("the feed server answered 503")


@pytest.fixture
def pg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    assert POSTGRES
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "evidence"))
    reset_postgres(POSTGRES)
    db = open_database(POSTGRES)
    yield db
    db.dispose()


@pytest.fixture
def lite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "evidence"))
    db = open_database(str(tmp_path / "test.db"))
    yield db
    db.dispose()


def _release(db: Database, actor: Actor, n: int, label: str = "1.0") -> tuple[str, str]:
    """A product with one release whose SBOM has ``n`` synthetic modules (no rescan yet)."""
    with db.transaction() as s:
        product = products.add_product(s, actor, knowledge_base(), ROUTER | {"name": f"R{label}"})
        release = products.add_release(s, actor, product.id, label, None, None)
        sbom_import.import_sbom(s, actor, product.id, label, synthetic.sbom(n), "sbom.json")
        return product.id, release.id


def _job_rows(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as c:
        return [dict(r) for r in c.execute(text(
            "SELECT id, task_name, status::text AS status, attempts, args FROM procrastinate_jobs"
            " WHERE task_name NOT LIKE 'prodsec.%' AND task_name NOT LIKE 'notifications.%'"
            " ORDER BY id")).mappings()]  # the periodic system jobs are not the test's


def _flagged(db: Database, actor: Actor, pid: str) -> set[str]:
    with db.transaction() as s:
        return {f["component"].split("@")[0].removeprefix("pkg:golang/")
                for f in vulns.list_findings(s, actor, pid)}


# ---- PostgreSQL: enqueue in the caller's transaction -----------------------------------------


@NEEDS_POSTGRES
def test_a_rolled_back_change_enqueues_nothing(pg: Database) -> None:
    editor = make_actor(pg, "Acme", "editor")
    pid, rid = _release(pg, editor, 5)
    with pytest.raises(RuntimeError), pg.transaction() as s:
        jobs.enqueue(s, "findings.rescan_release", actor=editor, release_id=rid)
        assert len(_job_rows(pg)) == 0  # not visible to others before the commit either
        raise RuntimeError("the change fails after the job was queued")
    assert _job_rows(pg) == []
    with pg.transaction() as s:
        job_id = jobs.enqueue(s, "findings.rescan_release", actor=editor, release_id=rid)
        # the same rescan waiting already: not queued twice, and the transaction goes on
        assert jobs.enqueue(s, "findings.rescan_release", actor=editor, release_id=rid) is None
        products.add_release(s, editor, pid, "2.0", None, None)
    rows = _job_rows(pg)
    assert [r["id"] for r in rows] == [job_id]
    assert rows[0]["args"]["org_id"] == editor.org_id and rows[0]["status"] == "todo"


@NEEDS_POSTGRES
def test_advisory_change_rescans_only_releases_with_an_affected_package(pg: Database,
                                                                        tmp_path: Path) -> None:
    editor = make_actor(pg, "Acme", "editor")
    hit, _ = _release(pg, editor, 20, "1.0")
    with pg.transaction() as s:  # a second product whose modules no advisory names
        product = products.add_product(s, editor, knowledge_base(), ROUTER | {"name": "Other"})
        products.add_release(s, editor, product.id, "9.9", None, None)
        sbom_import.import_sbom(s, editor, product.id, "9.9", synthetic.sbom(20, offset=1000), "o.json")
    with pg.transaction() as s:
        report = vulns.import_advisories(s, editor, synthetic.osv_dir(tmp_path / "osv", 20),
                                         rescan="job")
    assert report.findings == {"releases": 1, "queued": 1}
    assert _flagged(pg, editor, hit) == set()  # not yet: the job has not run
    jobs.run_worker(pg, wait=False)
    assert _flagged(pg, editor, hit) == synthetic.expected(20)
    assert [r["status"] for r in _job_rows(pg)] == ["succeeded"]


@NEEDS_POSTGRES
def test_advisory_change_touching_many_releases_queues_batches_that_keep_triage(
        pg: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three releases in batches of two: two jobs, not three; a release whose rescan already
    waits is not queued again; the batches' findings are the inline ones, triage kept."""
    monkeypatch.setattr(vulns, "RESCAN_BATCH", 2)
    editor = make_actor(pg, "Acme", "editor")
    pids = [_release(pg, editor, 10, label)[0] for label in ("1.0", "2.0", "3.0")]
    with pg.transaction() as s:
        vex.set_statement(s, editor, pids[1], "GO-SYN-00001", "not_affected",
                          justification="code_not_reachable")
        report = vulns.import_advisories(s, editor, synthetic.osv_dir(tmp_path / "osv", 10),
                                         rescan="job")
    assert report.findings == {"releases": 3, "queued": 3}
    rows = _job_rows(pg)
    assert [r["task_name"] for r in rows] == ["findings.rescan_releases"] * 2
    assert sorted(len(r["args"]["release_ids"]) for r in rows) == [1, 2]
    with pg.transaction() as s:  # the same change again while they wait: covered by them
        releases = vulns.releases_with_packages(s, editor, {("Go", synthetic.module(1))})
        assert vulns.queue_rescans(s, editor, releases) == {"releases": 3, "queued": 0}
    jobs.run_worker(pg, wait=False)
    assert [r["status"] for r in _job_rows(pg)] == ["succeeded"] * 2
    for pid in pids:
        assert _flagged(pg, editor, pid) == synthetic.expected(10)
    with pg.transaction() as s:
        states = {f["vulnerability"]: f["state"] for f in vulns.list_findings(s, editor, pids[1])}
        assert states["GO-SYN-00001"] == "not_affected"
        batch = vulns.recompute_findings(s, editor, vulns.releases_with_packages(
            s, editor, {("Go", synthetic.module(1))}))
    assert batch == {"added": 0, "removed": 0, "kept": 3 * len(synthetic.expected(10)),
                     "proposed": 0}  # a rerun changes nothing: retry-safe


@NEEDS_POSTGRES
def test_failed_job_is_retried_then_shown_failed_with_its_error(pg: Database) -> None:
    editor = make_actor(pg, "Acme", "editor")
    outsider = make_actor(pg, "Globex", "admin")
    viewer = make_actor(pg, "Acme", "viewer")
    with pg.transaction() as s:
        job_id = jobs.enqueue(s, "tests.always_fails", actor=editor, feed="kev")
    assert job_id is not None
    jobs.TASK_MODULES.append("tests.jobs.test_queue")
    try:
        jobs.run_worker(pg, wait=False)
        time.sleep(2.5)  # backoff of the first retry: 2 s
        jobs.run_worker(pg, wait=False)
    finally:
        jobs.TASK_MODULES.remove("tests.jobs.test_queue")
    with pg.transaction() as s:
        job = job_views.get_job(s, editor, job_id)
        assert job["status"] == "failed" and job["attempts"] == 2
        assert "deferred_for_retry" in [e["type"] for e in job["events"]]
        assert "RuntimeError: the feed server answered 503" in job["error"]
        listed = job_views.list_jobs(s, editor, status="failed")["jobs"]
        assert [j["id"] for j in listed] == [job_id] and listed[0]["by"] == editor.email
        assert job_views.list_jobs(s, outsider)["jobs"] == []
        with pytest.raises(NotFound):
            job_views.get_job(s, outsider, job_id)
        with pytest.raises(PermissionDenied):
            job_views.retry_job(s, viewer, job_id)
        assert job_views.retry_job(s, editor, job_id)["status"] == "todo"
    with pg.transaction() as s, pytest.raises(Conflict):
        job_views.retry_job(s, editor, job_id)  # queued again already


def _worker(url: str, log: Any) -> subprocess.Popen[bytes]:
    env = os.environ | {"PRODSEC_DATABASE_URL": url, "PRODSEC_JOBS_STALLED_AFTER": "2"}
    return subprocess.Popen([sys.executable, "-m", "prodsec", "worker"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@NEEDS_POSTGRES
@pytest.mark.slow
def test_worker_killed_mid_rescan_the_job_runs_again_and_findings_are_complete(
        pg: Database, tmp_path: Path) -> None:
    assert POSTGRES
    editor = make_actor(pg, "Acme", "editor")
    n = 3000
    pid, _ = _release(pg, editor, n)
    with pg.transaction() as s:
        vulns.import_advisories(s, editor, synthetic.osv_dir(tmp_path / "osv", n), rescan="job")
        done = vulns.list_findings(s, editor, pid)
        assert done == []
        # a triage decision made before the rescan must survive it
        vex.set_statement(s, editor, pid, "GO-SYN-00001", "not_affected",
                          justification="code_not_reachable")
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        rows = _kill_and_recover(pg, out, log)
    assert _flagged(pg, editor, pid) == synthetic.expected(n)
    with pg.transaction() as s:
        kept = [f for f in vulns.list_findings(s, editor, pid) if f["vulnerability"] == "GO-SYN-00001"]
        assert [f["state"] for f in kept] == ["not_affected"]
        job = job_views.get_job(s, editor, rows[0]["id"])
        assert job["attempts"] >= 1 and "deferred_for_retry" in [e["type"] for e in job["events"]]


def _kill_and_recover(pg: Database, out: Any, log: Path) -> list[dict[str, Any]]:
    """Start a worker, SIGKILL it while the rescan runs, check nothing was written, then let
    a second worker requeue the stalled job and finish it."""
    assert POSTGRES
    first = _worker(POSTGRES, out)

    def started() -> bool:
        with pg.engine.connect() as c:
            return bool(c.execute(text("SELECT count(*) FROM job_reports r JOIN procrastinate_jobs"
                                       " j ON j.id = r.job_id WHERE j.status = 'doing' AND "
                                       "j.task_name = 'findings.rescan_release'")).scalar())

    try:
        _wait(started, 90, "the rescan to start")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        rows = _job_rows(pg)
        assert [r["status"] for r in rows] == ["doing"], log.read_text()[-2000:]
        with pg.engine.connect() as c:  # nothing half-written
            assert c.execute(text("SELECT count(*) FROM findings")).scalar() == 0
        second = _worker(POSTGRES, out)
        try:
            _wait(lambda: _job_rows(pg)[0]["status"] == "succeeded", 120,
                  "the stalled job to be retried and finish")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    return rows


# ---- SQLite: the same task code, in-process --------------------------------------------------


def test_sqlite_runs_jobs_after_commit_and_never_after_rollback(lite: Database) -> None:
    editor = make_actor(lite, "Acme", "editor")
    CALLS.clear()
    with pytest.raises(RuntimeError), lite.transaction() as s:
        assert jobs.enqueue(s, "tests.record", actor=editor, n=1) is None
        raise RuntimeError("rolled back")
    assert CALLS == []
    with lite.transaction() as s:
        jobs.enqueue(s, "tests.record", actor=editor, n=2)
        assert CALLS == []  # not before the commit
    assert [c["n"] for c in CALLS] == [2]
    with lite.transaction() as s:
        assert job_views.list_jobs(s, editor) == {"queue": "in-process", "jobs": [],
                                                  "next_before": None}


def test_sqlite_rescans_in_process_with_the_same_result(lite: Database, tmp_path: Path) -> None:
    editor = make_actor(lite, "Acme", "editor")
    pid, _ = _release(lite, editor, 30)
    with lite.transaction() as s:
        report = vulns.import_advisories(s, editor, synthetic.osv_dir(tmp_path / "osv", 30),
                                         rescan="job")
    assert report.findings == {"releases": 1, "queued": 0}  # no queue: run at the commit
    assert _flagged(lite, editor, pid) == synthetic.expected(30)
    # an SBOM change rescans that release only (here: half the modules)
    with lite.transaction() as s:
        sbom_import.import_sbom(s, editor, pid, "1.0", synthetic.sbom(15), "sbom2.json", rescan="job")
    assert _flagged(lite, editor, pid) == synthetic.expected(15)


def test_sqlite_job_failure_is_raised_after_its_attempts(lite: Database) -> None:
    editor = make_actor(lite, "Acme", "editor")
    failed = pytest.raises(jobs.JobFailed, match="after 2 attempts: RuntimeError: the feed server")
    with failed, lite.transaction() as s:
        jobs.enqueue(s, "tests.always_fails", actor=editor)


def test_unknown_task_is_an_input_error(lite: Database) -> None:
    from prodsec.errors import InputError

    with lite.transaction() as s, pytest.raises(InputError, match="no job task named"):
        jobs.enqueue(s, "no.such.task")


def test_the_task_modules_named_by_string_are_the_ones_that_declare_tasks() -> None:
    """``jobs.TASK_MODULES`` is the one place a lower layer (``prodsec.jobs``, layer 4) names
    higher modules (the workspace's tasks), by string at runtime; the layer test cannot see
    it, so this holds it: each name is a real module that registers tasks, and every module
    that declares a task (``jobs.task(``) is named there."""
    import importlib
    import re
    from pathlib import Path

    import prodsec
    from prodsec.jobs import queue

    package = Path(prodsec.__file__).resolve().parent
    declaring = {".".join(("prodsec", *p.relative_to(package).with_suffix("").parts))
                 for p in package.rglob("*.py")
                 if re.search(r"\bjobs\.task\(", p.read_text()) and p.parent.name != "jobs"}
    real = [m for m in queue.TASK_MODULES if m.startswith("prodsec.")]
    assert set(real) == declaring
    for module in real:
        registered = {s.fn.__module__ for s in queue.tasks().values()}
        assert importlib.import_module(module).__name__ in registered, module
