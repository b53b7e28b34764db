"""Products: the wizard, profile import, the product page, its documents and releases."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages.common import (
    RELEASE_LABELS,
    EditorForm,
    ViewerForm,
    current_date,
    error_page,
    form_date,
    form_months,
    form_values,
    form_write,
    labelled,
    obligation_word,
    page_error,
    redirect,
    render,
    signed_in,
    status_of,
    svg,
    upload_limit,
    web_state,
)
from prodsec.web.pages.records import where_in_web
from prodsec.web.questions import profile_from_form, questions
from prodsec.workspace.context import Actor, NotFound, ValidationFailed

router = APIRouter(include_in_schema=False)


def _wizard_context(request: Request, form: Any = None, errors: dict[str, str] | None = None,
                    preview: Any = None) -> dict[str, Any]:
    kb = web_state(request).kb
    return {"questions": questions(kb.data["vocabulary"]), "form": form or {},
            "errors": errors or {}, "preview": preview}


@router.get("/products/new", response_class=HTMLResponse)
def wizard(request: Request) -> HTMLResponse:
    actor, csrf = signed_in(request)
    return render(request, "wizard.html.j2", _wizard_context(request), actor=actor, csrf=csrf)


def _profile_errors(exc: Exception) -> dict[str, str]:
    problems = getattr(exc, "problems", None) or []
    errors: dict[str, str] = {}
    for p in problems:
        key = p.field.split("[")[0].split(".")[0]
        errors.setdefault(key, p.message)
    return errors


def _preview(kb: Any, raw: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    from prodsec.core.applicability import Engine
    from prodsec.core.profile import ProfileError, parse_profile

    try:
        profile = parse_profile(raw | {"name": raw.get("name") or "preview",
                                       "markets": raw.get("markets") or ["EU"]}, kb.vocabulary)
    except ProfileError as exc:
        return None, _profile_errors(exc)
    return Engine(kb).check(profile, current_date()).to_dict(), {}


@router.post("/products/preview", response_class=HTMLResponse)
def wizard_preview(request: Request, sent: ViewerForm) -> HTMLResponse:
    """What the answers so far would mean: computes, stores nothing (any role, like the API's
    ``/check``)."""
    form = sent.form
    preview, _errors = _preview(web_state(request).kb, profile_from_form(form, form.getlist))
    return render(request, "_preview.html.j2", {"preview": preview}, actor=sent.actor,
                   csrf=sent.csrf)


@router.post("/products/new", response_class=HTMLResponse)
async def wizard_save(request: Request, sent: EditorForm) -> Response:
    from prodsec.core.profile import ProfileError, parse_profile

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    state = web_state(request)
    raw = profile_from_form(form, form.getlist)
    values = form_values(form)

    def refused(exc: Exception) -> Response:
        if isinstance(exc, ProfileError):
            return render(request, "wizard.html.j2",
                           _wizard_context(request, values, _profile_errors(exc)), status_of(exc),
                           actor, csrf)
        field = getattr(exc, "field", "name").split(".")[-1]
        return render(request, "wizard.html.j2",
                       _wizard_context(request, values, {field: str(exc)}), status_of(exc), actor, csrf)

    if form.get("action") == "preview":
        preview, errors = await run_in_threadpool(_preview, state.kb, raw)
        return await run_in_threadpool(
            render, request, "wizard.html.j2", _wizard_context(request, values, errors, preview),
            200, actor, csrf)
    try:  # parsed before the write queue: a wrong answer never waits for a writer's turn
        await run_in_threadpool(parse_profile, raw, state.kb.vocabulary, "wizard")
    except ProfileError as exc:
        return await run_in_threadpool(refused, exc)
    return await form_write(request, sent, lambda s: _add_product(s, actor, state.kb, raw, "wizard"),
                             lambda pid: redirect(f"/products/{pid}"), refused)


def _add_product(session: Any, actor: Actor, kb: Any, raw: dict[str, Any], source: str) -> str:
    """A new product and its first assessment, in the caller's write transaction."""
    from prodsec.workspace import products

    product = products.add_product(session, actor, kb, raw, source)
    products.assess(session, actor, kb, product.id, current_date())
    return str(product.id)


