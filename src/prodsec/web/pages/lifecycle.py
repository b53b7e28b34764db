"""A product's life after the wizard: edit its profile (the wizard pre-filled, then the verdict
diff to confirm), archive and restore it, delete it (after a page that says what goes and what
stays), and edit or delete its releases. The same services as ``prodsec product edit|archive|
restore|delete`` and the API (``workspace.products``); the version the page was drawn from is
the If-Match of each write, so a page left open never overwrites a newer edit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages.common import (
    EditorForm,
    Submitted,
    current_date,
    form_date,
    form_months,
    form_values,
    form_write,
    page_error,
    permit,
    redirect,
    render,
    signed_in,
    status_of,
    web_state,
)
from prodsec.web.pages.products import _preview, _product_data, _profile_errors, _wizard_context
from prodsec.web.questions import form_from_profile, profile_from_form
from prodsec.workspace.context import Actor, NotFound, ValidationFailed

router = APIRouter(include_in_schema=False)


def _read(request: Request, work: Any) -> Any:
    """``work(session)`` in a read transaction; a missing object is the 404 page."""
    with web_state(request).database.transaction() as session:
        try:
            return work(session)
        except NotFound as exc:
            raise page_error(exc) from None


def _version(form: Any) -> int | None:
    """The version the page was drawn from (the If-Match of the write)."""
    value = str(form.get("version") or "")
    return int(value) if value.isdigit() else None


# ---- archived products -----------------------------------------------------------------------


@router.get("/products/archived", response_class=HTMLResponse)
def archived_page(request: Request) -> HTMLResponse:
    """The archived products (the portfolio leaves them out), each restorable."""
    from prodsec.workspace import compliance

    actor, csrf = signed_in(request)
    rows = _read(request, lambda s: [
        {"id": p.id, "name": p.name, "version": p.version, "archived_at": p.archived_at}
        for p in compliance.products_of(s, actor, archived=True) if p.archived_at is not None])
    return render(request, "archived.html.j2", {"products": rows}, actor=actor, csrf=csrf)


# ---- edit the profile ------------------------------------------------------------------------


def _edit_context(request: Request, product: dict[str, Any], form: Any = None,
                  errors: dict[str, str] | None = None, preview: Any = None) -> dict[str, Any]:
    return _wizard_context(request, form, errors, preview) | {"edit": {
        "pid": product["id"], "name": product["name"], "version": product["version"]}}


def _product(request: Request, actor: Actor, pid: str) -> dict[str, Any]:
    from prodsec.workspace import products

    return dict(_read(request, lambda s: products.product_view(
        products.get_product(s, actor, pid))))


@router.get("/products/{pid}/edit", response_class=HTMLResponse)
def edit_page(request: Request, pid: str) -> HTMLResponse:
    """The wizard, pre-filled with the product's profile (editors and admins: a viewer would
    fill it in only to be refused at the save)."""
    actor, csrf = signed_in(request)
    permit(actor, "editor")
    product = _product(request, actor, pid)
    form = form_from_profile(product["profile"]) | {"version": product["version"]}
    return render(request, "wizard.html.j2", _edit_context(request, product, form),
                  actor=actor, csrf=csrf)


@router.post("/products/{pid}/edit", response_class=HTMLResponse)
async def edit_save(request: Request, pid: str, sent: EditorForm) -> Response:
    """``action``: ``preview`` (the wizard's preview), ``back`` (the wizard again with the
    answers), ``review`` (the verdict diff, nothing stored) or ``save`` (the profile with the
    version reviewed as If-Match, then a new assessment)."""
    from prodsec.core.profile import ProfileError, parse_profile

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    state = web_state(request)
    product = await run_in_threadpool(_product, request, actor, pid)
    raw = profile_from_form(form, form.getlist)
    values = form_values(form)
    action = str(form.get("action") or "review")

    def wizard(errors: dict[str, str], status: int = 200, preview: Any = None) -> Response:
        return render(request, "wizard.html.j2",
                      _edit_context(request, product, values, errors, preview), status, actor, csrf)

    def refused(exc: Exception) -> Response:
        if isinstance(exc, ProfileError):
            return wizard(_profile_errors(exc), status_of(exc))
        field = getattr(exc, "field", "form").split(".")[-1]
        return wizard({field: str(exc)}, status_of(exc))

    if action in ("preview", "back"):
        preview, errors = (await run_in_threadpool(_preview, state.kb, raw) if action == "preview"
                           else (None, {}))
        return await run_in_threadpool(wizard, errors, 200, preview)
    try:  # parsed before any database work: a wrong answer goes back to its question
        await run_in_threadpool(parse_profile, raw, state.kb.vocabulary, "wizard")
    except ProfileError as exc:
        return await run_in_threadpool(refused, exc)
    if action != "save":
        return await run_in_threadpool(_review, request, sent, pid, raw)
    return await form_write(request, sent, lambda s: _save_profile(
        s, actor, state.kb, pid, raw, _version(form)), lambda _r: redirect(f"/products/{pid}"),
        refused)


def _review(request: Request, sent: Submitted, pid: str, raw: dict[str, Any]) -> Response:
    """The verdict diff of the answers, with the answers as hidden fields to save or go back."""
    from prodsec.workspace import products

    state = web_state(request)
    changes = _read(request, lambda s: products.profile_changes(
        s, sent.actor, state.kb, pid, raw, current_date()))
    version = _version(sent.form)
    hidden = [(str(k), str(v)) for k, v in sent.form.multi_items()
              if k not in ("csrf_token", "action", "version") and isinstance(v, str)]
    stale = version is not None and version != changes["version"]
    return render(request, "product_edit.html.j2", {
        "pid": pid, "name": _product(request, sent.actor, pid)["name"], "data": changes,
        "hidden": hidden, "version": version if version is not None else changes["version"],
        "stale": stale}, actor=sent.actor, csrf=sent.csrf)


def _save_profile(session: Any, actor: Actor, kb: Any, pid: str, raw: dict[str, Any],
                  version: int | None) -> None:
    """The reviewed profile, then a fresh assessment (statuses carry over), in one write."""
    from prodsec.workspace import products

    product = products.update_profile(session, actor, kb, pid, raw, version)
    products.assess(session, actor, kb, product.id, current_date())


# ---- archive, restore, delete ----------------------------------------------------------------


def _product_refused(request: Request, actor: Actor, csrf: str, pid: str) -> Any:
    """The product page again with the refusal under its "Manage" heading."""

    def refused(exc: Exception) -> Response:
        if isinstance(exc, NotFound):
            raise page_error(exc)
        data = _product_data(request, actor, pid) | {"manage_error": str(exc), "svg": "",
                                                      "timeline": []}
        return render(request, "product.html.j2", data, status_of(exc), actor, csrf)

    return refused


@router.post("/products/{pid}/archive", response_class=HTMLResponse)
async def archive(request: Request, pid: str, sent: EditorForm) -> Response:
    return await _archived(request, pid, sent, True)


@router.post("/products/{pid}/restore", response_class=HTMLResponse)
async def restore(request: Request, pid: str, sent: EditorForm) -> Response:
    return await _archived(request, pid, sent, False)


async def _archived(request: Request, pid: str, sent: Submitted, archived: bool) -> Response:
    from prodsec.workspace import products

    return await form_write(
        request, sent, lambda s: products.set_archived(s, sent.actor, pid, archived,
                                                       _version(sent.form)),
        lambda _r: redirect(f"/products/{pid}#manage"),
        _product_refused(request, sent.actor, sent.csrf, pid))


@router.get("/products/{pid}/delete", response_class=HTMLResponse)
def delete_page(request: Request, pid: str) -> HTMLResponse:
    """What deleting removes and what the audit trail keeps, before the user confirms."""
    from prodsec.workspace import products

    actor, csrf = signed_in(request)
    effects = _read(request, lambda s: products.deletion_effects(s, actor, pid))
    return render(request, "product_delete.html.j2", {"data": effects}, actor=actor, csrf=csrf)


@router.post("/products/{pid}/delete", response_class=HTMLResponse)
async def delete(request: Request, pid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import products

    def refused(exc: Exception) -> Response:
        effects = _read(request, lambda s: products.deletion_effects(s, sent.actor, pid))
        return render(request, "product_delete.html.j2", {"data": effects, "error": str(exc)},
                      status_of(exc), sent.actor, sent.csrf)

    return await form_write(request, sent, lambda s: products.delete_product(
        s, sent.actor, pid, _version(sent.form)), lambda _r: redirect("/portfolio"), refused)


# ---- releases --------------------------------------------------------------------------------


def _release_of(session: Any, actor: Actor, pid: str, rid: str) -> Any:
    """The release ``rid`` of product ``pid`` (404 when either is not the organisation's or
    the release belongs to another product)."""
    from prodsec.workspace import products

    product = products.get_product(session, actor, pid)
    release = products.get_release(session, actor, rid)
    if release.product_id != product.id:
        raise NotFound(f"no release {rid!r}")
    return release


def _release_page(request: Request, actor: Actor, csrf: str, pid: str, rid: str,
                  form: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                  status: int = 200) -> HTMLResponse:
    from prodsec.workspace import products

    def view(session: Any) -> dict[str, Any]:
        release = _release_of(session, actor, pid, rid)
        return {"release": products.release_view(release),
                "product": {"id": release.product.id, "name": release.product.name,
                            "archived": release.product.archived_at is not None}}

    data = _read(request, view)
    return render(request, "release.html.j2", data | {
        "form": form or {k: v or "" for k, v in data["release"].items()},
        "errors": errors or {}}, status, actor, csrf)


@router.get("/products/{pid}/releases/{rid}", response_class=HTMLResponse)
def release_page(request: Request, pid: str, rid: str) -> HTMLResponse:
    """A release's edit form: label, dates, the support period's end, the expected use time
    and the rationale (CRA Art. 13(8))."""
    actor, csrf = signed_in(request)
    return _release_page(request, actor, csrf, pid, rid)


@router.post("/products/{pid}/releases/{rid}", response_class=HTMLResponse)
async def release_save(request: Request, pid: str, rid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import products

    form = sent.form

    def work(session: Any) -> None:
        release = _release_of(session, sent.actor, pid, rid)
        changes = {"version_label": str(form.get("version_label") or "").strip(),
                   "placed_on_market": form_date(form.get("placed_on_market"), "placed_on_market"),
                   "support_end": form_date(form.get("support_end"), "support_end"),
                   "support_rationale": str(form.get("support_rationale") or ""),
                   "expected_use_months": form_months(form.get("expected_use_months"),
                                                      "expected_use_months")}
        products.update_release(session, sent.actor, release, changes, _version(form))

    return await form_write(request, sent, work,
                            lambda _r: redirect(f"/products/{pid}#releases"),
                            _release_refused(request, sent, pid, rid))


@router.post("/products/{pid}/releases/{rid}/delete", response_class=HTMLResponse)
async def release_delete(request: Request, pid: str, rid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import products

    def work(session: Any) -> None:
        release = _release_of(session, sent.actor, pid, rid)
        products.delete_release(session, sent.actor, release, _version(sent.form))

    return await form_write(request, sent, work,
                            lambda _r: redirect(f"/products/{pid}#releases"),
                            _release_refused(request, sent, pid, rid))


def _release_refused(request: Request, sent: Submitted, pid: str, rid: str) -> Any:
    """The release form again with the user's values and the error next to its field."""

    def refused(exc: Exception) -> Response:
        field = exc.field if isinstance(exc, ValidationFailed) else "form"
        return _release_page(request, sent.actor, sent.csrf, pid, rid, form_values(sent.form),
                             {field: str(getattr(exc, "detail", None) or exc)}, status_of(exc))

    return refused
