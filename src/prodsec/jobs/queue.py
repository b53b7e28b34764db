"""Long work as jobs, on procrastinate (PostgreSQL) or in-process (SQLite).

Why procrastinate: its queue lives in the PostgreSQL database prodsec already requires for a
server, so a job is enqueued *in the same transaction* as the change that causes it (a
rolled-back change enqueues nothing, a committed one cannot lose its job), and it brings
periodic jobs, retries with backoff, locks, and any number of workers on any number of machines
sharing that one database — with no broker to run.

On SQLite (the embedded default) there is no queue and no worker: ``enqueue`` keeps the job on
the session and runs it in this process right after the session commits (retried in place a
few times; an input error is not retried). The task code is the same either way.

A task is a plain function ``fn(db, **kwargs)`` registered with ``@task(NAME)``; organisation
jobs take ``actor`` (a dict: user_id, email, org_id, role) and run as the person who caused
them. The job's arguments carry ``org_id`` so listings filter per organisation.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from prodsec.db.engine import Database
from prodsec.errors import InputError
from prodsec.errors import JobFailed as JobFailed

log = logging.getLogger(__name__)

#: Modules whose import registers tasks (procrastinate's ``import_paths``): the worker and the
#: in-process runner import them by name, so this module needs no import of the layers above.
TASK_MODULES: list[str] = ["prodsec.workspace.tasks", "prodsec.workspace.notification_tasks"]
#: A job whose worker sent no heartbeat for this long is retried (``PRODSEC_JOBS_STALLED_AFTER``).
STALLED_AFTER_S = 60.0
#: Finished jobs are deleted after this many hours by a periodic job.
KEEP_FINISHED_HOURS = 24 * 14
#: The order ``run_periodic`` runs the periodic tasks in: what finds work (new feed files and
#: the cases they propose, due stages) before what sends it, so one cron run delivers what it
#: found. A periodic task not named here runs after these, by name.
PERIODIC_ORDER = ("prodsec.retry_stalled_jobs", "prodsec.watch_feeds", "notifications.scan",
                  "notifications.deliver", "prodsec.remove_old_jobs")


class ActorLike(Protocol):
    """Who a job runs as (``prodsec.workspace.context.Actor`` fits)."""

    @property
    def user_id(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def org_id(self) -> str: ...
    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: how to run it and how to queue it."""

    name: str
    fn: Callable[..., Any]
    max_attempts: int
    #: job arguments -> procrastinate lock (jobs with one lock never run at the same time)
    lock: Callable[[dict[str, Any]], str | None] | None
    #: job arguments -> queueing lock (at most one such job waiting)
    queueing_lock: Callable[[dict[str, Any]], str | None] | None
    #: cron expression (6 fields = with seconds) for a periodic task
    periodic: str | None = None
    #: the queue's own housekeeping: only where there is a queue (PostgreSQL)
    needs_queue: bool = False


_TASKS: dict[str, TaskSpec] = {}
_current_job: contextvars.ContextVar[tuple[int, Engine] | None] = contextvars.ContextVar(
    "prodsec_job", default=None)


