"""``POST /csaf/ingest``: a supplier's or CSIRT's CSAF advisory (the request body) matched to
the organisation's releases, as ``prodsec csaf ingest FILE`` does (``workspace.csaf_ingest``).
A tree is ingested with the CLI (it is a folder on disk, checked offline)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response

from prodsec.api.deps import EditorActor, StateDep
from prodsec.errors import refusal_status
from prodsec.workspace import writes

router = APIRouter(tags=["vulnerabilities"])
CSAF_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "A CSAF 2.0 document."}}}}}


@router.post("/csaf/ingest", openapi_extra=CSAF_BODY, response_model=None)
async def ingest_csaf(actor: EditorActor, state: StateDep, request: Request,
                      filename: str = Query(default="advisory.json", max_length=300, description=(
                          "Recorded as the advisory's source.")),
                      accept_tlp: str | None = Query(default=None, pattern="^(AMBER|RED)$",
                                                     description=(
                          "Also ingest a TLP:AMBER (AMBER) or AMBER/RED (RED) advisory; what "
                          "it says stays out of public exports. Drafts are never ingested."))
                      ) -> dict[str, Any] | Response:
    """Validate the CSAF advisory and match its product tree to the releases' components:
    ``known_affected`` becomes findings, ``known_not_affected``/``fixed`` VEX proposals that
    never override our own triage. An invalid document, a draft, a TLP:AMBER/RED one not
    accepted or other bytes under a version already ingested is refused whole (422 problem
    naming each reason) and nothing is stored. Checked before the write transaction begins."""
    from prodsec.api.routes.vulnerabilities import _body
    from prodsec.workspace.csaf_ingest import Source, ingest_sources, unusable
    from prodsec.workspace.csaf_trust import accepted_labels

    accepted = accepted_labels(accept_tlp)
    data = await _body(request, "csaf")
    item = Source(filename, data)
    reasons = await to_thread.run_sync(unusable, item)
    if reasons:
        return _refused(filename, reasons)
    summary = await writes.write(state.database, actor.org_id, lambda session: ingest_sources(
        session, actor, [item], filename, accepted=accepted))
    if summary["refused"]:  # its TLP label, status, version or signer: nothing of it stored
        return _refused(filename, summary["refused"][0]["reasons"])
    return summary


def _refused(source: str, reasons: list[str]) -> Response:
    from prodsec.api.problems import MEDIA_TYPE

    status = refusal_status(reasons)
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": f"{source}: refused, nothing stored",
            "errors": [{"field": "csaf", "message": r} for r in reasons[:50]]}
    return Response(json.dumps(body, ensure_ascii=False).encode(), status_code=status,
                    media_type=MEDIA_TYPE)
