"""The organisation's jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages.common import (
    EditorForm,
    error_page,
    form_write,
    page_error,
    redirect,
    render,
    signed_in,
    web_state,
)
from prodsec.workspace.context import ValidationFailed

router = APIRouter(include_in_schema=False)


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, status: str | None = None,
              before: int | None = None) -> HTMLResponse:
    """The organisation's jobs: queued, running with progress, failed with the error; the same
    data as ``GET /api/v1/jobs``."""
    from prodsec.workspace import jobs

    actor, csrf = signed_in(request)
    with web_state(request).database.transaction() as session:
        try:
            data = jobs.list_jobs(session, actor, status or None, before)
        except ValidationFailed as exc:
            raise page_error(exc) from None
    return render(request, "jobs.html.j2", {"data": data, "status": status or ""},
                   actor=actor, csrf=csrf)


@router.post("/jobs/{job_id}/retry", response_class=HTMLResponse)
async def job_retry(request: Request, job_id: int, sent: EditorForm) -> Response:
    """Queue a failed job again (``POST /api/v1/jobs/{id}/retry``)."""
    from prodsec.workspace import jobs

    return await form_write(request, sent, lambda s: jobs.retry_job(s, sent.actor, job_id),
                             lambda _r: redirect("/jobs"), error_page)

