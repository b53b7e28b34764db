"""CLI command group: ``prodsec serve``, the REST API over the workspace database.

FastAPI and uvicorn are imported inside the command, never at CLI start-up.
"""

from __future__ import annotations

import os
import secrets
from typing import Annotated, Any

import typer

ADMIN_EMAIL = "admin@localhost"
ADMIN_ORG = "default"


def ensure_admin(database: Any) -> tuple[bool, str | None]:
    """On a database without users, create the first admin; return (created, generated password).

    The password comes from ``PRODSEC_ADMIN_PASSWORD``; without it a random one is made and
    returned so that it can be shown exactly once (only its argon2 hash is stored).
    """
    from prodsec.workspace.sessions import has_users
    from prodsec.workspace.users import create_user

    with database.transaction() as session:
        if has_users(session):
            return False, None
        given = os.environ.get("PRODSEC_ADMIN_PASSWORD")
        password = given or secrets.token_urlsafe(18)
        create_user(session, ADMIN_ORG, ADMIN_EMAIL, "admin", password, "Administrator")
    return True, None if given else password


def admin_line(generated: str | None) -> str:
    """What the first start says about the admin it created: who, in which organisation, and
    where the password is (never the password from the environment)."""
    created = f"created {ADMIN_EMAIL} (admin) in organisation {ADMIN_ORG!r}"
    if generated is None:
        return f"{created} with the password from PRODSEC_ADMIN_PASSWORD"
    return f"{created}; one-time password (shown only now): {generated}"


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    db: Annotated[str | None, typer.Option("--db", help="SQLite file or database URL "
                                           "(default: PRODSEC_DATABASE_URL, else the user data dir).")] = None,
    secure_cookies: Annotated[bool, typer.Option(help="Mark session cookies Secure even behind "
                                                 "a TLS-terminating proxy.")] = False,
    trusted_proxies: Annotated[str, typer.Option(
        envvar="PRODSEC_TRUSTED_PROXIES",
        help="Reverse proxies whose X-Forwarded-For names the client (addresses or CIDR "
             "networks, comma-separated); the login limiter then keys on the real client. "
             "Default: none (the TCP peer is the client).")] = "",
) -> None:
    """Serve the web UI (at /) and the REST API (under /api/v1, docs at /api/docs); needs the
    server extra. The first start on a database without users creates admin@localhost in the
    organisation 'default' (password: PRODSEC_ADMIN_PASSWORD, else a one-time one printed once)."""
    import uvicorn

    from prodsec.api import Settings, create_app
    from prodsec.api.clients import parse_trusted_proxies
    from prodsec.cli.changes import open_db
    from prodsec.errors import InputError
    from prodsec.services.knowledge import knowledge_base

    try:
        proxies = parse_trusted_proxies(trusted_proxies)
    except ValueError as exc:
        raise InputError(f"--trusted-proxies / PRODSEC_TRUSTED_PROXIES: {exc}") from None
    _check_port(host, port)  # before anything is written: a busy port creates no admin
    database = open_db(db)
    created, generated = ensure_admin(database)
    if created:
        print(admin_line(generated), flush=True)
    app = create_app(database, knowledge_base(), Settings(secure_cookies=secure_cookies,
                                                           trusted_proxies=proxies))
    _mount_web(app, database, secure_cookies)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
    finally:
        database.dispose()


def _check_port(host: str, port: int) -> None:
    """Bind the address once, as uvicorn will, so a port in use (or a host that is not ours)
    is a sentence and exit 2 — not a uvicorn traceback after the admin was created."""
    import socket

    from prodsec.errors import InputError

    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot listen on {host}:{port}: {reason} (is another server "
                         "running there? choose another --port)") from None


def _mount_web(app: Any, database: Any, secure_cookies: bool) -> None:
    """The web UI, on the same server and login limiter, when it is installed."""
    try:
        from prodsec import web
    except ImportError:
        return
    if not hasattr(app.state, "web"):
        web.mount(app, database, app.state.prodsec.kb, app.state.prodsec.limiter, secure_cookies)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main application."""
    app.command("serve")(serve)
