"""The records a declaration rests on: the organisation's details (the manufacturer's identity),
a product's documentation facts, downloads of generated documents and evidence files, and the
audit trail with its chain verification.

Every read and write goes through the services the CLI (``prodsec org set``, ``prodsec product
docs``, ``prodsec document list``) and the API use, so the role rules and the tenancy are the
same: the organisation's details are the admins' to change, a product's facts the editors'; a
download of another organisation's document or evidence answers 404 like an unknown id.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from prodsec.web.pages.common import (
    AdminForm,
    EditorForm,
    error_page,
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
from prodsec.workspace.context import Actor, NotFound, ValidationFailed

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 50
#: Documentation facts that fit on one line; the others are prose (a textarea).
ONE_LINE = frozenset({"type_designation", "sbom_url", "doc_url", "support_type",
                      "conformity_route", "serial_numbers"})
#: Where an evidence expiry form may send the browser back to: a board, at a requirement.
BOARD_BACK = re.compile(r"/products/[A-Za-z0-9_-]{1,64}/board(\?open=[A-Za-z0-9_-]{1,64})?"
                        r"(#s-[A-Za-z0-9_-]{1,64})?")


# ---- where each piece of missing information is entered ------------------------------------


def where_in_web(pid: str, key: str) -> str | None:
    """The page and field where a missing fact (``Missing.key``) is entered, or None when it is
    answered on the refusal page itself (an OJ-listing restriction)."""
    from prodsec.documents.info import ORG_FIELDS, PRODUCT_FIELDS

    head, _, rest = key.partition(".")
    name = rest.split(".")[0]
    if head == "org" and name in ORG_FIELDS:
        return f"/organisation#f-{name}"
    if head == "product" and name in PRODUCT_FIELDS:
        return f"/products/{pid}/facts#f-{name}"
    if head == "release":
        return f"/products/{pid}#releases"
    if head == "status":  # the board filtered to that requirement
        return f"/products/{pid}/board?q={quote(rest)}"
    if head == "assessment":
        return f"/products/{pid}/board"
    return None


# ---- organisation details ------------------------------------------------------------------


def _org_fields() -> list[dict[str, Any]]:
    from prodsec.documents.info import ORG_FIELDS

    return [{"name": f.name, "label": f.label, "kind": f.kind} for f in ORG_FIELDS.values()]


def _org_context(request: Request, actor: Actor, values: dict[str, Any] | None = None,
                 errors: dict[str, str] | None = None) -> dict[str, Any]:
    from prodsec.documents.info import get_org_profile, org_view
    from prodsec.services.knowledge import eu_member_state_names

    with web_state(request).database.transaction() as session:
        current = org_view(get_org_profile(session, actor))
    return {"fields": _org_fields(), "values": values if values is not None else current,
            "version": current["version"], "errors": errors or {}, "saved": False,
            "choices": {"country": eu_member_state_names()}}


@router.get("/organisation", response_class=HTMLResponse)
def organisation(request: Request, saved: int = 0) -> HTMLResponse:
    actor, csrf = signed_in(request)
    context = _org_context(request, actor) | {"saved": bool(saved)}
    return render(request, "organisation.html.j2", context, actor=actor, csrf=csrf)


def _value(kind: str, name: str, raw: str) -> Any:
    """A form's text as the service's value: '' clears; numbers, yes/no and dates parsed."""
    raw = raw.strip()
    if not raw:
        return None if kind in ("int", "bool", "date") else ""
    if kind == "int":
        if not raw.isdigit():
            raise ValidationFailed(name, "expected a whole number of days")
        return int(raw)
    if kind == "bool":
        if raw not in ("yes", "no"):
            raise ValidationFailed(name, "expected yes or no")
        return raw == "yes"
    if kind == "date":
        return form_date(raw, name)
    return raw.replace("\r\n", "\n")


def _message(exc: Exception) -> str:
    """An error as shown next to its field (which already names it)."""
    return str(getattr(exc, "detail", "") or exc)


def _version(form: Any) -> int:
    """The version the page showed; none (nothing entered yet) is 0, so a form sent from a
    page shown before someone else's first save is refused too, not silently merged."""
    raw = str(form.get("version") or "")
    return int(raw) if raw.isdigit() else 0


