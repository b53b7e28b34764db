"""The vulnerability reporting clocks (CRA Article 14 cases)."""

from __future__ import annotations

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

router = APIRouter(include_in_schema=False)


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request) -> HTMLResponse:
    """CRA Article 14 cases: every report stage with its UTC deadline, overdue first."""

    actor, csrf = signed_in(request)
    return _cases(request, actor, csrf)


def _cases(request: Request, actor: Actor, csrf: str, status: int = 200,
           form_error: dict[str, Any] | None = None) -> HTMLResponse:
    """The cases page; each open case with the form of its next report, pre-filled from the
    draft (or from what was sent when the form was refused)."""
    from prodsec.workspace import article14
    from prodsec.workspace import article14_reports as reports

    state = web_state(request)
    with state.database.transaction() as session:
        cases = article14.list_cases(session, actor, state.kb)
        for c in cases:
            done = {s["stage"] for s in c["submissions"]}
            todo = [st for st in article14.STAGES if st not in done]
            if c["closed_at"] or not todo:
                continue
            draft = article14.draft(session, actor, state.kb, c["id"], todo[0])
            values = (form_error or {}).get("values") if (form_error or {}).get("case") == c["id"] else None
            content = values or draft["content"]
            c["next_form"] = {"stage": todo[0], "later": todo[1:], "blocked": draft["blocked"],
                              "items": [{"key": i.key, "label": i.label, "point": i.point,
                                         "required": i.required, "kind": i.kind,
                                         "value": content.get(i.key)}
                                        for i in reports.items_of(c["kind"], todo)]}
    return render(request, "cases.html.j2", {"cases": cases, "form_error": form_error},
                   status=status, actor=actor, csrf=csrf)


@router.post("/cases/{case_id}/submit", response_class=HTMLResponse)
async def submit_report(request: Request, case_id: str, sent: EditorForm) -> Response:
    """Submit a case's next report from the form: refused out of order or with a required item
    empty, with the reason shown on the page (409 / 422, as the API)."""
    from prodsec.workspace import article14
    from prodsec.workspace import article14_reports as reports

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    kb = web_state(request).kb
    stage = str(form.get("stage") or "")
    includes = tuple(str(v) for v in form.getlist("includes"))
    values: dict[str, Any] = {}

    def work(session: Any) -> None:
        case = article14.get_case(session, actor, case_id)
        stages = [st for st in article14.STAGES if st in (stage, *includes)] or [stage]
        for item in reports.items_of(case.kind, [s for s in stages if s in article14.STAGES]):
            raw = str(form.get(item.key) or "").strip()[:20000]
            values[item.key] = (
                [v.strip() for v in raw.split(",") if v.strip()] if item.kind == "list"
                else {"yes": True, "no": False}.get(raw) if item.kind == "bool" else raw)
        article14.submit(session, actor, kb, case_id, stage, None,
                         str(form.get("reference") or "").strip()[:300], values, includes)

    return await form_write(request, sent, work, lambda _r: redirect(f"/cases#case-{case_id}"),
                             lambda exc: _cases(request, actor, csrf, status_of(exc), form_error={
                                 "case": case_id, "text": str(exc), "values": values}))

