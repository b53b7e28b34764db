"""Suppliers' CSAF advisories: the upload form and what an ingest did (``workspace.csaf_ingest``,
as ``prodsec csaf ingest FILE`` and ``POST /api/v1/csaf/ingest``). A provider tree is ingested
with the CLI: it is a folder on disk, checked offline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from prodsec.errors import refusal_status
from prodsec.web.pages.common import EditorForm, render, signed_in, status_of, web_state
from prodsec.web.pages.vulnerabilities import _upload
from prodsec.workspace.context import Actor, PermissionDenied

router = APIRouter(include_in_schema=False)


def _page(request: Request, actor: Actor, csrf: str, status: int = 200,
          summary: dict[str, Any] | None = None, error: str | None = None) -> HTMLResponse:
    return render(request, "csaf.html.j2", {"summary": summary, "form_error": error,
                                            "editor": actor.role in ("editor", "admin")},
                  status, actor, csrf)


@router.get("/csaf", response_class=HTMLResponse)
def csaf_page(request: Request) -> HTMLResponse:
    """The ingest form."""
    actor, csrf = signed_in(request)
    return _page(request, actor, csrf)


@router.post("/csaf/ingest", response_class=HTMLResponse)
async def ingest_csaf(request: Request, sent: EditorForm) -> Response:
    """One advisory file: validated off the writer queue, then matched and stored in one
    transaction; the page lists what became findings and VEX proposals, or why it was refused
    (422, nothing stored)."""
    from prodsec.errors import InputError
    from prodsec.workspace import writes
    from prodsec.workspace.csaf_ingest import Source, ingest_sources, unusable
    from prodsec.workspace.csaf_trust import accepted_labels

    actor, csrf = sent.actor, sent.csrf
    try:
        accepted = accepted_labels(str(sent.form.get("accept_tlp") or "") or None)
        data, name = await _upload(request, sent.form, "a CSAF advisory")
        item = Source(name, data)
        reasons = await run_in_threadpool(unusable, item)
        if reasons:
            summary: dict[str, Any] = {"advisories": [], "refused": [
                {"source": name, "reasons": reasons}], "tree_problems": []}
        else:
            summary = await writes.write(web_state(request).database, actor.org_id,
                                         lambda s: ingest_sources(s, actor, [item], name,
                                                                    accepted=accepted))
    except (InputError, PermissionDenied) as exc:
        return await run_in_threadpool(_page, request, actor, csrf, status_of(exc), None,
                                       str(exc))
    return await run_in_threadpool(_page, request, actor, csrf,
                                   refusal_status(summary["refused"]), summary)