@router.post("/organisation", response_class=HTMLResponse)
async def save_organisation(request: Request, sent: AdminForm) -> Response:
    """Every field of the form is written (an emptied field is cleared), under the version the
    page showed: a concurrent change is refused with the user's values kept."""
    from prodsec.documents.info import set_org_profile

    actor, csrf, form = sent.actor, sent.csrf, sent.form

    def work(session: Any) -> None:
        changes = {f["name"]: _value(f["kind"], f["name"], str(form.get(f["name"]) or ""))
                   for f in _org_fields()}
        set_org_profile(session, actor, changes, _version(form))

    def refused(exc: Exception) -> Response:
        field = getattr(exc, "field", "") or "form"
        context = _org_context(request, actor, form_values(form), {field: _message(exc)})
        return render(request, "organisation.html.j2", context, status_of(exc), actor, csrf)

    return await form_write(request, sent, work, lambda _r: redirect("/organisation?saved=1"),
                            refused)


# ---- a product's documentation facts -------------------------------------------------------


def _pledge_goals(kb: Any) -> list[dict[str, str]]:
    return [{"key": r["id"].rsplit(":", 1)[1], "title": r["title"]}
            for r in kb.regulation("us-cisa-sbd-pledge")["requirements"]]


def _facts_form(fields: dict[str, Any]) -> dict[str, Any]:
    """The stored facts as the form's fields: standards one per line (ID or ID:PARTS, as the
    CLI's --standard), the notified body's four parts, one text per pledge goal."""
    out: dict[str, Any] = {k: v for k, v in fields.items() if isinstance(v, str)}
    out["standards_applied"] = "\n".join(
        s["standard"] + (f":{s['parts']}" if s.get("extent") == "part" else "")
        for s in fields.get("standards_applied") or [])
    for key, value in (fields.get("notified_body") or {}).items():
        out[f"notified_body.{key}"] = value
    for key, value in (fields.get("pledge_progress") or {}).items():
        out[f"pledge_progress.{key}"] = value
    return out


def _facts_context(request: Request, actor: Actor, pid: str, values: dict[str, Any] | None = None,
                   errors: dict[str, str] | None = None) -> dict[str, Any]:
    from prodsec.documents.info import (
        NOTIFIED_BODY_KEYS,
        PRODUCT_FIELDS,
        docs_view,
        get_product_docs,
    )
    from prodsec.workspace import products

    state = web_state(request)
    with state.database.transaction() as session:
        try:
            product = products.get_product(session, actor, pid)
        except NotFound as exc:
            raise page_error(exc) from None
        docs = docs_view(get_product_docs(session, actor, product.id))
        view = products.product_view(product)
    texts = [{"name": f.name, "label": f.label, "kind": f.kind, "long": f.name not in ONE_LINE}
             for f in PRODUCT_FIELDS.values() if f.kind != "json"]
    return {"product": view, "texts": texts,
            "values": values if values is not None else _facts_form(docs["fields"]),
            "version": docs["version"], "errors": errors or {},
            "standards": sorted(state.kb.standards), "notified_body_keys": NOTIFIED_BODY_KEYS,
            "goals": _pledge_goals(state.kb), "labels": {n: f.label for n, f in PRODUCT_FIELDS.items()}}


@router.get("/products/{pid}/facts", response_class=HTMLResponse)
def product_facts(request: Request, pid: str, saved: int = 0) -> HTMLResponse:
    actor, csrf = signed_in(request)
    context = _facts_context(request, actor, pid) | {"saved": bool(saved)}
    return render(request, "facts.html.j2", context, actor=actor, csrf=csrf)


def _facts_changes(form: Any, kb: Any) -> dict[str, Any]:
    from prodsec.documents.info import NOTIFIED_BODY_KEYS, PRODUCT_FIELDS, standard_spec

    changes: dict[str, Any] = {n: str(form.get(n) or "").replace("\r\n", "\n").strip()
                               for n, f in PRODUCT_FIELDS.items() if f.kind != "json"}
    lines = str(form.get("standards_applied") or "").splitlines()
    changes["standards_applied"] = [standard_spec(line.strip()) for line in lines if line.strip()]
    body = {k: str(form.get(f"notified_body.{k}") or "").strip() for k in NOTIFIED_BODY_KEYS}
    changes["notified_body"] = body if any(body.values()) else None
    changes["pledge_progress"] = {g["key"]: str(form.get(f"pledge_progress.{g['key']}") or "")
                                  for g in _pledge_goals(kb)}
    return changes


