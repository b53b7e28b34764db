"""Vulnerabilities of one product: SBOMs, findings, triage, VEX and CSAF."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from prodsec.errors import refusal_status
from prodsec.web.pages.common import (
    EditorForm,
    form_write,
    page_error,
    redirect,
    render,
    signed_in,
    status_of,
    upload_limit,
    web_state,
)
from prodsec.workspace.context import Actor, NotFound, PermissionDenied, ValidationFailed

router = APIRouter(include_in_schema=False)


PAGE = 25
FILTERS = ("exploited", "state", "component", "release", "fix_available", "min_cvss", "q",
           "sort", "page", "limit")


def _findings_data(request: Request, actor: Actor, pid: str,
                   params: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The page's data: per release its SBOM (with the stored quality report) and its open /
    exploited / overdue counts, one page of findings as the filters ask (known exploited
    first), the authored CSAF documents; no error and no import summary yet."""
    from prodsec.core.assembly import PART_KINDS
    from prodsec.core.triage import DETAIL_MEANING, SORTS
    from prodsec.workspace import csaf_documents, products, triage, vex
    from prodsec.workspace.vulnerabilities import sbom_parts_of, sbom_reports

    params = params if params is not None else _params(request)
    state = web_state(request)
    with state.database.transaction() as session:
        try:
            product = products.get_product(session, actor, pid)
        except NotFound as exc:
            raise page_error(exc) from None
        try:
            query_error = None
            query = triage.parse_query(params)
        except ValidationFailed as exc:
            query_error = {"field": exc.field, "text": exc.detail}
            query = triage.parse_query({})
        found = triage.triage_findings(session, actor, state.kb, product.id, query)
        view = products.product_view(product)
        sboms = sbom_reports(session, actor, [r["id"] for r in view["releases"]])
        parts = sbom_parts_of(session, actor, list(sboms))
        documents = [csaf_documents.document_view(row)
                     for row in csaf_documents.list_documents(session, actor, product.id)]
    empty = {"findings": 0, "open": 0, "exploited": 0, "overdue": 0}
    releases = [r | {"sbom": sboms.get(r["id"]), "parts": parts.get(r["id"], []),
                     "counts": found["releases"].get(r["version_label"], empty)}
                for r in view["releases"]]
    return {"product": view, "findings": found["findings"], "total": found["total"],
            "offset": found["offset"], "limit": found["limit"], "sort": found["sort"],
            "filters": {k: v for k, v in params.items()
                        if v and k != "page" and not (k == "limit" and v == str(PAGE))},
            "query_error": query_error, "sorts": SORTS, "releases": releases,
            "documents": documents, "part_kinds": list(PART_KINDS),
            "states": vex.STATES, "justifications": vex.JUSTIFICATIONS, "error": None,
            "detail_meaning": DETAIL_MEANING,
            "form_error": None, "vex_summary": None}


def _params(request: Request) -> dict[str, str | None]:
    """The findings filters of the page's address (unknown parameters are ignored); 25
    findings a page unless the address asks for more."""
    params = {k: request.query_params.get(k) for k in FILTERS}
    return params | {"limit": params["limit"] or str(PAGE)}


def _vulnerabilities(request: Request, actor: Actor, csrf: str, pid: str, status: int = 200,
                     params: dict[str, str | None] | None = None, **extra: Any) -> HTMLResponse:
    data = _findings_data(request, actor, pid, params) | extra
    return render(request, "vulnerabilities.html.j2", data, status, actor, csrf)


@router.get("/products/{pid}/vulnerabilities", response_class=HTMLResponse)
def vulnerabilities_page(request: Request, pid: str) -> HTMLResponse:
    """Releases with their SBOM, VEX downloads and CSAF advisories; the findings, filtered and
    sorted (known exploited first), with their VEX triage state."""
    actor, csrf = signed_in(request)
    return _vulnerabilities(request, actor, csrf, pid)


def _back(pid: str, form: Any) -> str:
    """The findings view the form came from (its filters, as a query string we rebuild from
    the known filter names only — never a URL taken from the form)."""
    from urllib.parse import urlencode

    kept = {k: str(form.get(f"view_{k}")) for k in FILTERS if form.get(f"view_{k}")}
    query = urlencode(kept)
    return f"/products/{pid}/vulnerabilities{'?' + query if query else ''}#findings"


