"""Exploitation feeds, OSV advisories and proposed Article 14 cases: upload a KEV/EPSS/EUVD
file or an OSV advisory (or zip of them), list the imports, and decide on the cases the signals
propose. Thin wrappers over ``prodsec.workspace.{feeds,advisory_uploads,proposals}``, as the
CLI's ``feeds``, ``advisories import --background`` and ``case proposed`` are."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from prodsec.api.deps import EditorActor, StateDep, UnitDep, Writer
from prodsec.workspace import writes

router = APIRouter(tags=["feeds"])
FEED_BODY: dict[str, Any] = {"requestBody": {"required": True, "description": (
    "A CISA KEV catalogue (JSON), a FIRST EPSS scores file (CSV, gzip too) or an ENISA EUVD "
    "export (JSON)."), "content": {"application/octet-stream": {"schema": {
        "type": "string", "format": "binary"}}}}}

ADVISORY_BODY: dict[str, Any] = {"requestBody": {"required": True, "description": (
    "One OSV advisory (JSON) or a zip of them, as osv.dev's per-ecosystem all.zip."),
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


class Confirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aware_at: dt.datetime = Field(description="When the manufacturer became aware (ISO 8601, "
                                  "with offset): the Article 14 clocks start here.")
    title: str | None = Field(default=None, min_length=1, max_length=500)
    member_state: str | None = Field(default=None, min_length=2, max_length=2)


class Dismiss(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=10000)


async def _body(request: Request) -> bytes:
    """The body, refused (413) as soon as it passes the feed file limit."""
    from prodsec.workspace.context import EvidenceTooLarge
    from prodsec.workspace.feeds import MAX_FILE_BYTES

    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_FILE_BYTES:
            raise EvidenceTooLarge("feed", f"larger than the limit of {MAX_FILE_BYTES} bytes")
    return bytes(data)


@router.post("/feeds", status_code=201, openapi_extra=FEED_BODY)
async def import_feed(actor: EditorActor, state: StateDep, request: Request,
                      filename: str = Query(default="feed", max_length=300),
                      kind: Literal["kev", "epss", "euvd"] | None = None) -> dict[str, Any]:
    """Import one feed file (kind from its content; ``kind`` refuses another). 409 when the
    same file was imported before; 422 naming the line or field of a malformed one."""
    from prodsec.workspace.feeds import import_feed as run

    data = await _body(request)
    return await writes.write(state.database, actor.org_id,
                              lambda session: run(session, actor, data, filename, kind))


@router.get("/feeds")
def feed_runs(work: UnitDep, limit: int = Query(default=50, ge=1, le=500)) -> list[dict[str, Any]]:
    """The feed files imported (or refused by the watched folder), newest first."""
    from prodsec.workspace.feeds import list_runs

    return list_runs(work.session, work.actor, limit)


@router.post("/advisories", status_code=202, openapi_extra=ADVISORY_BODY)
async def upload_advisories(actor: EditorActor, state: StateDep, request: Request,
                            filename: str = Query(default="advisories.json", max_length=300)
                            ) -> dict[str, Any]:
    """Import OSV advisories: the body is streamed into the store's staging folder (413 over
    the limit), checked (422 naming the file for one that is not an OSV advisory or a readable
    zip of them; nothing is imported) and queued as the ``advisories.import`` job: ``job`` is
    its id on PostgreSQL (follow it at ``/api/v1/jobs/{job}``); on SQLite (``job`` null) it has
    run by the time this answers."""
    from prodsec.workspace import advisory_uploads, staging

    store = state.database.evidence_dir
    with staging.staged(store, advisory_uploads.MAX_UPLOAD_BYTES, "advisories") as item:
        await staging.receive(item, request.stream())
        return await writes.write(state.database, actor.org_id, lambda session: (
            advisory_uploads.queue_upload(session, actor, store, item, filename)))


@router.get("/advisories/imports")
def advisory_imports(work: UnitDep, limit: int = Query(default=20, ge=1, le=200)
                     ) -> list[dict[str, Any]]:
    """The advisory imports, newest first, with what each changed."""
    from prodsec.workspace.advisory_uploads import recent_imports

    return recent_imports(work.session, work.actor, limit)


@router.get("/case-proposals")
def case_proposals(work: UnitDep, status: Literal["proposed", "confirmed", "dismissed", "all"]
                   = "proposed") -> list[dict[str, Any]]:
    """Article 14 cases proposed by exploitation signals (default: those awaiting a decision)."""
    from prodsec.workspace.proposals import list_proposals

    return list_proposals(work.session, work.actor, None if status == "all" else status)


@router.post("/case-proposals/{proposal_id}/confirm", status_code=201)
def confirm(work: Writer, proposal_id: str, body: Confirm) -> dict[str, Any]:
    """Open the Article 14 case; its clocks start at the stated awareness time. Returns the
    case with its clocks and the proposal."""
    from prodsec.workspace import article14, proposals
    from prodsec.workspace import proposal_decisions as decisions

    aware = body.aware_at if body.aware_at.tzinfo else body.aware_at.replace(tzinfo=dt.UTC)
    proposal = decisions.confirm(work.session, work.actor, proposal_id, aware,
                                 title=body.title, member_state_code=body.member_state, kb=work.kb)
    assert proposal.case_id is not None
    case = article14.get_case(work.session, work.actor, proposal.case_id)
    return article14.case_view(work.session, work.kb, case) | {
        "proposal": proposals.describe(work.session, proposal)}


@router.post("/case-proposals/{proposal_id}/dismiss")
def dismiss(work: Writer, proposal_id: str, body: Dismiss) -> dict[str, Any]:
    """Close the proposal without a case, with the reason."""
    from prodsec.workspace import proposal_decisions as decisions
    from prodsec.workspace import proposals

    return proposals.describe(
        work.session, decisions.dismiss(work.session, work.actor, proposal_id, body.reason))