def task(name: str, *, max_attempts: int = 5,
         lock: Callable[[dict[str, Any]], str | None] | None = None,
         queueing_lock: Callable[[dict[str, Any]], str | None] | None = None,
         periodic: str | None = None,
         needs_queue: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(db, **kwargs)`` as the task ``name`` (returned unchanged)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        _TASKS[name] = TaskSpec(name, fn, max_attempts, lock, queueing_lock, periodic,
                                needs_queue)
        return fn

    return register


def tasks() -> dict[str, TaskSpec]:
    """Every registered task, after importing the task modules."""
    from importlib import import_module

    for module in TASK_MODULES:
        import_module(module)
    return dict(_TASKS)


def spec(name: str) -> TaskSpec:
    found = tasks().get(name)
    if found is None:
        raise InputError(f"no job task named {name!r}; known: {', '.join(sorted(_TASKS))}")
    return found


def actor_args(actor: ActorLike) -> dict[str, Any]:
    """The JSON form of the person a job runs as."""
    return {"user_id": actor.user_id, "email": actor.email, "org_id": actor.org_id,
            "role": actor.role}


# ---- enqueueing ------------------------------------------------------------------------------


def enqueue(session: Session, name: str, *, actor: ActorLike | None = None,
            **kwargs: Any) -> int | None:
    """Queue the task ``name`` in the session's transaction; return the job id.

    PostgreSQL: the job row is written through the session's own connection, so it commits or
    rolls back with the caller's change. A job whose queueing lock is taken (the same job is
    already waiting) is not queued again (None). SQLite: the job runs in this process after the
    session commits (None: there is no queue to show it in).
    """
    task_spec = spec(name)
    args: dict[str, Any] = dict(kwargs)
    if actor is not None:
        args = {"org_id": actor.org_id, "actor": actor_args(actor), **args}
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        _defer_in_process(session, task_spec, args)
        return None
    return _defer_in_postgres(session, task_spec, args)


def _job(task_spec: TaskSpec, args: dict[str, Any]) -> Any:
    from procrastinate import jobs

    return jobs.Job(id=None, queue="default", task_name=task_spec.name, priority=0,
                    lock=task_spec.lock(args) if task_spec.lock else None,
                    queueing_lock=task_spec.queueing_lock(args) if task_spec.queueing_lock
                    else None,
                    task_kwargs=args)


def _defer_in_postgres(session: Session, task_spec: TaskSpec, args: dict[str, Any]) -> int | None:
    """Insert the job; if the same job is already waiting (its queueing lock is taken), lock
    that waiting row instead (``_hold_waiting``), and insert again if it started meanwhile."""
    from procrastinate import exceptions, manager
    from procrastinate.sync_psycopg_connector import SyncPsycopgConnector

    jobs = manager.JobManager(SyncPsycopgConnector())
    job = _job(task_spec, args)
    for _ in range(3):
        # A savepoint: a queueing-lock conflict must not abort the caller's transaction.
        try:
            with session.begin_nested() as savepoint:
                raw = savepoint.session.connection().connection.driver_connection
                deferred = jobs.defer_job(job, connection=raw)
        except exceptions.AlreadyEnqueued:
            if _hold_waiting(session, job.queueing_lock):
                return None
            continue  # the waiting job started between the two statements: queue ours
        return int(deferred.id) if deferred.id is not None else None
    raise JobFailed(f"could not queue {task_spec.name}: its queueing lock "
                    f"{job.queueing_lock!r} kept changing hands")


def _hold_waiting(session: Session, queueing_lock: str | None) -> bool:
    """Lock (``FOR UPDATE``) the waiting job that holds ``queueing_lock`` until the caller's
    transaction ends; False if no job waits any more.

    Why: the caller skips queueing because that job will read its change. Without the row
    lock a worker could start the job before the caller commits, read the old data, succeed,
    and the change would never be rescanned. A worker fetches with ``SKIP LOCKED``, so it
    leaves a locked job until the caller commits (or rolls back)."""
    from sqlalchemy import text

    return session.execute(text(
        "SELECT id FROM procrastinate_jobs WHERE queueing_lock = :lock AND status = 'todo' "
        "FOR UPDATE"), {"lock": queueing_lock}).first() is not None


def waiting_args(session: Session, name: str, org_id: str) -> list[dict[str, Any]]:
    """The arguments of the organisation's ``name`` jobs queued and not yet started (retries
    waiting for their time included), read in the session's transaction; none on SQLite,
    where a job runs when its change commits.

    The rows are locked (``FOR UPDATE``, in id order so two callers cannot deadlock) until
    the caller's transaction ends: a caller that leaves work to a waiting job must be sure
    it has not started before the caller's change is committed (``_hold_waiting``)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    from sqlalchemy import text

    return [dict(row[0]) for row in session.execute(text(
        "SELECT args FROM procrastinate_jobs WHERE task_name = :name AND status = 'todo' "
        "AND args->>'org_id' = :org ORDER BY id FOR UPDATE"), {"name": name, "org": org_id})]


_PENDING = "prodsec.jobs.pending"
_HOOKED = "prodsec.jobs.hooked"


def _defer_in_process(session: Session, task_spec: TaskSpec, args: dict[str, Any]) -> None:
    if _PENDING not in session.info:
        session.info[_PENDING] = []
        if not session.info.get(_HOOKED):
            session.info[_HOOKED] = True
            event.listen(session, "after_commit", _run_pending)
            event.listen(session, "after_soft_rollback", _drop_pending)
    session.info[_PENDING].append((session.get_bind(), task_spec, args))


def _run_pending(session: Session) -> None:
    """After a commit: run the jobs it queued. A failure is left for ``raise_deferred``
    (``Database.transaction`` raises it once the commit is complete)."""
    from prodsec.db.engine import DEFERRED_ERROR

    for engine, task_spec, args in session.info.pop(_PENDING, []):
        try:
            run_in_process(engine, task_spec, args)
        except Exception as exc:
            session.info.setdefault(DEFERRED_ERROR, exc)


def _drop_pending(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the outermost transaction rolled back, not a savepoint
        session.info.pop(_PENDING, None)


def run_in_process(engine: Engine, task_spec: TaskSpec, args: dict[str, Any]) -> Any:
    """Run a job now, in this process (SQLite), with the task's attempts; an input error (a bad
    file, a missing object) is the same on every attempt and is raised at once."""
    database = Database(str(engine.url), engine, sessionmaker(engine, expire_on_commit=False),
                        Path(os.environ.get("PRODSEC_EVIDENCE_DIR") or "."))
    for attempt in range(1, task_spec.max_attempts + 1):
        try:
            return task_spec.fn(database, **args)
        except InputError:
            raise
        except Exception as exc:
            if attempt == task_spec.max_attempts:
                raise JobFailed(f"job {task_spec.name} failed after {attempt} attempts: "
                                f"{type(exc).__name__}: {exc}") from exc
            log.warning("job %s attempt %d failed: %s", task_spec.name, attempt, exc)
            time.sleep(min(0.1 * 2 ** attempt, 2.0))
    return None


def run_periodic(database: Database) -> list[dict[str, Any]]:
    """Run every periodic task once, now, in this process: the same functions the worker's
    periodic jobs call, so SQLite (which has no worker) gets the same work from cron — no
    second scheduler. Each task runs on its own: one that fails is reported in its entry
    (``status`` failed, ``detail`` the error) and the others still run. The queue's
    housekeeping (``needs_queue``) is skipped on SQLite: there is no queue to keep."""
    results = []
    for task_spec in sorted((t for t in tasks().values() if t.periodic), key=_periodic_rank):
        entry = {"task": task_spec.name, "schedule": task_spec.periodic}
        if task_spec.needs_queue and database.is_sqlite:
            results.append(entry | {"status": "skipped", "detail": "SQLite has no job queue"})
            continue
        try:
            value = run_in_process(database.engine, task_spec, {"timestamp": int(time.time())})
        except Exception as exc:  # reported, and the next task still runs
            log.warning("periodic task %s failed: %s", task_spec.name, exc)
            results.append(entry | {"status": "failed", "detail": f"{type(exc).__name__}: {exc}"})
        else:
            results.append(entry | {"status": "done", "detail": value})
    return results


@contextlib.contextmanager
def periodic_lock(database: Database) -> Iterator[Path | None]:
    """Hold the lock of ``run_periodic`` runs of this workspace; yields None when another run
    holds it. Why: cron starts a run every minute, and a run that takes longer (a slow
    webhook, a large feed file) would otherwise race the next one over the same files and
    deliveries. An exclusive ``flock`` on a file next to an SQLite database (in the data
    directory for PostgreSQL); the kernel drops it when the process ends, however it ends."""
    path = periodic_lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): runs are not kept apart
            yield path
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            yield path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def periodic_lock_path(database: Database) -> Path:
    """``<database file>.periodic.lock`` for SQLite; ``<data dir>/periodic.lock`` otherwise."""
    from prodsec.db.engine import data_dir

    if database.is_sqlite and database.engine.url.database:
        return Path(f"{database.engine.url.database}.periodic.lock")
    return data_dir() / "periodic.lock"


def _periodic_rank(task_spec: TaskSpec) -> tuple[int, str]:
    known = task_spec.name in PERIODIC_ORDER
    return (PERIODIC_ORDER.index(task_spec.name) if known else len(PERIODIC_ORDER),
            task_spec.name)


# ---- progress and errors ---------------------------------------------------------------------


def report_progress(done: int, total: int | None = None, note: str = "") -> None:
    """Record how far the running job is (shown by ``prodsec jobs``, the API and the page).

    Written at once in its own short transaction, so it is visible while the job's own
    transaction is still open; a no-op outside a queued job (SQLite runs, tests)."""
    current = _current_job.get()
    if current is None:
        return
    job_id, engine = current
    _write_report(engine, job_id, done=done, total=total, note=note[:500])


def _write_report(engine: Engine, job_id: int, **values: Any) -> None:
    from sqlalchemy.dialects.postgresql import insert

    from prodsec.db.models import JobReport

    values["updated_at"] = dt.datetime.now(dt.UTC)
    row = {"job_id": job_id, "done": 0, "note": "", **values}
    with engine.begin() as conn:
        conn.execute(insert(JobReport).values(**row).on_conflict_do_update(
            index_elements=["job_id"], set_=values))


# ---- the worker ------------------------------------------------------------------------------


def conninfo(url: str) -> str:
    """A libpq URL from a SQLAlchemy one (``postgresql+psycopg://`` -> ``postgresql://``)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def build_app(database: Database) -> Any:
    """The procrastinate App of a worker: every registered task wrapped to run against
    ``database``, record progress and errors, and retry with exponential backoff."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(database.url), min_size=1, max_size=4))
    for task_spec in tasks().values():
        _register(app, database, task_spec)
    return app


class _Retry:
    """Exponential backoff (2, 4, 8 … s, at most 5 min) for ``max_attempts``; an input error
    is not retried — it would fail the same way."""

    def __new__(cls, max_attempts: int) -> Any:
        from procrastinate import retry

        class Strategy(retry.BaseRetryStrategy):
            def get_retry_decision(self, *, exception: BaseException,
                                   job: Any) -> retry.RetryDecision | None:
                if isinstance(exception, InputError) or job.attempts + 1 >= max_attempts:
                    return None
                return retry.RetryDecision(retry_in={"seconds": min(2 ** (job.attempts + 1),
                                                                    300)})

        return Strategy()


def _register(app: Any, database: Database, task_spec: TaskSpec) -> None:
    def run(context: Any, **kwargs: Any) -> Any:
        job_id = int(context.job.id)
        token = _current_job.set((job_id, database.engine))
        try:
            return task_spec.fn(database, **kwargs)
        except BaseException as exc:
            _write_report(database.engine, job_id, org_id=kwargs.get("org_id"),
                          error=_describe(exc, context.job.attempts))
            raise
        finally:
            _current_job.reset(token)

    run.__name__ = task_spec.name.replace(".", "_")
    registered = app.task(name=task_spec.name, pass_context=True,
                          queueing_lock=task_spec.name if task_spec.periodic else None,
                          retry=_Retry(task_spec.max_attempts))(run)
    if task_spec.periodic:
        app.periodic(cron=task_spec.periodic, periodic_id=task_spec.name)(registered)


def _describe(exc: BaseException, attempts: int) -> str:
    """The error as shown to users: the message, then the last lines of the traceback."""
    tail = "".join(traceback.format_exception(exc)[-3:])
    return f"attempt {attempts + 1}: {type(exc).__name__}: {exc}\n{tail}"[:4000]


def run_worker(database: Database, concurrency: int = 1, wait: bool = True,
               stalled_after: float | None = None) -> None:
    """Run a worker until interrupted (``wait=False``: until the queue is empty)."""
    if database.is_sqlite:
        raise InputError("a worker needs PostgreSQL (PRODSEC_DATABASE_URL or --db "
                         "postgresql://…); on SQLite jobs run in-process when their change "
                         "commits")
    app = build_app(database)
    timeout = stalled_after if stalled_after is not None else _stalled_after()
    with app.open():
        app.run_worker(concurrency=concurrency, wait=wait, install_signal_handlers=wait,
                       stalled_worker_timeout=timeout,
                       update_heartbeat_interval=max(min(timeout / 3, 10.0), 0.5))


def _stalled_after() -> float:
    raw = os.environ.get("PRODSEC_JOBS_STALLED_AFTER")
    try:
        return float(raw) if raw else STALLED_AFTER_S
    except ValueError:
        raise InputError(f"PRODSEC_JOBS_STALLED_AFTER={raw!r}: expected seconds") from None


@task("prodsec.retry_stalled_jobs", max_attempts=1, periodic="* * * * * */15",
      queueing_lock=lambda args: "retry-stalled", needs_queue=True)
def retry_stalled_jobs(db: Database, timestamp: int | None = None) -> dict[str, int]:
    """Requeue the jobs of workers that stopped sending heartbeats (killed, lost their
    machine): the job runs again from the start; its earlier attempt left nothing behind
    because a task writes its result in one transaction. A job whose worker died on each of
    its task's ``max_attempts`` (one that gets its worker OOM-killed, say) is marked failed
    with "worker died N times" instead: requeued, it would kill workers forever."""
    from procrastinate import sql
    from procrastinate.sync_psycopg_connector import SyncPsycopgConnector

    connector = SyncPsycopgConnector()
    counts = {"requeued": 0, "failed": 0}
    with db.engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        rows = connector.execute_query_all_with_connection(
            raw, query=sql.queries["select_stalled_jobs_by_heartbeat"], queue=None,
            task_name=None, seconds_since_heartbeat=_stalled_after())
        for row in rows:
            outcome = _recover_stalled(connector, raw, row)
            counts[outcome] += 1
        raw.commit()  # the queries went to psycopg directly: SQLAlchemy began nothing
    for row in rows:
        if _out_of_attempts(row):
            _write_report(db.engine, int(row["id"]), org_id=(row["args"] or {}).get("org_id"),
                          error=f"worker died {row['attempts'] + 1} times running this job "
                                "(killed, out of memory, or lost its machine); not retried")
    return counts


def _out_of_attempts(row: dict[str, Any]) -> bool:
    """Whether a stalled job has used its task's last attempt (an unknown task gets one)."""
    known = tasks().get(row["task_name"])
    return int(row["attempts"]) + 1 >= (known.max_attempts if known else 1)


def _recover_stalled(connector: Any, raw: Any, row: dict[str, Any]) -> str:
    """Fail a stalled job out of attempts, requeue any other; returns which."""
    from procrastinate import sql

    if _out_of_attempts(row):
        connector.execute_query_all_with_connection(
            raw, query=sql.queries["finish_job"], job_id=row["id"], status="failed",
            delete_job=False)
        log.error("job %s (%s): its worker died %d times; marked failed", row["id"],
                  row["task_name"], row["attempts"] + 1)
        return "failed"
    connector.execute_query_all_with_connection(
        raw, query=sql.queries["retry_job"], job_id=row["id"],
        retry_at=dt.datetime.now(dt.UTC), new_priority=None, new_queue_name=None,
        new_lock=None)
    log.warning("job %s of a stalled worker requeued", row["id"])
    return "requeued"


@task("prodsec.remove_old_jobs", max_attempts=1, periodic="17 3 * * *", needs_queue=True)
def remove_old_jobs(db: Database, timestamp: int | None = None) -> None:
    """Delete jobs finished (succeeded, or failed and not retried) more than
    ``KEEP_FINISHED_HOURS`` ago, with procrastinate's own query: the queue stays small."""
    from procrastinate import sql
    from procrastinate.sync_psycopg_connector import SyncPsycopgConnector

    with db.engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        SyncPsycopgConnector().execute_query_all_with_connection(
            raw, query=sql.queries["delete_old_jobs"] + " RETURNING id",
            nb_hours=KEEP_FINISHED_HOURS, queue=None, statuses=["succeeded", "failed"])
        conn.exec_driver_sql("DELETE FROM job_reports r WHERE NOT EXISTS "
                             "(SELECT 1 FROM procrastinate_jobs j WHERE j.id = r.job_id)")
        raw.commit()  # the queries went to psycopg directly: SQLAlchemy began nothing
