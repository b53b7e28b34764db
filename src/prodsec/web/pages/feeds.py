"""Advisories and feeds: upload OSV advisories (one JSON or osv.dev's per-ecosystem zip) and
the exploitation feeds (CISA KEV, FIRST EPSS, ENISA EUVD), and see what each import changed.
The same services as ``POST /api/v1/advisories``, ``POST /api/v1/feeds`` and the CLI's
``advisories import --background`` and ``feeds import``; editors and administrators upload,
everyone in the organisation reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages.common import (
    EditorForm,
    form_write,
    redirect,
    render,
    signed_in,
    status_of,
    web_state,
)
from prodsec.workspace.context import Actor, ValidationFailed

router = APIRouter(include_in_schema=False)
FEED_KINDS = ("", "kev", "epss", "euvd")


def _text(exc: Exception) -> str:
    """The refusal as shown next to its field (which already names what it is about)."""
    return exc.detail if isinstance(exc, ValidationFailed) else str(exc)


def _page(request: Request, actor: Actor, csrf: str, status: int = 200,
          form_error: dict[str, Any] | None = None, done: dict[str, str] | None = None
          ) -> HTMLResponse:
    """The page: both upload forms, the recent advisory and feed imports; ``form_error`` puts a
    refusal next to its form's file field, with the kind kept."""
    from prodsec.workspace import advisory_uploads, feeds

    with web_state(request).database.transaction() as session:
        advisories = advisory_uploads.recent_imports(session, actor)
        runs = feeds.list_runs(session, actor, 20)
    return render(request, "feeds.html.j2", {
        "advisories": advisories, "runs": runs, "kinds": feeds.KINDS, "done": done or {},
        "form_error": form_error or {}, "max_advisory": advisory_uploads.MAX_UPLOAD_BYTES,
        "max_feed": feeds.MAX_FILE_BYTES}, status, actor, csrf)


@router.get("/feeds", response_class=HTMLResponse)
def feeds_page(request: Request, job: int | None = None, imported: str | None = None
               ) -> HTMLResponse:
    """``job``: the advisory import just queued (linked to the jobs page); ``imported``: what
    was just imported in-process."""
    actor, csrf = signed_in(request)
    done = {"job": str(job)} if job is not None else {}
    if imported in ("advisories", "feed"):
        done["imported"] = imported
    return _page(request, actor, csrf, done=done)


def _chosen(form: Any) -> Any:
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        raise ValidationFailed("file", "choose a file to upload")
    return upload


@router.post("/feeds/advisories", response_class=HTMLResponse)
async def upload_advisories(request: Request, sent: EditorForm) -> Response:
    """OSV advisories: staged before the write transaction, checked, kept and queued as the
    ``advisories.import`` job (a bad file is refused next to the field; nothing is imported)."""
    from prodsec.errors import InputError
    from prodsec.workspace import advisory_uploads, staging

    store = web_state(request).database.evidence_dir

    def refused(exc: Exception) -> Response:
        return _page(request, sent.actor, sent.csrf, status_of(exc),
                     form_error={"form": "advisories", "text": _text(exc)})

    def done(result: dict[str, Any]) -> Response:
        job = result["job"]
        return redirect(f"/feeds?job={job}" if job is not None else "/feeds?imported=advisories")

    try:
        upload = _chosen(sent.form)
        with staging.staged(store, advisory_uploads.MAX_UPLOAD_BYTES, "file") as file:
            await run_in_threadpool(staging.copy_into, file, upload.file)
            return await form_write(request, sent, lambda s: advisory_uploads.queue_upload(
                s, sent.actor, store, file, upload.filename), done, refused)
    except InputError as exc:
        return await run_in_threadpool(refused, exc)


@router.post("/feeds/upload", response_class=HTMLResponse)
async def upload_feed(request: Request, sent: EditorForm) -> Response:
    """A KEV, EPSS or EUVD file (kind from its content; a chosen kind refuses another)."""
    from prodsec.errors import InputError
    from prodsec.workspace import feeds
    from prodsec.workspace.context import EvidenceTooLarge

    kind = str(sent.form.get("kind") or "")

    def refused(exc: Exception) -> Response:
        return _page(request, sent.actor, sent.csrf, status_of(exc),
                     form_error={"form": "feed", "kind": kind, "text": _text(exc)})

    try:
        if kind not in FEED_KINDS:
            raise ValidationFailed("kind", f"expected one of {', '.join(FEED_KINDS[1:])}")
        upload = _chosen(sent.form)
        data = await upload.read(feeds.MAX_FILE_BYTES + 1)
        if len(data) > feeds.MAX_FILE_BYTES:
            raise EvidenceTooLarge("file", f"{upload.filename}: larger than the limit of "
                                           f"{feeds.MAX_FILE_BYTES} bytes")
    except InputError as exc:
        return await run_in_threadpool(refused, exc)
    name = str(upload.filename)
    return await form_write(request, sent, lambda s: feeds.import_feed(
        s, sent.actor, data, name, kind or None), lambda _r: redirect("/feeds?imported=feed"),
        refused)