@router.post("/products/{pid}/facts", response_class=HTMLResponse)
async def save_product_facts(request: Request, pid: str, sent: EditorForm) -> Response:
    """The whole form is the product's documentation (an emptied field is cleared), written
    under the version the page showed."""
    from prodsec.documents.info import set_product_docs

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    kb = web_state(request).kb

    def work(session: Any) -> None:
        set_product_docs(session, actor, kb, pid, _facts_changes(form, kb), _version(form))

    def refused(exc: Exception) -> Response:
        field = (getattr(exc, "field", "") or "form").split("[")[0]
        context = _facts_context(request, actor, pid, form_values(form), {field: _message(exc)})
        return render(request, "facts.html.j2", context, status_of(exc), actor, csrf)

    return await form_write(request, sent, work,
                            lambda _r: redirect(f"/products/{pid}/facts?saved=1"), refused)


# ---- downloads -----------------------------------------------------------------------------


@router.get("/documents/{record_id}")
def download_document(request: Request, record_id: str) -> Response:
    """An earlier generated document, the exact bytes issued (their SHA-256 is the record's),
    always as an attachment."""
    from prodsec.documents.render import document_file, filename, media_type

    actor, _csrf = signed_in(request)
    database = web_state(request).database
    with database.transaction() as session:
        try:
            record, path = document_file(session, actor, database.evidence_dir, record_id)
        except NotFound as exc:
            raise page_error(exc) from None
        name, media, sha = filename(record), media_type(record), record.sha256
    return FileResponse(path, media_type=media, filename=name, headers={"ETag": f'"{sha}"'})


@router.get("/evidence/{eid}")
def download_evidence(request: Request, eid: str) -> Response:
    """An evidence file byte for byte as uploaded, as an attachment (never rendered: it may be
    anything a user uploaded)."""
    from prodsec.workspace import compliance

    actor, _csrf = signed_in(request)
    database = web_state(request).database
    with database.transaction() as session:
        try:
            evidence, path = compliance.evidence_file(session, actor, database.evidence_dir, eid)
        except NotFound as exc:
            raise page_error(exc) from None
        name, sha = evidence.filename or f"{evidence.sha256}.bin", evidence.sha256
    return FileResponse(path, media_type="application/octet-stream", filename=name,
                        headers={"ETag": f'"{sha}"'})


@router.post("/evidence/{eid}/expiry", response_class=HTMLResponse)
async def evidence_expiry(request: Request, eid: str, sent: EditorForm) -> Response:
    """Change or clear an evidence item's expiry date, then back to the board it was on."""
    from prodsec.workspace import compliance

    actor, form = sent.actor, sent.form
    back = str(form.get("back") or "")

    def work(session: Any) -> None:
        expires = form_date(form.get("expires_on"), "expires_on")
        item = compliance.get_evidence(session, actor, eid)
        compliance.set_evidence_expiry(session, actor, item, expires)

    done_at = back if BOARD_BACK.fullmatch(back) else "/portfolio"
    return await form_write(request, sent, work, lambda _r: redirect(done_at), error_page)


# ---- audit trail ---------------------------------------------------------------------------


def _named(events: list[dict[str, Any]], names: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """Each event with the current name of its object, or ``deleted`` when an object of a kind
    the trail names no longer exists (its id stays: the trail outlives the object)."""
    from prodsec.workspace.audit import NAMED_KINDS

    out = []
    for e in events:
        name = names.get((e["entity"], str(e["entity_id"])))
        out.append(e | {"name": name, "deleted": name is None and e["entity"] in NAMED_KINDS})
    return out


@router.get("/audit", response_class=HTMLResponse)
def audit_trail(request: Request, before: int | None = Query(None, ge=1),
                entity: str = Query("", max_length=64),
                product: str = Query("", max_length=64)) -> HTMLResponse:
    """The organisation's events, newest first, a keyset page at a time, with the chain's
    verification (any member, as the API's ``/audit``)."""
    from prodsec.workspace import audit, products

    actor, csrf = signed_in(request)
    with web_state(request).database.transaction() as session:
        report, age = audit.verify_shared(session, actor.org_id)
        events, next_before = audit.events_page(session, actor, before_seq=before, entity=entity,
                                                product_id=product, limit=AUDIT_PAGE)
        events = _named(events, audit.object_names(session, actor, events))
        kinds = audit.entities(session, actor)
        rows, _total = products.list_products(session, actor, limit=500)
        choices = [(p.id, p.name) for p in rows]
    return render(request, "audit.html.j2", {
        "report": report.to_dict(), "note": report.authentication_note(), "events": events,
        "checked_seconds_ago": int(age),
        "next_before": next_before, "kinds": kinds, "products": choices,
        "filters": {"entity": entity, "product": product, "before": before}},
        actor=actor, csrf=csrf)
