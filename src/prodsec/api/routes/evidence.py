"""Evidence: files (streamed in under a size limit, stored by SHA-256) and URLs.

An upload is the raw request body (``Content-Type`` is the file's media type), read chunk by
chunk into the store's staging folder and moved into the content-addressed store once its row
is inserted: nothing is buffered in memory, no database lock is held while it arrives, and the
first byte over the limit ends the request with 413 and leaves no file behind.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from prodsec.api import schemas
from prodsec.api.deps import EditorActor, PagingDep, StateDep, UnitDep, Writer
from prodsec.workspace import compliance, staging, writes
from prodsec.workspace.context import EvidenceTooLarge

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from prodsec.db.models import Evidence

router = APIRouter(prefix="/evidence", tags=["evidence"])
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def _out(evidence: Evidence) -> schemas.Evidence:
    return schemas.Evidence.model_validate(compliance.evidence_view(evidence))


@router.get("", response_model=schemas.Page[schemas.Evidence])
def list_evidence(work: UnitDep, page: PagingDep,
                  title: Annotated[str | None, Query(max_length=300)] = None
                  ) -> schemas.Page[schemas.Evidence]:
    rows, total = compliance.list_evidence(work.session, work.actor, page.limit, page.offset,
                                           title)
    return schemas.Page[schemas.Evidence](items=[_out(e) for e in rows], total=total,
                                          limit=page.limit, offset=page.offset)


@router.post("", status_code=201, response_model=schemas.Evidence)
def add_url_evidence(work: Writer, body: schemas.EvidenceUrlIn) -> schemas.Evidence:
    evidence = compliance.add_evidence(
        work.session, work.actor, work.evidence_dir, body.title, url=body.url, owner=body.owner,
        version_label=body.version_label, expires_on=body.expires_on)
    return _out(evidence)


@router.post("/files", status_code=201, response_model=schemas.Evidence,
             openapi_extra=UPLOAD_BODY)
async def upload_evidence(
    actor: EditorActor, state: StateDep, request: Request,
    title: Annotated[str, Query(min_length=1, max_length=300)],
    filename: Annotated[str | None, Query(max_length=300)] = None,
    owner: Annotated[str, Query(max_length=200)] = "",
    version_label: Annotated[str, Query(min_length=1, max_length=100)] = "1",
    expires_on: Annotated[dt.date | None, Query()] = None,
) -> schemas.Evidence:
    """Upload a file as the request body (streamed; 413 over the limit). The body is received
    into the store's staging folder before the write transaction begins, which then only inserts
    the row and moves the file into place: a slow upload holds no database lock."""
    limit = state.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise EvidenceTooLarge("file", f"larger than the limit of {limit} bytes")
    media_type = request.headers.get("content-type", "application/octet-stream")[:200]
    store = state.database.evidence_dir
    with staging.staged(store, limit) as item:
        await staging.receive(item, request.stream())

        def insert(session: Session) -> schemas.Evidence:
            return _out(compliance.add_evidence(
                session, actor, store, title, staged=item, filename=filename,
                media_type=media_type, owner=owner, version_label=version_label,
                expires_on=expires_on))

        return await writes.write(state.database, actor.org_id, insert)


@router.get("/{evidence_id}", response_model=schemas.Evidence)
def get_evidence(work: UnitDep, evidence_id: str) -> schemas.Evidence:
    return _out(compliance.get_evidence(work.session, work.actor, evidence_id))


@router.get("/{evidence_id}/content", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download_evidence(work: UnitDep, evidence_id: str) -> Response:
    """The file, byte for byte as uploaded (always as an attachment, never rendered)."""
    evidence, path = compliance.evidence_file(work.session, work.actor, work.evidence_dir,
                                              evidence_id)
    return FileResponse(path, media_type="application/octet-stream",
                        filename=evidence.filename or f"{evidence.sha256}.bin",
                        headers={"ETag": f'"{evidence.sha256}"'})


@router.patch("/{evidence_id}", response_model=schemas.Evidence)
def update_evidence(work: Writer, evidence_id: str, body: schemas.EvidenceUpdate
                    ) -> schemas.Evidence:
    """Change or clear (null) the evidence's expiry date; the file itself never changes."""
    evidence = compliance.get_evidence(work.session, work.actor, evidence_id)
    return _out(compliance.set_evidence_expiry(work.session, work.actor, evidence,
                                               body.expires_on))
