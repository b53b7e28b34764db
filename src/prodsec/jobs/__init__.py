"""Jobs: long work queued on procrastinate (PostgreSQL) or run in-process (SQLite).

The public API, for services and other helpers (see docs/jobs.md)::

    from prodsec import jobs

    @jobs.task("feeds.import_epss", max_attempts=5, lock=lambda a: f"feeds:{a['org_id']}")
    def import_epss(db, actor, path):          # db: prodsec.db.engine.Database
        with db.transaction() as session: ...
        jobs.report_progress(done, total)     # optional

    jobs.enqueue(session, "feeds.import_epss", actor=actor, path="/srv/feeds/epss.csv")

A task module is imported by name (``jobs.TASK_MODULES``), so a module in a higher layer can
register tasks that lower layers enqueue by name.
"""

from prodsec.jobs.queue import (
    TASK_MODULES,
    JobFailed,
    TaskSpec,
    actor_args,
    enqueue,
    periodic_lock,
    periodic_lock_path,
    report_progress,
    run_periodic,
    run_worker,
    spec,
    task,
    tasks,
    waiting_args,
)

__all__ = ["TASK_MODULES", "JobFailed", "TaskSpec", "actor_args", "enqueue", "periodic_lock",
           "periodic_lock_path", "report_progress", "run_periodic", "run_worker", "spec", "task", "tasks", "waiting_args"]
