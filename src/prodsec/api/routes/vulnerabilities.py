"""Vulnerability handling: SBOMs, findings, VEX triage decisions, VEX export and import, CSAF
advisories, and CRA Article 14 cases with their reporting clocks (UTC). Thin wrappers over
``prodsec.workspace.{vulnerabilities,vex,csaf_author,csaf_documents,article14}`` so the CLI, the
API and the web UI show the same data."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from prodsec.api.deps import EditorActor, StateDep, UnitDep, Writer
from prodsec.errors import refusal_status
from prodsec.workspace import writes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(tags=["vulnerabilities"])
Stage = Literal["early-warning", "notification", "final-report"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseOpen(Strict):
    kind: Literal["vulnerability", "incident"]
    title: str = Field(min_length=1, max_length=500)
    aware_at: dt.datetime = Field(description="When the manufacturer became aware (ISO 8601, with offset).")
    vulnerability: str | None = Field(default=None, max_length=100)
    member_state: str | None = Field(default=None, min_length=2, max_length=2)
    description: str = Field(default="", max_length=20000)


class Submission(Strict):
    stage: Stage
    at: dt.datetime | None = Field(default=None, description="Default: now.")
    reference: str = Field(default="", max_length=500)
    content: dict[str, Any] | None = Field(default=None, description=(
        "The report's items (the draft's ``content``, completed); default: the draft as it is."))
    includes: list[Stage] = Field(default_factory=list, max_length=2, description=(
        "Neighbouring stages whose items this report also gives (Art. 14: 'unless the relevant "
        "information has already been provided')."))


class Measure(Strict):
    at: dt.datetime = Field(description="When a corrective or mitigating measure became available.")


class Withdrawal(Strict):
    reason: str = Field(min_length=1, max_length=20000, description=(
        "Why the case was opened in error (kept with who withdrew it and when)."))


class VexDecision(Strict):
    vulnerability: str = Field(min_length=1, max_length=100)
    state: str = Field(description="CycloneDX VEX state: in_triage, exploitable, not_affected, resolved, ...")
    justification: str | None = None
    responses: list[str] = Field(default_factory=list)
    detail: str = Field(default="", max_length=20000)
    release: str | None = None
    component: str | None = Field(default=None, description="purl; default: every component")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


SBOM_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}},
    "application/xml": {"schema": {"type": "string"}},
    "text/plain": {"schema": {"type": "string"}}}}}
VEX_BODY: dict[str, Any] = {"requestBody": {"required": True, "description": (
    "A CycloneDX VEX, OpenVEX or CSAF VEX document (JSON)."), "content": {
        "application/json": {"schema": {"type": "object"}}}}}


async def _body(request: Request, what: str) -> bytes:
    """The request body, streamed and refused (413) as soon as it passes the deployment's
    document limit (``Settings.max_document_bytes``, the web's upload limit too)."""
    from prodsec.workspace.context import EvidenceTooLarge

    limit = request.app.state.prodsec.settings.max_document_bytes
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise EvidenceTooLarge(what, f"larger than the limit of {limit} bytes")
    return bytes(data)


@router.post("/products/{product_id}/releases/{release}/sbom", openapi_extra=SBOM_BODY)
async def import_sbom(actor: EditorActor, state: StateDep, request: Request, product_id: str,
                      release: str,
                      filename: str = Query(default="sbom.json", max_length=300),
                      part: str = Query(default="main", max_length=100, description=(
                          "Which SBOM of the release this is; replaces that part only.")),
                      kind: str = Query(default="application", max_length=32, description=(
                          "firmware, application, service, hardware, operating-system or "
                          "container."))) -> dict[str, Any]:
    """Import one SBOM of a release (CycloneDX JSON/XML, SPDX 2 JSON/tag-value, SPDX 3 JSON-LD)
    as the request body, as its part ``part``; returns the quality report of the whole, the
    part's own, conflicting versions across parts and the recomputed findings.

    The body is received and parsed, and every row (the part's components, the release's
    re-assembly, its findings) built in a read transaction, before the write transaction
    begins (``workspace.sbom_import``): it only inserts the rows."""
    from prodsec.workspace.sbom_import import import_sbom_queued
    from prodsec.workspace.vulnerabilities import check_part, get_release

    check_part(part, kind)
    await writes.read(state.database, lambda s: get_release(s, actor, product_id, release))
    data = await _body(request, "sbom")
    return await import_sbom_queued(state.database, actor, product_id, release, data, filename,
                                    part=part, kind=kind)


@router.get("/products/{product_id}/findings")
def findings(work: UnitDep, product_id: str, release: str | None = None,
             sort: Literal["release", "priority"] = "release") -> list[dict[str, Any]]:
    """Components × advisories of a product's releases, with VEX state and the exploitation
    signals: ``exploited`` (KEV or EUVD, with its date), ``epss``, and ``priority`` (1 = most
    urgent: exploited, then EPSS, then CVSS); ``sort=priority`` lists them in that order."""
    from prodsec.workspace.signals import by_priority
    from prodsec.workspace.vulnerabilities import list_findings

    rows = list_findings(work.session, work.actor, product_id, release)
    return by_priority(rows) if sort == "priority" else rows


@router.get("/products/{product_id}/triage")
def triage(work: UnitDep, product_id: str,
           exploited: str | None = Query(default=None, description="yes / no: known exploited"),
           state: str | None = Query(default=None, max_length=40, description="VEX state"),
           component: str | None = Query(default=None, max_length=200,
                                         description="part of the component's purl or name"),
           release: str | None = Query(default=None, max_length=200),
           fix_available: str | None = Query(default=None, description="yes / no"),
           min_cvss: str | None = Query(default=None, description="0-10"),
           q: str | None = Query(default=None, max_length=200,
                                 description="part of the id, an alias or the summary"),
           sort: str = Query(default="priority", max_length=20, description=(
               "priority (exploited, EPSS, CVSS), cvss, epss, vulnerability, component, "
               "release, state, first_seen; a leading - sorts descending")),
           page: str | None = Query(default=None), limit: str | None = Query(default=None)
           ) -> dict[str, Any]:
    """One page of the product's findings, filtered and sorted (known-exploited first by
    default), with per release the open / exploited / overdue counts."""
    from prodsec.workspace import triage as service

    query = service.parse_query({"exploited": exploited, "state": state, "component": component,
                                 "release": release, "fix_available": fix_available,
                                 "min_cvss": min_cvss, "q": q, "sort": sort, "page": page,
                                 "limit": limit})
    return service.triage_findings(work.session, work.actor, work.kb, product_id, query)


class BulkDecision(Strict):
    vulnerabilities: list[str] = Field(min_length=1, max_length=500)
    state: str
    justification: str | None = None
    detail: str = Field(default="", max_length=20000)


@router.post("/products/{product_id}/vex/bulk")
def set_vex_bulk(work: Writer, product_id: str, body: BulkDecision) -> dict[str, int]:
    """One triage decision for a selection of vulnerabilities, all or none."""
    from prodsec.workspace import triage as service

    return {"decided": service.triage_many(work.session, work.actor, product_id,
                                           body.vulnerabilities, body.state,
                                           body.justification, body.detail)}


@router.post("/products/{product_id}/vex")
def set_vex(work: Writer, product_id: str, body: VexDecision) -> dict[str, Any]:
    """Record the triage decision for a vulnerability in a product (replaces an earlier one)."""
    from prodsec.workspace import vex

    row = vex.set_statement(work.session, work.actor, product_id, body.vulnerability, body.state,
                            justification=body.justification, responses=body.responses,
                            detail=body.detail, release_label=body.release,
                            component=body.component)
    return vex.statement_view(row)


VexFormat = Literal["cyclonedx", "openvex", "csaf"]
VEX_MEDIA = {"cyclonedx": "application/vnd.cyclonedx+json", "openvex": "application/json",
             "csaf": "application/json"}
VEX_EXPORTED: dict[int | str, dict[str, Any]] = {200: {
    "description": "The VEX document, validated; Content-Disposition names a file.",
    "content": {"application/vnd.cyclonedx+json": {}, "application/json": {}}}}


def _download(doc: dict[str, Any], media_type: str, name: str) -> Response:
    import json

    return Response(json.dumps(doc, indent=2, ensure_ascii=False).encode(), media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/products/{product_id}/releases/{release}/vex", response_class=Response,
            responses=VEX_EXPORTED)
def export_vex(work: UnitDep, request: Request, product_id: str, release: str,
               format: VexFormat = "cyclonedx",
               author: str = Query(default="", max_length=200,
                                   description="Author / publisher (default: you / the "
                                               "organisation).")) -> Response:
    """A release's triage as CycloneDX VEX 1.6, OpenVEX 0.2.0 or CSAF 2.0 VEX, validated with
    the same validators as imported documents before it is handed out. The release's stable VEX
    location (``workspace.vex_location``): a weak ETag over what the VEX says (304 on a
    matching ``If-None-Match``) and the same file name on every pull."""
    from prodsec.api.routes.sbom_parts import with_warnings
    from prodsec.workspace import vex, vex_location
    from prodsec.workspace.context import ValidationFailed
    from prodsec.workspace.products import get_product

    product = get_product(work.session, work.actor, product_id)
    doc, warnings = vex.export_with_warnings(work.session, work.actor, product.id, release,
                                             format, author, location=str(request.base_url))
    problems = vex.export_problems(doc, format)
    if problems:
        raise ValidationFailed("vex", f"the {format} export fails validation: "
                               + "; ".join(problems[:5]))
    tag = vex_location.etag(doc, format)
    headers = {"ETag": tag}  # Cache-Control stays the API's (no-store): revalidate, never keep
    if vex_location.matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    response = with_warnings(_download(doc, VEX_MEDIA[format],
                                       vex_location.file_name(product.name, release, format)),
                             warnings)
    response.headers.update(headers)
    return response


@router.get("/products/{product_id}/releases/{release}/vex/{file}", response_class=Response,
            responses=VEX_EXPORTED)
def export_csaf_vex_file(work: UnitDep, request: Request, product_id: str, release: str,
                         file: str) -> Response:
    """The release's current CSAF VEX under its CSAF 5.1 file name: the URL of the document's
    ``self`` reference (CSAF 2.0 3.2.1.8.2, test 6.2.11), the same answer as
    ``…/vex?format=csaf`` (ETag, 304). Any other file name is 404."""
    from prodsec.workspace import vex_location
    from prodsec.workspace.context import NotFound
    from prodsec.workspace.products import get_product

    product = get_product(work.session, work.actor, product_id)
    expected = vex_location.file_name(product.name, release, "csaf")
    if file != expected:
        raise NotFound(f"{file[:100]!r}: release {release[:100]!r}'s CSAF VEX is {expected}")
    return export_vex(work, request, product_id, release, "csaf", "")


@router.post("/products/{product_id}/vex/import", openapi_extra=VEX_BODY, response_model=None)
async def import_vex(actor: EditorActor, state: StateDep, request: Request, product_id: str,
                     release: str | None = Query(default=None, max_length=100, description=(
                         "Apply to this release only (default: the release each statement "
                         "names, else every release).")),
                     filename: str = Query(default="vex.json", max_length=300, description=(
                         "Recorded as the statements' source."))) -> dict[str, Any] | Response:
    """Import a supplier's CycloneDX VEX, OpenVEX or CSAF VEX (the request body) as triage
    statements on the product's components. A malformed document is refused whole (422 naming
    the JSON location). A statement naming another product, a component not in the SBOM, or a
    status/justification outside the vocabulary is refused alone: the others are imported (one
    transaction) and the answer is a 422 problem whose ``refused`` lists each with its reason.
    Received and parsed before the write transaction begins."""
    from prodsec.formats.vex import parse_vex
    from prodsec.workspace.products import get_product
    from prodsec.workspace.vex_import import import_summary
    from prodsec.workspace.vulnerabilities import get_release

    def exists(session: Session) -> None:  # 404 before the body is read, as before
        get_product(session, actor, product_id)
        if release:
            get_release(session, actor, product_id, release)

    await writes.read(state.database, exists)
    data = await _body(request, "vex")
    parsed = await to_thread.run_sync(parse_vex, data, filename)
    summary = await writes.write(state.database, actor.org_id, lambda session: import_summary(
        session, actor, product_id, data, filename, release or None, parsed))
    if not summary["refused"]:
        return summary
    return _refused(summary)


def _refused(summary: dict[str, Any]) -> Response:
    """RFC 9457 problem for a partly refused import: ``errors`` names each refused statement by
    its JSON location; ``refused``, ``imported`` and ``statements`` are extension members."""
    import json

    from prodsec.api.problems import MEDIA_TYPE

    refused = summary["refused"]
    status = refusal_status(refused)
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": (f"{len(refused)} of {summary['statements']} statements refused; the "
                       f"other {summary['imported']} were imported"),
            "errors": [{"field": r["where"] or "vex", "message": f"{r['vulnerability']}: "
                        f"{r['reason']}"} for r in refused],
            **{key: summary[key] for key in ("source", "product_id", "release", "statements",
                                             "imported", "refused")}}
    return Response(json.dumps(body, ensure_ascii=False).encode(), status_code=status,
                    media_type=MEDIA_TYPE)


