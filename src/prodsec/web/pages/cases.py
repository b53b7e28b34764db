"""The vulnerability reporting clocks (CRA Article 14 cases): confirm a case (its clocks start
at awareness), submit each stage in the Article's order, record the corrective measure, close
it. The same services as ``prodsec case open|submit|measure|close`` and the API
(``workspace.article14``); a refused form comes back with the error next to its field and the
values kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages.common import (
    EditorForm,
    form_values,
    form_write,
    permit,
    redirect,
    render,
    signed_in,
    status_of,
    web_state,
)
from prodsec.workspace.context import Actor, NotFound, ValidationFailed

router = APIRouter(include_in_schema=False)


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request) -> HTMLResponse:
    """CRA Article 14 cases: every report stage with its UTC deadline, overdue first."""

    actor, csrf = signed_in(request)
    return _cases(request, actor, csrf)


def _cases(request: Request, actor: Actor, csrf: str, status: int = 200,
           form_error: dict[str, Any] | None = None) -> HTMLResponse:
    """The cases page; each open case with its next stage, that stage's deadline and the form
    of its report, pre-filled from the draft (or from what was sent when the form was
    refused), then the corrective-measure and closing forms."""
    from prodsec.workspace import article14

    state = web_state(request)
    with state.database.transaction() as session:
        cases = article14.list_cases(session, actor, state.kb)
        for c in cases:
            if not c["closed_at"]:
                c["next_form"] = _next_form(session, actor, state.kb, c, form_error)
    return render(request, "cases.html.j2", {"cases": cases, "form_error": form_error},
                  status=status, actor=actor, csrf=csrf)


def _next_form(session: Any, actor: Actor, kb: Any, case: dict[str, Any],
               form_error: dict[str, Any] | None) -> dict[str, Any] | None:
    """The next stage to submit (None once the final report is in), with its clock."""
    from prodsec.workspace import article14
    from prodsec.workspace import article14_reports as reports

    done = {s["stage"] for s in case["submissions"]}
    todo = [st for st in article14.STAGES if st not in done]
    if not todo:
        return None
    draft = article14.draft(session, actor, kb, case["id"], todo[0])
    mine = form_error if (form_error or {}).get("case") == case["id"] else None
    content = (mine or {}).get("values") or draft["content"]
    def item(i: Any, group: str) -> dict[str, Any]:
        return {"key": i.key, "label": i.label, "point": i.point, "required": i.required,
                "kind": i.kind, "value": content.get(i.key), "group": group, "hint": i.hint}

    seen: set[str] = set()
    groups = []  # this stage's items, then each later stage's (sent only when included)
    for stage in todo:
        own = [item(i, stage) for i in reports.ITEMS[(case["kind"], stage)] if i.key not in seen]
        seen |= {i["key"] for i in own}
        groups.append({"stage": stage, "items": own})
    users = [item(i, "users") | {"required": False, "final_required": i.required}
             for i in reports.USER_ITEMS]
    return {"stage": todo[0], "later": todo[1:], "blocked": draft["blocked"],
            "clock": next(s for s in case["stages"] if s["stage"] == todo[0]),
            "groups": groups, "users": users,
            "items": [i for g in groups for i in g["items"]] + users}


def _field_errors(exc: Exception) -> dict[str, str]:
    """A refusal's message by the field it names (``content.severity`` → ``severity``); the
    empty required items each get their own."""
    from prodsec.workspace.article14_reports import ItemsMissing

    if isinstance(exc, ItemsMissing):
        return {key: "required: write 'not known yet' where that is the answer"
                for key in exc.keys}
    if isinstance(exc, ValidationFailed):
        return {exc.field.split(".")[-1]: exc.detail}
    return {}


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
                                "case": case_id, "action": "submit", "text": str(exc),
                                "values": values, "fields": _field_errors(exc),
                                "sent_includes": list(includes)}))


@router.post("/cases/{case_id}/measure", response_class=HTMLResponse)
async def measure(request: Request, case_id: str, sent: EditorForm) -> Response:
    """A corrective or mitigating measure is available (at the time given, UTC): the
    vulnerability's final-report clock starts."""
    from prodsec.workspace import article14

    at = str(sent.form.get("at") or "").strip()
    return await form_write(
        request, sent, lambda s: article14.measure_available(
            s, sent.actor, case_id, _time("at", at)),
        lambda _r: redirect(f"/cases#case-{case_id}"),
        _case_refused(request, sent, case_id, "measure"))


