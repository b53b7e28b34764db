"""Security headers on every response and bounded request bodies, as plain ASGI (no
per-request task switching).

API responses are JSON that no browser should render, sniff or frame: ``default-src 'none'``.
The interactive docs page is HTML that loads Swagger UI from its CDN, so it gets a policy
allowing exactly that and nothing more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.datastructures import FormData, Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (b"default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
            b"style-src https://cdn.jsdelivr.net; img-src https://fastapi.tiangolo.com data:; "
            b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
#: The web UI's pages: only our own scripts, styles and forms; inline styles for the landscape
#: SVGs (matplotlib writes style attributes); nothing may frame them.
WEB_CSP = (b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
           b"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
           b"object-src 'none'")
COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
          (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, docs_path: str) -> None:
        self.app, self.docs_path = app, docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = DOCS_CSP if path == self.docs_path else API_CSP if path.startswith("/api") else WEB_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() != b"content-security-policy"]
                message["headers"] = [*headers, *COMMON, (b"content-security-policy", csp),
                                      (b"cache-control", b"no-store")]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---- request bodies ------------------------------------------------------------------------

#: Room around a file whose own limit is the setting's: a multipart envelope (boundaries, part
#: headers, the form's small text fields); the route itself holds the file to its exact limit.
FORM_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class BodyRule:
    """A route family that may carry more than the default body: an upload.

    ``setting`` names the ``Settings`` field holding the file limit; ``multipart`` says the route
    takes a browser form with a file (every other route refuses ``multipart/form-data``, so no
    request can make the server spool parts it never asked for).
    """

    method: str
    path: re.Pattern[str]
    setting: str
    multipart: bool = False

    def limit(self, settings: Any) -> int:
        """The file's limit plus headroom: a multipart envelope, or (for a raw body) room for
        the route's own exact check to answer, naming its field."""
        return int(getattr(settings, self.setting)) + FORM_OVERHEAD


def _rule(method: str, path: str, setting: str, multipart: bool = False) -> BodyRule:
    return BodyRule(method, re.compile(f"^{path}$"), setting, multipart)


_ID = "[^/]+"
UPLOADS = (
    # API: the raw body is the file
    _rule("POST", "/api/v1/evidence/files", "max_upload_bytes"),
    _rule("POST", f"/api/v1/products/{_ID}/releases/{_ID}/sbom", "max_document_bytes"),
    _rule("POST", f"/api/v1/products/{_ID}/vex/import", "max_document_bytes"),
    _rule("POST", "/api/v1/csaf/ingest", "max_document_bytes"),
    _rule("POST", "/api/v1/(organisations/)?import", "max_document_bytes"),
    _rule("POST", "/api/v1/feeds", "max_document_bytes"),  # KEV/EUVD JSON, EPSS CSV or gzip
    _rule("POST", "/api/v1/advisories", "max_advisory_bytes"),  # OSV JSON or osv.dev's all.zip
    # web forms with a file field
    _rule("POST", "/products/import", "max_profile_bytes", multipart=True),
    _rule("POST", f"/products/{_ID}/statuses/{_ID}/evidence", "max_upload_bytes", multipart=True),
    _rule("POST", f"/products/{_ID}/sbom", "max_document_bytes", multipart=True),
    _rule("POST", f"/products/{_ID}/vex/import", "max_document_bytes", multipart=True),
    _rule("POST", "/csaf/ingest", "max_document_bytes", multipart=True),
    _rule("POST", "/feeds/advisories", "max_advisory_bytes", multipart=True),
    _rule("POST", "/feeds/upload", "max_document_bytes", multipart=True),
)