class CsafRequest(Strict):
    category: Literal["csaf_security_advisory", "csaf_vex"] = "csaf_security_advisory"
    title: str | None = Field(default=None, min_length=1, max_length=500)
    tracking_id: str | None = Field(default=None, min_length=1, max_length=200, description=(
        "Default: product-release-date; unique in the organisation."))
    publisher: str = Field(default="", max_length=300, description=(
        "Publisher name (default: the organisation's legal name)."))
    summary: str = Field(default="", max_length=20000, description=(
        "The summary note (default: the vulnerabilities found)."))
    cvss: dict[str, str] = Field(default_factory=dict, max_length=500, description=(
        "The manufacturer's CVSS v3.x/v2 base vector per vulnerability id or alias, where the "
        "advisory data gives none (CSAF test 6.2.3 wants a score for known affected products)."))
    tlp: Literal["WHITE", "GREEN", "AMBER", "RED"] = "WHITE"


class CsafPublish(Strict):
    status: Literal["interim", "final"]
    summary: str = Field(default="", max_length=2000, description="The revision history entry.")
    cvss: dict[str, str] = Field(default_factory=dict, max_length=500, description=(
        "As for authoring; used when a published document is rebuilt as a new revision."))


class CsafAuthored(BaseModel):
    id: str
    product_id: str
    tracking_id: str
    category: str
    title: str
    sha256: str
    vulnerabilities: int
    created_at: str
    status: str
    version: str
    document: dict[str, Any] | None = None


