"""The assessment board: statuses, evidence and controls of one product."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from prodsec.core.ordering import natural_sorted
from prodsec.web.pages.common import (
    EditorForm,
    current_date,
    form_date,
    form_values,
    form_write,
    page_error,
    redirect,
    render,
    signed_in,
    status_of,
    web_state,
)
from prodsec.workspace.context import Actor, Conflict, NotFound, PermissionDenied, ValidationFailed

router = APIRouter(include_in_schema=False)


def _board_data(request: Request, actor: Actor, pid: str, status: str = "", category: str = "",
                q: str = "") -> dict[str, Any]:
    from prodsec.workspace import compliance, gaps, products

    state = web_state(request)
    kb = state.kb
    with state.database.transaction() as session:
        try:
            product = products.get_product(session, actor, pid)
        except NotFound as exc:
            raise page_error(exc) from None
        controls = compliance.list_controls(session, actor)
        instruments = []
        for a in products.current_assessments(session, actor, product.id):
            if a.status not in gaps.BINDING:
                continue
            rows = compliance.statuses_of(session, actor, a.id)
            progress = gaps.instrument_gaps(kb, a, rows, current_date(),
                                             gaps.placings_of(product))
            shown = [_row(session, actor, kb, r, controls) for r in rows
                     if (not status or r.status == status) and (not category or r.category == category)
                     and (not q or q.lower() in (r.requirement_id + " " + kb.requirements.get(
                         r.requirement_id, {}).get("title", "")).lower())]
            instruments.append({"assessment": products.assessment_view(a), "progress": progress,
                                "rows": shown})
        return {"product": products.product_view(product), "instruments": instruments,
                "controls": [compliance.control_view(c) for c in controls],
                "filters": {"status": status, "category": category, "q": q},
                "query": _query(status, category, q),
                "statuses": compliance.STATUSES}


def _query(status: str, category: str, q: str) -> str:
    """The board's filter as a query string ("" when none), carried by every form's action so
    that a save, or its error, comes back to the same filtered list."""
    kept = {k: v for k, v in (("q", q), ("status", status), ("category", category)) if v}
    return "?" + urlencode(kept) if kept else ""


def _filters(request: Request) -> dict[str, str]:
    """The filter a board form was posted from (its action's query string), bounded."""
    return {k: str(request.query_params.get(k, ""))[:200] for k in ("status", "category", "q")}


def _back(request: Request, pid: str, sid: str) -> Response:
    """After a write: the same filtered board, scrolled to the item and with its details open
    (``open``), so that a status saved and then evidence attached need no reopening."""
    query = _query(**_filters(request))
    return redirect(f"/products/{pid}/board{query}{'&' if query else '?'}"
                    f"{urlencode({'open': sid})}#s-{sid}")


def _row(session: Any, actor: Actor, kb: Any, row: Any, controls: list[Any]) -> dict[str, Any]:
    """One requirement on the board: its status, text, evidence, and what else it counts for."""
    from prodsec.workspace import compliance
    from prodsec.workspace.products import status_view

    req = kb.requirements.get(row.requirement_id, {})
    linked = [c for c in controls if row.requirement_id in c.requirements]
    also = natural_sorted({r for c in linked for r in c.requirements if r != row.requirement_id})
    return {"status": status_view(row), "title": req.get("title", ""), "text": req.get("text", ""),
            "citation": kb.cite(req.get("citation"), kb.document(kb.document_id(row.requirement_id)))
            if req else "", "controls": [c.name for c in linked], "also_satisfies": also,
            "related": [r["requirement"] for r in kb.related(row.requirement_id, 1)][:6]
            if row.requirement_id in kb.requirements else [],
            "evidence": [compliance.evidence_view(e) | {
                "expiry": compliance.expiry_state(e.expires_on, current_date())}
                for e in compliance.evidence_for_status(session, actor, row.id)]}


@router.get("/products/{pid}/board", response_class=HTMLResponse)
def board(request: Request, pid: str, status: str = "", category: str = "", q: str = "",
          open_item: str = Query("", alias="open", max_length=64)) -> HTMLResponse:
    """The board; ``open`` names the item whose details stay open (the one just saved)."""
    actor, csrf = signed_in(request)
    data = _board_data(request, actor, pid, status, category, q)
    return render(request, "board.html.j2", data | {"message": None, "error": None,
                                                    "opened": open_item}, actor=actor, csrf=csrf)


@router.post("/products/{pid}/statuses/{sid}", response_class=HTMLResponse)
async def change_status(request: Request, pid: str, sid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import compliance

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    state = web_state(request)

    def work(session: Any) -> None:
        try:
            version = int(str(form.get("version") or "0"))
        except ValueError:
            raise ValidationFailed("version", "expected a number") from None
        row = compliance.get_status(session, actor, sid)
        compliance.set_status(session, actor, row, str(form.get("status") or ""),
                              str(form.get("justification") or ""), version)

    def refused(exc: Exception) -> Response:
        if not isinstance(exc, Conflict):
            return _board_error(request, actor, csrf, pid, str(exc), sid, status_of(exc), form)
        with state.database.transaction() as session:
            now = compliance.get_status(session, actor, sid)
            message = (f"Someone else changed {now.requirement_id} meanwhile: it is now "
                       f"'{now.status}'{' — ' + now.justification if now.justification else ''}. "
                       "Your change was not saved; review and save again.")
        return _board_error(request, actor, csrf, pid, message, sid, status_of(exc))

    return await form_write(request, sent, work,
                             lambda _r: _back(request, pid, sid), refused)


def _board_error(request: Request, actor: Actor, csrf: str, pid: str, message: str, sid: str,
                 status: int, form: Any = None) -> HTMLResponse:
    data = _board_data(request, actor, pid, **_filters(request))
    entered = form_values(form) if form is not None else None
    shown = {r["status"]["id"] for i in data["instruments"] for r in i["rows"]}
    if sid not in shown:  # filtered out (e.g. someone changed its status): the error on top
        sid = ""
    return render(request, "board.html.j2", data | {
        "message": None, "error": {"sid": sid, "text": message, "form": entered}}, status, actor, csrf)


@router.post("/products/{pid}/statuses/{sid}/evidence", response_class=HTMLResponse)
async def upload_evidence(request: Request, pid: str, sid: str, sent: EditorForm) -> Response:
    """Attach a file or a link; async only to stage the upload and queue for the write
    (``writes``), which run the database work on worker threads."""
    from anyio import to_thread

    from prodsec.workspace import compliance, staging, writes

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    upload = form.get("file")
    url = str(form.get("url") or "").strip() or None
    state = web_state(request)
    store = state.database.evidence_dir
    has_file = upload is not None and not isinstance(upload, str) and upload.filename
    title = str(form.get("title") or "").strip() or (upload.filename if has_file else url) or ""
    try:
        expires = form_date(form.get("expires_on"), "expires_on")
        # The file is staged before the write transaction begins: it only inserts rows.
        with staging.staged(store, compliance.MAX_EVIDENCE_BYTES) as file:
            if has_file:
                await to_thread.run_sync(staging.copy_into, file, upload.file)

            def insert(session: Any) -> None:
                row = compliance.get_status(session, actor, sid)
                item = compliance.add_evidence(
                    session, actor, store, title, staged=file if has_file else None,
                    filename=upload.filename if has_file else None,
                    media_type=upload.content_type if has_file else None,
                    url=None if has_file else url, expires_on=expires)
                compliance.link_evidence(session, actor, item, status=row)

            await writes.write(state.database, actor.org_id, insert)
    except NotFound as exc:
        raise page_error(exc) from None
    except (ValidationFailed, PermissionDenied) as exc:
        return await to_thread.run_sync(_board_error, request, actor, csrf, pid, str(exc), sid,
                                        status_of(exc), form)
    return _back(request, pid, sid)


@router.post("/products/{pid}/statuses/{sid}/control", response_class=HTMLResponse)
async def link_control(request: Request, pid: str, sid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import compliance

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    kb = web_state(request).kb

    def work(session: Any) -> None:
        row = compliance.get_status(session, actor, sid)
        name = str(form.get("control") or "").strip()
        new_name = str(form.get("new_control") or "").strip()
        if new_name:
            compliance.add_control(session, actor, kb, new_name, [row.requirement_id])
        elif name:
            control = compliance.get_control(session, actor, name)
            compliance.update_control(session, actor, kb, control, {
                "requirements": [*control.requirements, row.requirement_id]}, control.version)
        else:
            raise ValidationFailed("control", "choose a control or name a new one")

    return await form_write(
        request, sent, work, lambda _r: _back(request, pid, sid),
        lambda exc: _board_error(request, actor, csrf, pid, str(exc), sid, status_of(exc), form))

