"""The organisation's jobs: list (keyset pages), one job with its events, retry a failed one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from prodsec.api import schemas
from prodsec.api.deps import UnitDep, Writer
from prodsec.workspace import jobs

router = APIRouter(prefix="/jobs", tags=["jobs"])
JobId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", response_model=schemas.JobList)
def list_jobs(work: UnitDep,
              status: Annotated[str | None, Query(max_length=16)] = None,
              before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> schemas.JobList:
    """Newest first; ``status`` filters (todo, doing, succeeded, failed, …)."""
    return schemas.JobList.model_validate(
        jobs.list_jobs(work.session, work.actor, status, before, limit))


@router.get("/{job_id}", response_model=schemas.Job)
def get_job(work: UnitDep, job_id: JobId) -> schemas.Job:
    """One job with its events (deferred, started, deferred_for_retry, failed, succeeded …)."""
    return schemas.Job.model_validate(jobs.get_job(work.session, work.actor, job_id))


@router.post("/{job_id}/retry", response_model=schemas.Job)
def retry_job(work: Writer, job_id: JobId) -> schemas.Job:
    """Queue a failed job again (409 when it is not failed)."""
    return schemas.Job.model_validate(jobs.retry_job(work.session, work.actor, job_id))