def _view_params(form: Any) -> dict[str, str | None]:
    return {k: (str(form.get(f"view_{k}")) if form.get(f"view_{k}") else None) for k in FILTERS}


@router.post("/products/{pid}/vex", response_class=HTMLResponse)
async def set_vex(request: Request, pid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import vex

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    return await form_write(request, sent, lambda s: vex.set_statement(
        s, actor, pid, str(form.get("vulnerability") or ""), str(form.get("state") or ""),
        justification=str(form.get("justification") or "") or None,
        detail=str(form.get("detail") or "")),
        lambda _r: redirect(_back(pid, form)),
        lambda exc: _vulnerabilities(request, actor, csrf, pid, status_of(exc),
                                     _view_params(form), error=str(exc)))


@router.post("/products/{pid}/vex/bulk", response_class=HTMLResponse)
async def set_vex_bulk(request: Request, pid: str, sent: EditorForm) -> Response:
    """One triage decision for the findings ticked in the table (all or none); back to the
    same filtered view, or the page again with the error beside the bulk form."""
    from prodsec.workspace import triage

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    chosen = [str(v) for v in form.getlist("vulnerability")]
    return await form_write(request, sent, lambda s: triage.triage_many(
        s, actor, pid, chosen, str(form.get("state") or ""),
        str(form.get("justification") or "") or None, str(form.get("detail") or "")),
        lambda _r: redirect(_back(pid, form)),
        lambda exc: _vulnerabilities(request, actor, csrf, pid, status_of(exc),
                                     _view_params(form),
                                     form_error={"form": "bulk", "text": str(exc),
                                                 "chosen": chosen}))


async def _upload(request: Request, form: Any, what: str) -> tuple[bytes, str]:
    """The uploaded file's bytes and name, refused when missing or over the deployment's
    document limit (``EvidenceTooLarge``, 413, as the API refuses the same file)."""
    from prodsec.workspace.context import EvidenceTooLarge

    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        raise ValidationFailed("file", f"choose {what} file")
    limit = upload_limit(request, "max_document_bytes")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise EvidenceTooLarge("file", f"{upload.filename} is larger than the limit of "
                                       f"{limit} bytes")
    return data, str(upload.filename)


@router.post("/products/{pid}/sbom", response_class=HTMLResponse)
async def import_sbom(request: Request, pid: str, sent: EditorForm) -> Response:
    """A release's SBOM file: stored with its quality report, findings recomputed. Async only
    to parse off the writer queue and then queue (``writes``): database work and parsing run
    on worker threads."""
    from prodsec.errors import InputError
    from prodsec.workspace import writes
    from prodsec.workspace.sbom_import import import_sbom_queued
    from prodsec.workspace.vulnerabilities import check_part, get_release

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    release = str(form.get("release") or "")
    part = str(form.get("part") or "").strip() or "main"
    kind = str(form.get("kind") or "") or "application"
    database = web_state(request).database
    try:
        check_part(part, kind)
        data, name = await _upload(request, form, "an SBOM")
        await writes.read(database, lambda s: get_release(s, actor, pid, release))  # 404
        release_id = str((await import_sbom_queued(database, actor, pid, release, data, name,
                                                   part=part, kind=kind))["release_id"])
    except NotFound as exc:
        raise page_error(exc) from None
    except (InputError, PermissionDenied) as exc:
        return await run_in_threadpool(_vulnerabilities, request, actor, csrf, pid, status_of(exc),
                                       form_error={"form": "sbom", "release": release,
                                                   "text": str(exc)})
    return redirect(f"/products/{pid}/vulnerabilities#release-{release_id}")


@router.post("/products/{pid}/sbom/remove", response_class=HTMLResponse)
def remove_sbom_part(request: Request, pid: str, sent: EditorForm) -> Response:
    """One SBOM part of a release removed; the rest re-assembled, findings recomputed."""
    from prodsec.workspace.vulnerabilities import remove_sbom_part as remove

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    release = str(form.get("release") or "")
    try:
        with web_state(request).database.transaction() as session:
            release_id = str(remove(session, actor, pid, release,
                                    str(form.get("part") or ""))["release_id"])
    except NotFound as exc:
        raise page_error(exc) from None
    except (ValidationFailed, PermissionDenied) as exc:
        return _vulnerabilities(request, actor, csrf, pid, status_of(exc),
                                form_error={"form": "sbom", "release": release,
                                            "text": str(exc)})
    return redirect(f"/products/{pid}/vulnerabilities#release-{release_id}")


@router.post("/products/{pid}/vex/import", response_class=HTMLResponse)
async def import_vex(request: Request, pid: str, sent: EditorForm) -> Response:
    """A supplier's VEX file (CycloneDX, OpenVEX or CSAF): the page shows what was imported
    and what was refused, and why (importing the same file again changes nothing). Async only
    to parse off the writer queue and then queue, as ``import_sbom``."""
    from prodsec.errors import InputError
    from prodsec.formats.vex import parse_vex
    from prodsec.workspace import writes
    from prodsec.workspace.products import get_product
    from prodsec.workspace.vex_import import import_summary
    from prodsec.workspace.vulnerabilities import get_release

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    release = str(form.get("release") or "") or None
    database = web_state(request).database

    def exists(session: Any) -> None:  # 404 before the file is parsed
        get_product(session, actor, pid)
        if release:
            get_release(session, actor, pid, release)

    try:
        data, name = await _upload(request, form, "a VEX")
        await writes.read(database, exists)
        parsed = await run_in_threadpool(parse_vex, data, name)  # before the transaction
        summary = await writes.write(database, actor.org_id, lambda s: (
            import_summary(s, actor, pid, data, name, release, parsed)))
    except NotFound as exc:
        raise page_error(exc) from None
    except (InputError, PermissionDenied) as exc:
        return await run_in_threadpool(_vulnerabilities, request, actor, csrf, pid, status_of(exc),
                                       form_error={"form": "vex", "release": release or "",
                                                   "text": str(exc)})
    return await run_in_threadpool(_vulnerabilities, request, actor, csrf, pid,
                                   refusal_status(summary["refused"]), vex_summary=summary)


@router.post("/products/{pid}/csaf", response_class=HTMLResponse)
async def author_csaf(request: Request, pid: str, sent: EditorForm) -> Response:
    """Author a CSAF advisory for a release: validated, stored, then listed for download."""
    from prodsec.workspace.csaf_author import author

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    release = str(form.get("release") or "")
    title = str(form.get("title") or "").strip()
    cvss = str(form.get("cvss") or "")

    def refused(exc: Exception) -> Response:
        return _vulnerabilities(request, actor, csrf, pid, status_of(exc), form_error={
            "form": "csaf", "release": release, "text": str(exc), "title": title, "cvss": cvss})

    try:
        vectors = _vector_lines(cvss)
    except ValidationFailed as exc:
        return await run_in_threadpool(refused, exc)
    return await form_write(request, sent, lambda s: str(author(
        s, actor, pid, release, "csaf_security_advisory", title=title or None,
        cvss=vectors).id),
        lambda doc_id: redirect(f"/products/{pid}/vulnerabilities#csaf-{doc_id}"), refused)


def _vector_lines(text: str) -> dict[str, str]:
    """``ID=VECTOR`` per line (blank lines ignored), as the CLI's repeated ``--cvss``."""
    vectors = {}
    for line in text.splitlines():
        name, sep, vector = line.strip().partition("=")
        if not line.strip():
            continue
        if not sep or not name.strip() or not vector.strip():
            raise ValidationFailed("cvss", f"{line.strip()!r}: expected ID=VECTOR")
        vectors[name.strip()] = vector.strip()
    return vectors


@router.post("/products/{pid}/csaf/{doc_id}/publish", response_class=HTMLResponse)
async def publish_csaf(request: Request, pid: str, doc_id: str, sent: EditorForm) -> Response:
    """Publish a CSAF document (interim or final): audited, a new immutable revision."""
    from prodsec.workspace import csaf_documents
    from prodsec.workspace.csaf_author import publish

    actor, csrf, form = sent.actor, sent.csrf, sent.form

    def work(session: Any) -> None:
        row = csaf_documents.get_document(session, actor, pid, doc_id)
        publish(session, actor, row.id, str(form.get("status") or ""),
                str(form.get("summary") or "").strip()[:2000])

    return await form_write(
        request, sent, work, lambda _r: redirect(f"/products/{pid}/vulnerabilities#csaf-{doc_id}"),
        lambda exc: _vulnerabilities(request, actor, csrf, pid, status_of(exc), form_error={
            "form": "publish", "doc": doc_id, "release": "", "text": str(exc)}))

