"""Documents: generate a declaration, technical file, policy... and list generation records.

Generating stores a generation record (and an audit event), so it is a write: editors and
admins only. When information is missing the answer is a 422 problem listing exactly what is
missing and where to enter it — a document never invents content.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from prodsec.api.deps import UnitDep, Writer, set_etag
from prodsec.api.deps import if_match as deps_if_match
from prodsec.workspace.products import get_product

router = APIRouter(tags=["documents"])
IfMatchHeader = Annotated[str | None, Header(alias="If-Match", description=(
    'The ETag of the last GET, e.g. "3"; leave out only before the first write.'))]


class DocumentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="e.g. eu-declaration, technical-file, security-txt, vdp")
    format: str | None = Field(default=None, description="md, html, pdf, txt or json; default per kind")
    draft: bool = Field(default=False, description="Mark missing information instead of refusing.")
    release: str | None = Field(default=None, description="Release version label.")
    subject: str | None = Field(default=None, description="oscal-catalog: the instrument id.")
    restriction_answers: dict[str, str] = Field(default_factory=dict, description=(
        "Answers to OJ-listing restrictions that turn on a design choice: "
        "'<standard>:<restriction>' → 'applies' or 'does-not-apply' (e.g. "
        "{\"en-18031-1:password-optional\": \"does-not-apply\"}). An issued declaration "
        "that needs one is refused (422) with the question among the missing information."))


class DocumentRecord(BaseModel):
    id: str
    kind: str
    format: str
    draft: bool
    product_id: str | None
    release: str | None
    subject: str | None
    sha256: str
    size: int
    kb_version: str
    created_by: str
    created_at: str
    stale: bool | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)


GENERATED: dict[int | str, dict[str, Any]] = {200: {"description": "The document, in the requested format.",
                   "content": {"text/html": {}, "application/pdf": {}, "text/markdown": {},
                               "text/plain": {}, "application/json": {}}}}


def _generate(work: Any, product_id: str | None, body: DocumentRequest) -> Response:
    from prodsec.documents.render import MEDIA, default_format, render

    fmt = body.format or default_format(body.kind)
    data, record = render(body.kind, work.session, work.actor, product_id, fmt,
                          release=body.release, draft=body.draft, kb=work.kb, subject=body.subject,
                          answers=body.restriction_answers, store=work.evidence_dir)
    name = f"{body.kind}{'-draft' if body.draft else ''}.{fmt}"
    return Response(data, media_type=MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Document-SHA256": record.sha256,
        "X-Document-Id": record.id})


@router.post("/products/{product_id}/documents", responses=GENERATED, response_class=Response)
def generate_product_document(work: Writer, product_id: str, body: DocumentRequest) -> Response:
    """Generate a product's document (and store its generation record)."""
    product = get_product(work.session, work.actor, product_id)
    return _generate(work, product.id, body)


@router.post("/documents", responses=GENERATED, response_class=Response)
def generate_organisation_document(work: Writer, body: DocumentRequest) -> Response:
    """Generate an organisation-level document: security.txt, the disclosure policy, a catalog."""
    return _generate(work, None, body)


@router.get("/products/{product_id}/documents", response_model=list[DocumentRecord])
def list_product_documents(work: UnitDep, product_id: str) -> list[DocumentRecord]:
    """Generation records of a product, newest first, each flagged stale if its inputs changed."""
    from prodsec.documents.render import list_records

    product = get_product(work.session, work.actor, product_id)
    return [DocumentRecord.model_validate(r) for r in list_records(
        work.session, work.actor, product.id, work.kb)]


@router.get("/documents/{document_id}/content", response_class=FileResponse,
            responses={200: {"description": "The bytes issued, exactly as generated.",
                             "content": GENERATED[200]["content"]}})
def download_document(work: UnitDep, document_id: str) -> Response:
    """An earlier generated document, byte for byte as issued (its SHA-256 is the record's)."""
    from prodsec.documents.render import document_file, filename, media_type

    record, path = document_file(work.session, work.actor, work.evidence_dir, document_id)
    return FileResponse(path, media_type=media_type(record), filename=filename(record),
                        headers={"ETag": f'"{record.sha256}"'})


class AcknowledgementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="The document kind whose unverified facts are confirmed.")
    facts: list[str] = Field(min_length=1, max_length=200,
                             description="Fact keys from the refusal, or ['all'].")
    reason: str = Field(min_length=1, max_length=2000,
                        description="How the facts were checked, or why they are accepted.")
    release: str | None = None


class Acknowledgement(BaseModel):
    id: str
    key: str
    label: str
    reason: str
    document_kind: str
    created_by: str
    created_at: str | None


class PendingFact(BaseModel):
    key: str
    label: str
    note: str


@router.get("/products/{product_id}/documents/unverified", response_model=list[PendingFact])
def list_unconfirmed_facts(work: UnitDep, product_id: str, kind: str,
                           release: str | None = None) -> list[PendingFact]:
    """The unverified facts the document rests on that nobody has confirmed yet (an issued
    document is refused while any is left)."""
    from prodsec.documents.acknowledge import pending

    product = get_product(work.session, work.actor, product_id)
    return [PendingFact(**f.to_dict()) for f in pending(
        work.session, work.actor, kind, product.id, release, kb=work.kb)]


@router.post("/products/{product_id}/documents/acknowledgements",
             response_model=list[Acknowledgement], status_code=201)
def acknowledge_facts(work: Writer, product_id: str,
                      body: AcknowledgementRequest) -> list[Acknowledgement]:
    """Confirm unverified facts a document rests on (stored and audited)."""
    from prodsec.documents.acknowledge import acknowledge

    product = get_product(work.session, work.actor, product_id)
    return [Acknowledgement(**a) for a in acknowledge(
        work.session, work.actor, body.kind, product.id, body.facts, body.reason, body.release,
        kb=work.kb)]


# ---- what documents state: the organisation's details and a product's documentation ----


class Details(BaseModel):
    fields: dict[str, Any] = Field(description="Field name → value (null: not entered).")
    version: int | None = Field(description="The ETag to send as If-Match; null before any.")


def _version(if_match: str | None) -> int | None:
    """If-Match is optional here: nothing exists before the first write."""
    return None if if_match is None else deps_if_match(if_match)


@router.get("/organisation/profile", response_model=Details)
def get_organisation_details(work: UnitDep, response: Response) -> Details:
    """The manufacturer's details documents state (``prodsec org show``)."""
    from prodsec.documents.info import get_org_profile, org_view

    view = org_view(get_org_profile(work.session, work.actor))
    version = view.pop("version")
    if version is not None:
        set_etag(response, version)
    return Details(fields=view, version=version)


@router.patch("/organisation/profile", response_model=Details)
def update_organisation_details(work: Writer, body: dict[str, Any], response: Response,
                                if_match: IfMatchHeader = None) -> Details:
    """Change the named fields (admins only: the organisation's legal identity); null or ''
    clears one (``prodsec org set``)."""
    from prodsec.documents.info import org_view, set_org_profile

    view = org_view(set_org_profile(work.session, work.actor, body, _version(if_match)))
    version = view.pop("version")
    set_etag(response, version)
    return Details(fields=view, version=version)


@router.get("/products/{product_id}/documentation", response_model=Details)
def get_product_documentation(work: UnitDep, product_id: str, response: Response) -> Details:
    """What documents state about the product (``prodsec product docs --show``)."""
    from prodsec.documents.info import docs_view, get_product_docs

    product = get_product(work.session, work.actor, product_id)
    view = docs_view(get_product_docs(work.session, work.actor, product.id))
    if view["version"] is not None:
        set_etag(response, view["version"])
    return Details(**view)


@router.patch("/products/{product_id}/documentation", response_model=Details)
def update_product_documentation(work: Writer, product_id: str, body: dict[str, Any],
                                 response: Response, if_match: IfMatchHeader = None) -> Details:
    """Merge the named fields into the product's documentation (``prodsec product docs``)."""
    from prodsec.documents.info import docs_view, set_product_docs

    product = get_product(work.session, work.actor, product_id)
    view = docs_view(set_product_docs(work.session, work.actor, work.kb, product.id, body,
                                      _version(if_match)))
    set_etag(response, view["version"])
    return Details(**view)