@router.post("/products/{product_id}/releases/{release}/csaf", status_code=201,
             response_model=CsafAuthored)
def author_csaf(work: Writer, product_id: str, release: str, body: CsafRequest,
                response: Response) -> CsafAuthored:
    """Author a CSAF 2.0 advisory (or CSAF VEX) from the release's findings and triage: built,
    validated (schema and the mandatory tests 6.1) and stored. 422 lists the validator's
    failures; 409 when the tracking id is taken."""
    from prodsec.workspace import csaf_documents
    from prodsec.workspace.csaf_author import author

    row = author(work.session, work.actor, product_id, release, body.category,
                 tracking_id=body.tracking_id, title=body.title, publisher=body.publisher,
                 summary=body.summary, cvss=body.cvss, tlp=body.tlp)
    response.headers["Location"] = f"/api/v1/products/{row.product_id}/csaf/{row.id}"
    return CsafAuthored(**csaf_documents.document_view(row), document=row.document)


@router.post("/products/{product_id}/csaf/{doc_id}/publish", response_model=CsafAuthored)
def publish_csaf(work: Writer, product_id: str, doc_id: str, body: CsafPublish) -> CsafAuthored:
    """Publish a CSAF document as interim or final: a draft becomes version 1; a published
    document is rebuilt from the current triage as the next revision (published revisions are
    never changed). Audited with the revision's SHA-256; 422 when it would fail validation."""
    from prodsec.workspace import csaf_documents
    from prodsec.workspace.csaf_author import publish

    row = csaf_documents.get_document(work.session, work.actor, product_id, doc_id)
    publish(work.session, work.actor, row.id, body.status, body.summary, cvss=body.cvss)
    return CsafAuthored(**csaf_documents.document_view(row), document=row.document)


