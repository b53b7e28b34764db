"""The proposed Article 14 cases on the web: ``/cases/proposed`` lists what the exploitation
signals proposed, with a form to confirm each (stating the moment of awareness, which starts
the clocks) or dismiss it with a reason. The same service as the CLI's ``case proposed`` and
the API's ``/api/v1/case-proposals``; the forms go through the pages' one write path (role,
then CSRF token, then ``writes.write``).

Mounted with ``app.include_router(prodsec.web.proposals.router)`` beside ``pages.router``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages import (
    EditorForm,
    _form_write,
    _redirect,
    _render,
    _state,
    _status,
    _who,
)
from prodsec.workspace.context import Actor

router = APIRouter()


@router.get("/cases/proposed", response_class=HTMLResponse)
def proposed_page(request: Request) -> HTMLResponse:
    """Cases proposed by KEV/EUVD signals, waiting for a person's decision."""
    actor, csrf = _who(request)
    return _page(request, actor, csrf)


def _page(request: Request, actor: Actor, csrf: str, status: int = 200,
          error: dict[str, str] | None = None) -> HTMLResponse:
    from prodsec.workspace import proposals

    with _state(request).database.transaction() as session:
        rows = proposals.list_proposals(session, actor)
    return _render(request, "cases_proposed.html.j2", {"proposals": rows, "error": error},
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
        return decisions.confirm(session, sent.actor, proposal_id, _aware_at(raw))

    return await _form_write(
        request, sent, work, lambda p: _redirect(f"/cases#case-{p.case_id}"),
        lambda exc: _page(request, sent.actor, sent.csrf, _status(exc),
                          {"id": proposal_id, "text": str(exc)}))


@router.post("/cases/proposed/{proposal_id}/dismiss", response_class=HTMLResponse)
async def dismiss(request: Request, proposal_id: str, sent: EditorForm) -> Response:
    """Close the proposal without a case, with the reason."""
    from prodsec.workspace import proposal_decisions as decisions

    reason = str(sent.form.get("reason") or "")[:10000]
    return await _form_write(
        request, sent, lambda session: decisions.dismiss(session, sent.actor, proposal_id, reason),
        lambda _p: _redirect("/cases/proposed"),
        lambda exc: _page(request, sent.actor, sent.csrf, _status(exc),
                          {"id": proposal_id, "text": str(exc)}))
