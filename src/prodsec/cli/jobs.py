"""``prodsec worker`` and ``prodsec jobs list|show|retry|run-periodic``: the job queue from the
shell.

A worker needs PostgreSQL (the queue lives there); on SQLite jobs run in-process when their
change commits, so there is nothing to start and nothing queued to list — and the periodic
work (notification scans and deliveries, the watched feed folder) runs when cron calls
``prodsec jobs run-periodic``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prodsec.cli.output import Format, FormatOpt, emit
from prodsec.cli.views import Section
from prodsec.cli.workspace import DbOpt, OrgOpt, workspace

jobs_app = typer.Typer(help="Jobs: queued, running (with progress), failed (with the error), "
                       "retried.", no_args_is_help=True)
JobArg = Annotated[int, typer.Argument(metavar="JOB_ID", help="The job's number.")]


def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once by this "
                                             "process (threads; start more processes to use "
                                             "more cores).")] = 1,
    db: DbOpt = None,
) -> None:
    """Run a worker until interrupted: it takes jobs from the PostgreSQL queue, runs them with
    retries, and requeues the jobs of workers that died (run as many as you like, anywhere)."""
    from prodsec import jobs
    from prodsec.cli.changes import open_db

    database = open_db(db)
    try:
        jobs.run_worker(database, concurrency=concurrency)
    finally:
        database.dispose()


def _progress(job: dict[str, Any]) -> str:
    p = job["progress"]
    if not p:
        return ""
    return f"{p['done']}/{p['total']}" if p["total"] else str(p["done"])


def _list_view(data: dict[str, Any]) -> list[Section]:
    if data["queue"] != "procrastinate":
        return [Section("Jobs", notes=["SQLite workspace: jobs run in-process when their change "
                                       "commits; there is no queue to list."])]
    rows = [[j["id"], j["task"], j["status"], j["attempts"], _progress(j), j["by"] or "",
             j["queued_at"] or "", (j["error"] or "").splitlines()[0] if j["error"] else ""]
            for j in data["jobs"]]
    notes = [f"more: --before {data['next_before']}"] if data["next_before"] else []
    return [Section(f"Jobs ({len(rows)})", ["id", "task", "status", "attempts", "progress", "by",
                                           "queued", "last error"], rows, notes=notes)]


def _job_view(job: dict[str, Any]) -> list[Section]:
    head = Section(f"Job {job['id']} — {job['task']}", ["field", "value"], [
        ["status", job["status"]], ["attempts", job["attempts"]], ["progress", _progress(job)],
        ["note", (job["progress"] or {}).get("note", "")], ["by", job["by"] or ""],
        ["lock", job["lock"] or ""], ["arguments", job["args"]],
        ["queued", job["queued_at"] or ""], ["started", job["started_at"] or ""],
        ["finished", job["finished_at"] or ""]])
    sections = [head, Section("Events", ["event", "at"],
                              [[e["type"], e["at"]] for e in job.get("events", [])])]
    if job["error"]:
        sections.append(Section("Last error", notes=[job["error"]]))
    return sections


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="todo, doing, succeeded, failed, …")] = None,
    before: Annotated[int | None, typer.Option(help="Only jobs older than this id (paging).")] = None,
    org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table,
) -> None:
    """The organisation's jobs, newest first."""
    from prodsec.workspace import jobs

    with workspace(db, org) as (_, session, actor):
        data = jobs.list_jobs(session, actor, status, before)
    emit(data, fmt, _list_view)


@jobs_app.command("show")
def jobs_show(job_id: JobArg, org: OrgOpt = "default", db: DbOpt = None,
              fmt: FormatOpt = Format.table) -> None:
    """One job: status, progress, events (retries included) and its last error."""
    from prodsec.workspace import jobs

    with workspace(db, org) as (_, session, actor):
        data = jobs.get_job(session, actor, job_id)
    emit(data, fmt, _job_view)


@jobs_app.command("retry")
def jobs_retry(job_id: JobArg, org: OrgOpt = "default", db: DbOpt = None,
               fmt: FormatOpt = Format.table) -> None:
    """Queue a failed job again."""
    from prodsec.workspace import jobs

    with workspace(db, org) as (_, session, actor):
        data = jobs.retry_job(session, actor, job_id)
    emit(data, fmt, _job_view)


def _periodic_view(data: dict[str, Any]) -> list[Section]:
    rows = [[t["task"], t["schedule"], t["status"], _detail(t["detail"])] for t in data["tasks"]]
    notes = [f"{item['file']}: refused: {item['refused']}" for t in data["tasks"]
               if isinstance(t["detail"], dict) for item in t["detail"].get("files", [])
               if "refused" in item]  # the watched folder's: remembered, not tried again
    if "already_running" in data:  # cron started this run while the last one still runs
        notes.append(f"already running: another run holds {data['already_running']}; "
                       "nothing done")
    return [Section("Periodic tasks, run once", ["task", "worker schedule", "status", "result"],
                    rows, notes=notes)]


def _detail(value: Any) -> str:
    """A task's result on one line: ``key value`` pairs, lists by their length."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {len(v) if isinstance(v, list) else v}" for k, v in value.items())
    return "" if value is None else str(value)


@jobs_app.command("run-periodic")
def jobs_run_periodic(db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Run every periodic task once, now, in this process (what a PostgreSQL worker does on
    its schedule; on SQLite, run this from cron). Exit 1 when one of them failed; exit 0 and
    do nothing when another run of this workspace is still going ("already running")."""
    from prodsec import jobs
    from prodsec.cli.changes import open_db

    database = open_db(db)
    data: dict[str, Any] = {"tasks": []}
    try:
        with jobs.periodic_lock(database) as held:
            if held is None:
                data["already_running"] = str(jobs.periodic_lock_path(database))
            else:
                data["tasks"] = jobs.run_periodic(database)
    finally:
        database.dispose()
    emit(data, fmt, _periodic_view)
    if any(t["status"] == "failed" for t in data["tasks"]):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``worker`` and the ``jobs`` group to the main application."""
    app.command("worker")(worker)
    app.add_typer(jobs_app, name="jobs")
