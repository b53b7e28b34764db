"""The web UI: server-rendered pages (Jinja2, a little plain JavaScript, no build step, no CDN)
over the same services and view data as the CLI and the REST API.

``mount(app, database, kb)`` adds the pages and the static assets to the API application.
Browsers authenticate with the session cookie of ``prodsec.workspace.sessions``; every form
carries the session's CSRF token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"


def mount(app: Any, database: Any, kb: Any, limiter: Any = None, secure_cookies: bool = False) -> None:
    from fastapi.staticfiles import StaticFiles

    from prodsec.web import pages
    from prodsec.workspace.throttle import LoginLimiter

    # The limiter's state lives in the database, so every limiter on it shares one budget;
    # the API's (with the deployment's settings) is the default.
    api = getattr(app.state, "prodsec", None)
    app.state.web = pages.WebState(database=database, kb=kb,
                                   limiter=limiter or (api.limiter if api else None)
                                   or LoginLimiter(database),
                                   secure_cookies=secure_cookies)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    pages.install_error_pages(app)