@router.post("/products/import", response_class=HTMLResponse)
async def import_profile(request: Request, sent: EditorForm) -> Response:
    """A profile file (YAML or JSON): parsed in the threadpool, never on the event loop, and
    before the write queue."""
    from prodsec.core.profile import ProfileError
    from prodsec.errors import EvidenceTooLarge, InputError
    from prodsec.services.check import parse_document

    actor, csrf, upload = sent.actor, sent.csrf, sent.form.get("profile")
    state = web_state(request)

    def refused(exc: Exception) -> Response:
        return render(request, "wizard.html.j2", _wizard_context(
            request, {}, {"profile": str(exc)}), status_of(exc), actor, csrf)

    try:
        if upload is None or isinstance(upload, str):
            raise ValidationFailed("profile", "choose a profile file (.yaml or .json)")
        limit = upload_limit(request, "max_profile_bytes")
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise EvidenceTooLarge("profile", f"the file is larger than the limit of {limit} "
                                              "bytes")
        name = upload.filename or "profile"
        try:  # bounded, no YAML aliases (a 357-byte alias bomb hung the loop for 35 s)
            raw = await run_in_threadpool(parse_document, data, name, name.endswith(".json"))
        except ProfileError as exc:
            raise ValidationFailed("profile", str(exc)) from None
    except InputError as exc:
        return await run_in_threadpool(refused, exc)
    return await form_write(request, sent, lambda s: _add_product(s, actor, state.kb, raw, name),
                             lambda pid: redirect(f"/products/{pid}"), refused)


def _product_data(request: Request, actor: Actor, pid: str) -> dict[str, Any]:
    from prodsec.documents.render import KINDS, list_records
    from prodsec.workspace import gaps, products

    state = web_state(request)
    with state.database.transaction() as session:
        try:
            product = products.get_product(session, actor, pid)
        except NotFound as exc:
            raise page_error(exc) from None
        assessments = products.current_assessments(session, actor, product.id)
        view = products.product_view(product)
        summary = gaps.product_gaps(session, actor, state.kb, product.id, current_date())
        records = list_records(session, actor, product.id, state.kb)[:20]
    kinds = [{"name": k.name, "title": k.title, "formats": k.formats}
             for k in KINDS.values() if k.needs_product]
    return {"product": view, "assessments": [products.assessment_view(a) for a in assessments],
            "verdicts": {a.regulation_id: a.verdict for a in assessments}, "gaps": summary,
            "document_kinds": kinds, "documents": records}