class BodyTooLarge(HTTPException):
    """The body passed its route's limit while streaming in (raised from ``receive``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class BodyLimit:
    """Bound every request body before any of it is read: before authentication, before
    FastAPI buffers a JSON body, before Starlette spools a multipart form to disk.

    A declared ``Content-Length`` over the route's limit is answered 413 without reading a
    byte; a chunked (or lying) body is counted as it streams and cut off at the limit (the route
    sees ``BodyTooLarge``, and whatever it answers is replaced by the 413). Routes default to
    ``settings.max_body_bytes``; ``UPLOADS`` lists the routes allowed more.
    """

    def __init__(self, app: ASGIApp, settings: Any, rules: tuple[BodyRule, ...] = UPLOADS) -> None:
        self.app, self.settings, self.rules = app, settings, rules

    def rule_for(self, method: str, path: str) -> tuple[int, bool]:
        """(limit in bytes, multipart allowed) for a request line."""
        for rule in self.rules:
            if rule.method == method and rule.path.match(path):
                return rule.limit(self.settings), rule.multipart
        return int(self.settings.max_body_bytes), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, multipart = self.rule_for(scope["method"], scope["path"])
        refusal = _refusal(Headers(scope=scope), limit, multipart)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received, exceeded, started, replaced = 0, False, False, False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                started = True
                if exceeded and message["status"] != 413:  # the route swallowed BodyTooLarge
                    replaced = True
                    await _too_large(limit)(scope, receive, send)
                    return
            if not replaced:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await _too_large(limit)(scope, receive, send)


def _refusal(headers: Headers, limit: int, multipart: bool) -> ASGIApp | None:
    """The response that refuses a request from its headers alone, or None to let it in."""
    declared = headers.get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):
        return _problem(400, "Content-Length is not a number of bytes")
    if declared is not None and int(declared) > limit:
        return _too_large(limit)
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media.startswith("multipart/") and not multipart:
        return _problem(415, "multipart/form-data is accepted only where a file is uploaded")
    return None


def _too_large(limit: int) -> ASGIApp:
    return _problem(413, f"the request body is larger than the limit of {limit} bytes")


def _problem(status: int, detail: str, errors: list[Any] | None = None) -> ASGIApp:
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase,
                            "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers={"Connection": "close"})


class JsonBodyCheck:
    """Decode every JSON request body with ``prodsec.untrusted`` before a route sees it.

    FastAPI decodes with plain ``json.loads``, which accepts what no route can use: a lone
    surrogate (``"\\ud800"``, a 500 when the response or the database encodes it), an integer of
    more than 4 300 digits or nesting 5 000 deep (a bare 400). Here those are a 422 problem
    naming the location. Bodies are already bounded by ``BodyLimit`` (outside this), so
    buffering one is safe; upload routes parse their own documents and are passed through.
    """

    def __init__(self, app: ASGIApp, rules: tuple[BodyRule, ...] = UPLOADS) -> None:
        self.app, self.rules = app, rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([], message, receive), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = _json_problem(body)
        if problem is not None:
            await _problem(422, problem, errors=[])(scope, receive, send)
            return
        await self.app(scope, _replay([body], None, receive), send)

    def _is_json(self, scope: Scope) -> bool:
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return False
        if any(r.method == scope["method"] and r.path.match(scope["path"]) for r in self.rules):
            return False
        media = Headers(scope=scope).get("content-type")
        if media is None:  # FastAPI reads a body without a content type as JSON
            return bool(str(scope["path"]).startswith("/api/"))
        main = media.split(";")[0].strip().lower()
        return main == "application/json" or (main.startswith("application/")
                                              and main.endswith("+json"))


def _json_problem(body: bytes) -> str | None:
    """What is wrong with a JSON body, or None (an empty body is the route's business)."""
    from prodsec import untrusted
    from prodsec.errors import FormatError

    if not body.strip():
        return None
    try:
        untrusted.load_json(body, "request body")
    except FormatError as exc:
        return str(exc)
    return None


def _replay(chunks: list[bytes], last: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that hands out the buffered body once, then defers to the real one."""
    pending: list[Message] = [{"type": "http.request", "body": c, "more_body": False}
                              for c in chunks]
    if last is not None:
        pending.append(last)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


# ---- forms -----------------------------------------------------------------------------------

#: A web form's text fields: the longest is a CSAF summary (20 000 characters).
MAX_FORM_FIELDS = 64
MAX_FIELD_BYTES = 128 * 1024


async def read_form(request: Request, files: int = 0) -> FormData:
    """The request's form, parsed with bounds: at most ``files`` files, ``MAX_FORM_FIELDS``
    fields of at most ``MAX_FIELD_BYTES`` each (a file's size is bounded by ``BodyLimit``)."""
    return await request.form(max_files=files, max_fields=MAX_FORM_FIELDS,
                              max_part_size=MAX_FIELD_BYTES)