@router.get("/products/{product_id}/csaf", response_model=list[CsafAuthored])
def list_csaf(work: UnitDep, product_id: str) -> list[CsafAuthored]:
    """The product's authored CSAF documents, newest first (without the documents)."""
    from prodsec.workspace import csaf_documents

    return [CsafAuthored(**csaf_documents.document_view(row))
            for row in csaf_documents.list_documents(work.session, work.actor, product_id)]


@router.get("/products/{product_id}/csaf/{doc_id}", response_class=Response, responses={
    200: {"description": "The CSAF document exactly as stored.",
          "content": {"application/json": {}}}})
def get_csaf(work: UnitDep, product_id: str, doc_id: str) -> Response:
    """One authored CSAF document, as a download named by its tracking id (CSAF 5.1)."""
    from prodsec.workspace import csaf_documents

    row = csaf_documents.get_document(work.session, work.actor, product_id, doc_id)
    response = _download(row.document, "application/json", csaf_documents.filename(row))
    response.headers["X-Document-SHA256"] = row.sha256
    return response


@router.get("/cases")
def cases(work: UnitDep, open_only: bool = Query(default=False)) -> list[dict[str, Any]]:
    """Article 14 cases, overdue first, each with its clocks."""
    from prodsec.workspace import article14

    return article14.list_cases(work.session, work.actor, work.kb, open_only)