@router.post("/products/{pid}/documents", response_class=HTMLResponse)
async def generate_document(request: Request, pid: str, sent: EditorForm) -> Response:
    """Generate a document (a write: it stores a generation record, so editors and admins
    only, as in the API); when information is missing, say what and where to enter it."""
    from prodsec.documents.facts import MissingInformation, UnverifiedFacts
    from prodsec.documents.render import KINDS, MEDIA
    from prodsec.documents.render import render as render_document

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    state = web_state(request)
    name, fmt = str(form.get("kind") or ""), str(form.get("format") or "html")
    draft = form.get("draft") == "1"
    # answers to OJ-listing restrictions, as the refusal page's questions send them
    answers = {str(k).removeprefix("restriction:"): str(v) for k, v in form.multi_items()
               if str(k).startswith("restriction:") and v}

    def refused(exc: Exception) -> Response:
        if isinstance(exc, MissingInformation | UnverifiedFacts):
            missing, unverified = ((exc.missing, []) if isinstance(exc, MissingInformation)
                                   else ([], exc.facts))
            shown: list[dict[str, str | None]] = [
                {**m.to_dict(), "href": where_in_web(pid, m.key)} for m in missing]
            return render(request, "missing.html.j2", {
                "kind": name, "format": fmt, "pid": pid, "missing": shown,
                "unverified": unverified, "answers": answers,
                "questions": [m for m in shown if str(m["key"]).startswith("restriction.")]},
                status_of(exc), actor, csrf)
        kind = KINDS.get(name)
        raise page_error(exc, title=f"Not generated: {kind.title if kind else name}",
                         back=(f"/products/{pid}#documents", "Back to the product"))

    def done(data: bytes) -> Response:
        disposition = "inline" if fmt == "html" else "attachment"
        filename = f"{name}{'-draft' if draft else ''}.{fmt}"
        return Response(data, media_type=MEDIA[fmt],
                        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'})

    return await form_write(request, sent, lambda s: render_document(
        name, s, actor, pid, fmt, draft=draft, kb=state.kb, answers=answers,
        store=state.database.evidence_dir)[0], done, refused)


@router.post("/products/{pid}/documents/acknowledge", response_class=HTMLResponse)
async def acknowledge_facts(request: Request, pid: str, sent: EditorForm) -> Response:
    """Confirm the unverified facts ticked on the refusal page (stored and audited), then
    show the page again: the document can be generated once none is left."""
    from prodsec.documents.acknowledge import acknowledge, pending

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    state = web_state(request)
    name, fmt = str(form.get("kind") or ""), str(form.get("format") or "html")
    keys = [str(k) for k in form.getlist("fact")]
    answers = {str(k).removeprefix("restriction:"): str(v) for k, v in form.multi_items()
               if str(k).startswith("restriction:") and v}

    def done(_result: object) -> Response:
        with state.database.transaction() as session:
            left = pending(session, actor, name, pid, kb=state.kb)
        return render(request, "missing.html.j2", {"kind": name, "format": fmt, "pid": pid,
                                                    "missing": [], "unverified": left,
                                                    "confirmed": len(keys), "answers": answers,
                                                    "questions": []},
                       200, actor, csrf)

    return await form_write(request, sent, lambda s: acknowledge(
        s, actor, name, pid, keys, str(form.get("reason") or ""), kb=state.kb), done, error_page)


@router.get("/products/{pid}", response_class=HTMLResponse)
def product_page(request: Request, pid: str) -> HTMLResponse:
    from prodsec.services import landscape

    actor, csrf = signed_in(request)
    data = _product_data(request, actor, pid)
    binding = {r for r, v in data["verdicts"].items()
               if v.get("status") in ("required", "upcoming", "voluntary")}
    kb = web_state(request).kb
    data["svg"] = svg(landscape.render(kb, "rigor", "svg", binding, lambda i: f"/regulations/{i}"))
    data["timeline"] = _timeline(kb, data["verdicts"], binding)
    return render(request, "product.html.j2", data, actor=actor, csrf=csrf)


def _timeline(kb: Any, verdicts: dict[str, Any], binding: set[str]) -> list[dict[str, Any]]:
    today = current_date().isoformat()
    events = []
    for reg_id in sorted(binding):
        reg = kb.regulations[reg_id]
        for d in reg["dates"]:
            events.append({"date": d["date"], "regulation": reg["short_name"], "text": d["text"],
                           "past": d["date"] <= today})
        for ob in verdicts[reg_id].get("obligations", []):
            events.append({"date": ob["applies_from"], "regulation": reg["short_name"],
                           "text": f"{obligation_word(ob)}: {ob['title']}",
                           "past": ob["applies_from"] <= today})
    return sorted(events, key=lambda e: (e["date"], e["regulation"]))


@router.post("/products/{pid}/releases", response_class=HTMLResponse)
async def add_release(request: Request, pid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import products

    actor, csrf, form = sent.actor, sent.csrf, sent.form

    def refused(exc: Exception) -> Response:
        data = _product_data(request, actor, pid)
        data |= {"release_error": labelled(exc, RELEASE_LABELS),
                 "release_form": form_values(form), "svg": "",
                 "timeline": []}
        return render(request, "product.html.j2", data, status_of(exc), actor, csrf)

    def work(session: Any) -> None:
        placed = form_date(form.get("placed_on_market"), "placed_on_market")
        end = form_date(form.get("support_end"), "support_end")
        months = form_months(form.get("expected_use_months"), "expected_use_months")
        products.add_release(session, actor, pid, str(form.get("version_label") or ""),
                             placed, end, str(form.get("support_rationale") or ""), months)

    return await form_write(request, sent, work,
                             lambda _r: redirect(f"/products/{pid}#releases"), refused)