@router.post("/cases/{case_id}/close", response_class=HTMLResponse)
async def close(request: Request, case_id: str, sent: EditorForm) -> Response:
    """Close a case once its final report is in, with the advisory and VEX that close it."""
    from prodsec.workspace import article14

    form = sent.form
    advisory = str(form.get("advisory") or "").strip()
    return await form_write(
        request, sent, lambda s: article14.close(s, sent.actor, case_id, advisory or None,
                                                 str(form.get("vex_reference") or "").strip()),
        lambda _r: redirect(f"/cases#case-{case_id}"),
        _case_refused(request, sent, case_id, "close"))


@router.post("/cases/{case_id}/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request, case_id: str, sent: EditorForm) -> Response:
    """Withdraw a case opened in error (nothing submitted yet), with the reason: it stays on
    the page as withdrawn, its clocks stopped."""
    from prodsec.workspace import article14

    reason = str(sent.form.get("reason") or "")
    return await form_write(
        request, sent, lambda s: article14.withdraw(s, sent.actor, case_id, reason),
        lambda _r: redirect(f"/cases#case-{case_id}"),
        _case_refused(request, sent, case_id, "withdraw"))


def _case_refused(request: Request, sent: Any, case_id: str, action: str) -> Any:
    def refused(exc: Exception) -> Response:
        return _cases(request, sent.actor, sent.csrf, status_of(exc), form_error={
            "case": case_id, "action": action, "text": str(exc),
            "values": {}, "fields": _field_errors(exc), "sent": form_values(sent.form)})

    return refused


def _time(field: str, value: str) -> dt.datetime:
    """A form's time (a datetime-local field: naive, read as UTC), its error naming
    ``field``; now when empty."""
    from prodsec.workspace.vex import parse_time

    try:
        return parse_time(value or None)
    except ValidationFailed as exc:
        raise ValidationFailed(field, exc.detail) from None


# ---- confirming a case ----------------------------------------------------------------------


@router.get("/cases/new", response_class=HTMLResponse)
def new_case_page(request: Request) -> HTMLResponse:
    """Confirm an actively exploited vulnerability or a severe incident: pre-filled from a
    finding's link (``?product=…&vulnerability=…``)."""
    actor, csrf = signed_in(request)
    permit(actor, "editor")
    query = request.query_params
    form = {"product": query.get("product", ""), "vulnerability": query.get("vulnerability", ""),
            "kind": "vulnerability" if query.get("vulnerability") else ""}
    return _new_case(request, actor, csrf, form, {})


def _new_case(request: Request, actor: Actor, csrf: str, form: dict[str, Any],
              errors: dict[str, str], status: int = 200) -> HTMLResponse:
    from prodsec.core.clock import utcnow
    from prodsec.workspace import compliance

    with web_state(request).database.transaction() as session:
        products = [{"id": p.id, "name": p.name} for p in compliance.products_of(session, actor)]
    now = utcnow().strftime("%Y-%m-%dT%H:%M")
    return render(request, "case_new.html.j2", {"products": products, "form": form,
                                                "errors": errors, "now": now},
                  status, actor, csrf)


@router.post("/cases/new", response_class=HTMLResponse)
async def open_case(request: Request, sent: EditorForm) -> Response:
    """Open the case: its 24-hour, 72-hour and final-report clocks run from awareness."""
    from prodsec.workspace import article14

    form, actor = sent.form, sent.actor
    values = form_values(form)
    kind = str(form.get("kind") or "")

    def work(session: Any) -> str:
        case = article14.open_case(
            session, actor, str(form.get("product") or ""), kind,
            str(form.get("title") or ""), _time("aware_at", str(form.get("aware_at") or "")),
            vulnerability=str(form.get("vulnerability") or "").strip() or None,
            member_state_code=str(form.get("member_state") or "") or None,
            description=str(form.get("description") or ""), kb=web_state(request).kb)
        return str(case.id)

    def refused(exc: Exception) -> Response:
        errors = _field_errors(exc) or {"product" if isinstance(exc, NotFound) else "form":
                                        str(exc)}
        return _new_case(request, actor, sent.csrf, values, errors, status_of(exc))

    return await form_write(request, sent, work, lambda cid: redirect(f"/cases#case-{cid}"),
                            refused, missing_is_404=False)