@router.post("/products/{product_id}/cases", status_code=201)
def open_case(work: Writer, product_id: str, body: CaseOpen) -> dict[str, Any]:
    """Record an actively exploited vulnerability or a severe incident: the clocks start."""
    from prodsec.workspace import article14

    case = article14.open_case(work.session, work.actor, product_id, body.kind, body.title,
                               _aware(body.aware_at), vulnerability=body.vulnerability,
                               member_state_code=body.member_state, description=body.description,
                               kb=work.kb)
    return article14.case_view(work.session, work.kb, case)


@router.get("/cases/{case_id}")
def case(work: UnitDep, case_id: str) -> dict[str, Any]:
    from prodsec.workspace import article14

    found = article14.get_case(work.session, work.actor, case_id)
    return article14.case_view(work.session, work.kb, found)


@router.post("/cases/{case_id}/measure")
def measure(work: Writer, case_id: str, body: Measure) -> dict[str, Any]:
    """A corrective or mitigating measure is available: the final-report clock starts."""
    from prodsec.workspace import article14

    found = article14.measure_available(work.session, work.actor, case_id, _aware(body.at))
    return article14.case_view(work.session, work.kb, found)


@router.post("/cases/{case_id}/withdrawal")
def withdraw(work: Writer, case_id: str, body: Withdrawal) -> dict[str, Any]:
    """Withdraw a case opened in error, before any report is submitted (409 after): it is
    kept with who, when and why; its clocks stop and it is never overdue."""
    from prodsec.workspace import article14

    found = article14.withdraw(work.session, work.actor, case_id, body.reason)
    return article14.case_view(work.session, work.kb, found)


@router.post("/cases/{case_id}/submissions")
def submit(work: Writer, case_id: str, body: Submission) -> dict[str, Any]:
    """Record a report stage as submitted to the CSIRT coordinator (ENISA's platform)."""
    from prodsec.workspace import article14

    article14.submit(work.session, work.actor, work.kb, case_id, body.stage,
                     _aware(body.at) if body.at else None, body.reference, body.content,
                     tuple(body.includes))
    return article14.case_view(work.session, work.kb, article14.get_case(
        work.session, work.actor, case_id))


@router.get("/cases/{case_id}/drafts/{stage}")
def draft(work: UnitDep, case_id: str, stage: Stage,
          includes: list[Stage] = Query(default=[])) -> dict[str, Any]:  # noqa: B008
    """The report a stage requires, pre-filled; ``to_complete`` names what is left to write,
    ``blocked`` why it cannot be submitted yet (out of order)."""
    from prodsec.workspace import article14

    return article14.draft(work.session, work.actor, work.kb, case_id, stage, tuple(includes))


@router.get("/cases/{case_id}/reports/{stage}", response_class=Response, responses={200: {
    "description": "The report exactly as submitted: its JSON form (the bytes whose SHA-256 the "
                   "audit trail holds) or a PDF of it.",
    "content": {"application/json": {}, "application/pdf": {}}}})
def submitted_report(work: UnitDep, case_id: str, stage: Stage,
                     format: Literal["json", "pdf"] = Query(default="json")) -> Response:
    """A submitted Article 14 report, as JSON or PDF; ``X-Report-SHA256`` is its hash."""
    from prodsec.documents import article14_report
    from prodsec.workspace import article14
    from prodsec.workspace import article14_reports as reports

    doc, sha = article14.submitted_report(work.session, work.actor, case_id, stage)
    name = f"article14-{case_id[:8]}-{stage}"
    if format == "pdf":
        response = Response(article14_report.to_pdf(doc, sha), media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{name}.pdf"'})
    else:
        response = Response(reports.report_bytes(doc), media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="{name}.json"'})
    response.headers["X-Report-SHA256"] = sha
    return response
