"""Security headers on every response, as plain ASGI (no per-request task switching).

API responses are JSON that no browser should render, sniff or frame: ``default-src 'none'``.
The interactive docs page is HTML that loads Swagger UI from its CDN, so it gets a policy
allowing exactly that and nothing more.
"""

from __future__ import annotations

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
