"""The organisation's jobs as users see them: queued, running (with progress), failed (with the
error), retried. Read from procrastinate's own tables plus ``job_reports``; every query is
filtered on the organisation (the job's ``org_id`` argument), so one organisation can neither
see nor retry another's jobs — for the CLI, the API and the web page alike.

On SQLite there is no queue (jobs run in-process when their change commits): the list is
empty and ``queue`` says so.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from prodsec.workspace import audit
from prodsec.workspace.context import Actor, Conflict, NotFound, ValidationFailed

STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted")
PAGE = 50

_COLUMNS = """
SELECT j.id, j.task_name, j.status, j.attempts, j.lock, j.args, j.scheduled_at,
       (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id
         AND e.type = 'deferred') AS queued_at,
       (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id
         AND e.type = 'started') AS started_at,
       (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id
         AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted')) AS finished_at,
       r.done, r.total, r.note, r.error
  FROM procrastinate_jobs j LEFT JOIN job_reports r ON r.job_id = j.id
"""


def queue_kind(session: Session) -> str:
    """``procrastinate`` (PostgreSQL) or ``in-process`` (SQLite)."""
    return "procrastinate" if session.get_bind().dialect.name == "postgresql" else "in-process"


def list_jobs(session: Session, actor: Actor, status: str | None = None,
              before: int | None = None, limit: int = PAGE) -> dict[str, Any]:
    """The organisation's jobs, newest first, a page at a time (``before``: keyset cursor)."""
    if status is not None and status not in STATUSES:
        raise ValidationFailed("status", f"{status!r}: expected one of {', '.join(STATUSES)}")
    kind = queue_kind(session)
    if kind != "procrastinate":
        return {"queue": kind, "jobs": [], "next_before": None}
    limit = max(1, min(limit, 500))
    rows = session.execute(text(
        _COLUMNS + " WHERE j.args->>'org_id' = :org"
        " AND (CAST(:status AS varchar) IS NULL OR j.status::text = :status)"
        " AND (CAST(:before AS bigint) IS NULL OR j.id < :before)"
        " ORDER BY j.id DESC LIMIT :limit"),
        {"org": actor.org_id, "status": status, "before": before, "limit": limit + 1}).mappings()
    found = [job_view(row) for row in rows]
    more = len(found) > limit
    return {"queue": kind, "jobs": found[:limit],
            "next_before": found[limit - 1]["id"] if more else None}


def get_job(session: Session, actor: Actor, job_id: int) -> dict[str, Any]:
    """One job with its history of events (deferred, started, deferred_for_retry, failed …)."""
    if queue_kind(session) != "procrastinate":
        raise NotFound(f"job {job_id}: no queue on SQLite (jobs run in-process)")
    row = session.execute(text(_COLUMNS + " WHERE j.id = :id AND j.args->>'org_id' = :org"),
                          {"id": job_id, "org": actor.org_id}).mappings().first()
    if row is None:
        raise NotFound(f"job {job_id}: no such job")
    events = session.execute(text(
        "SELECT type::text AS type, at FROM procrastinate_events WHERE job_id = :id ORDER BY id"),
        {"id": job_id}).mappings()
    return job_view(row) | {"events": [{"type": e["type"], "at": e["at"].isoformat()}
                                       for e in events]}


def retry_job(session: Session, actor: Actor, job_id: int) -> dict[str, Any]:
    """Queue a failed job again, now (procrastinate's own retry: the event history shows it);
    editors only."""
    actor.require("editor")
    job = get_job(session, actor, job_id)
    if job["status"] != "failed":
        raise Conflict(f"job {job_id} is {job['status']}; only a failed job can be retried",
                       precondition=False)
    session.execute(text("SELECT procrastinate_retry_job_v2(:id, NOW(), CAST(NULL AS integer), "
                         "CAST(NULL AS varchar), CAST(NULL AS varchar))"), {"id": job_id})
    audit.record(session, actor, "job.retry", "job", str(job_id), {"status": job["status"]},
                 {"status": "todo"})
    return job | {"status": "todo"}


def job_view(row: Any) -> dict[str, Any]:
    """The stable JSON shape of a job (arguments without the person's role)."""
    args = dict(row["args"] or {})
    by = (args.pop("actor", None) or {}).get("email")
    args.pop("org_id", None)
    total = row["total"]
    return {
        "id": row["id"], "task": row["task_name"], "status": str(row["status"]),
        "attempts": row["attempts"], "lock": row["lock"], "args": args, "by": by,
        "queued_at": _iso(row["queued_at"]), "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "scheduled_at": _iso(row["scheduled_at"]),
        "progress": None if row["done"] is None else {"done": row["done"], "total": total,
                                                       "note": row["note"]},
        "error": row["error"],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
