"""The proposed Article 14 cases on the web: ``/cases/proposed`` lists what the exploitation
signals proposed, with a form to confirm each (stating the moment of awareness, which starts
the clocks) or dismiss it with a reason. The same service as the CLI's ``case proposed`` and
the API's ``/api/v1/case-proposals``; the forms go through the pages' one write path (role,
then CSRF token, then ``writes.write``).

An area of ``prodsec.web.pages`` (listed in its ``AREAS``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages.common import (
    EditorForm,
    form_write,
    redirect,
    render,
    signed_in,
    status_of,
    web_state,
)
from prodsec.workspace.context import Actor

router = APIRouter()


@router.get("/cases/proposed", response_class=HTMLResponse)
def proposed_page(request: Request) -> HTMLResponse:
    """Cases proposed by KEV/EUVD signals, waiting for a person's decision."""
    actor, csrf = signed_in(request)
    return _page(request, actor, csrf)


def _page(request: Request, actor: Actor, csrf: str, status: int = 200,
          error: dict[str, str] | None = None) -> HTMLResponse:
    from prodsec.workspace import proposals

    with web_state(request).database.transaction() as session:
        rows = proposals.list_proposals(session, actor)
    return render(request, "cases_proposed.html.j2", {"proposals": rows, "error": error},
                   status, actor=actor, csrf=csrf)


def _aware_at(raw: str) -> dt.datetime:
    """The form's ``datetime-local`` value, read as UTC (the page says so)."""
    from prodsec.workspace.vex import parse_time

    return parse_time(raw.strip()[:40] or None)


@router.post("/cases/proposed/{proposal_id}/confirm", response_class=HTMLResponse)
async def confirm(request: Request, proposal_id: str, sent: EditorForm) -> Response:
    """Open the case with the awareness time the person states."""
    from prodsec.workspace import proposal_decisions as decisions

    raw = str(sent.form.get("aware_at") or "")

    def work(session: Any) -> Any:
        return decisions.confirm(session, sent.actor, proposal_id, _aware_at(raw),
                                 kb=web_state(request).kb)

    return await form_write(
        request, sent, work, lambda p: redirect(f"/cases#case-{p.case_id}"),
        lambda exc: _page(request, sent.actor, sent.csrf, status_of(exc),
                          {"id": proposal_id, "text": str(exc)}))


@router.post("/cases/proposed/{proposal_id}/dismiss", response_class=HTMLResponse)
async def dismiss(request: Request, proposal_id: str, sent: EditorForm) -> Response:
    """Close the proposal without a case, with the reason."""
    from prodsec.workspace import proposal_decisions as decisions

    reason = str(sent.form.get("reason") or "")[:10000]
    return await form_write(
        request, sent, lambda session: decisions.dismiss(session, sent.actor, proposal_id, reason),
        lambda _p: redirect("/cases/proposed"),
        lambda exc: _page(request, sent.actor, sent.csrf, status_of(exc),
                          {"id": proposal_id, "text": str(exc)}))
