"""Request-scoped dependencies: the unit of work, who is asking, and what they may do.

Every route but ``/health`` and ``/auth/login`` takes a ``Unit`` (or ``Writer``/``Admin``): one
database transaction, committed when the route returns and rolled back completely if it raises,
plus the authenticated ``Actor``. Authentication runs before the request body is even parsed,
so an anonymous caller learns nothing, not even which fields a route expects. Uploads and
imports take an ``EditorActor`` instead (authenticated in a short read transaction) and open
their write transaction with ``prodsec.workspace.writes`` only once the body has arrived and
been parsed, so no lock is held while a client sends.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import anyio
from anyio import to_thread
from fastapi import Depends, Header, Query, Request, Response
from sqlalchemy.orm import Session

from prodsec.api.problems import ApiError, unauthenticated
from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.limits import PAGE_SIZE
from prodsec.db.engine import Database, raise_deferred
from prodsec.services.check import MAX_PROFILE_BYTES
from prodsec.workspace import sessions, users, writes
from prodsec.workspace.context import Actor

SESSION_COOKIE = "prodsec_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Settings:
    """What a deployment may tune; tests shrink the limits to stay fast."""

    max_upload_bytes: int = 50 * 1024 * 1024  # one evidence file
    #: every request body without a higher limit (JSON, forms, login), checked before it is read
    max_body_bytes: int = 1024 * 1024
    max_document_bytes: int = 64 * 1024 * 1024  # an SBOM, VEX or import (as formats.MAX_BYTES)
    #: a product profile file (the web's profile import), as ``services.check`` parses it
    max_profile_bytes: int = MAX_PROFILE_BYTES
    #: an OSV advisory or zip of them (workspace.advisory_uploads.MAX_UPLOAD_BYTES)
    max_advisory_bytes: int = 512 * 1024 * 1024
    secure_cookies: bool = False  # also Secure whenever the request itself is https
    session_ttl: dt.timedelta = sessions.SESSION_TTL
    login_failures: int = 5  # attempts per account and per client before the back-off
    login_backoff_seconds: float = 1.0  # the first refusal; it doubles per further failure
    login_backoff_max_seconds: float = 15 * 60
    # Peers whose X-Forwarded-For is believed (IP addresses or CIDR networks, e.g. the TLS
    # proxy in front); PRODSEC_TRUSTED_PROXIES. Empty: the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ()


@dataclass
class AppState:
    """Everything a request needs that outlives it; one per app, never a module global."""

    database: Database
    kb: KnowledgeBase
    settings: Settings
    limiter: sessions.LoginLimiter


@dataclass(frozen=True)
class Unit:
    """One request's unit of work: a transaction and the actor it runs as."""

    session: Session
    actor: Actor
    state: AppState

    @property
    def kb(self) -> KnowledgeBase:
        return self.state.kb

    @property
    def evidence_dir(self) -> Path:
        return self.state.database.evidence_dir


async def app_state(request: Request) -> AppState:
    """The app's state. ``async`` though it awaits nothing: FastAPI runs a plain ``def``
    dependency in a worker thread, a hop every request paid for an attribute read."""
    state: AppState = request.app.state.prodsec
    return state


def authenticate(request: Request, session: Session) -> Actor:
    """Bearer token first; else the session cookie, whose writes must carry the CSRF token."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, secret = authorization.partition(" ")
        actor = users.authenticate_token(session, secret.strip()) \
            if scheme.lower() == "bearer" and secret.strip() else None
        if actor is None:
            raise unauthenticated("the bearer token is invalid, expired or revoked")
        return actor
    cookie = request.cookies.get(SESSION_COOKIE)
    found = sessions.session_actor(session, cookie) if cookie else None
    if found is None:
        raise unauthenticated()
    actor, csrf = found
    if request.method not in SAFE_METHODS and \
            not sessions.csrf_matches(csrf, request.headers.get("x-csrf-token")):
        raise ApiError(403, "a cookie-authenticated write needs the X-CSRF-Token header "
                            "returned at login")
    return actor


async def unit(request: Request, state: Annotated[AppState, Depends(app_state)]
               ) -> AsyncIterator[Unit]:
    """A transaction for the request. A write waits (on the event loop, holding no thread) for
    its turn, then begins as a writer holding its organisation's chain lock
    (``prodsec.workspace.writes``): two concurrent edits queue instead of one failing on a stale
    snapshot (it then gets 412) or deadlocking."""
    database = state.database
    async with database.admitted():
        session = database.sessions()
        try:
            actor = await to_thread.run_sync(authenticate, request, session)
            write = request.method not in SAFE_METHODS
            async with database.writing(actor.org_id) if write else nullcontext():
                if write:
                    await to_thread.run_sync(writes.begin_write, database, session, actor.org_id)
                try:
                    yield Unit(session, actor, state)
                except BaseException:  # rolled back before a writer gives up its turn
                    with anyio.CancelScope(shield=True):
                        await to_thread.run_sync(session.rollback)
                    raise
                with anyio.CancelScope(shield=True):
                    await to_thread.run_sync(session.commit)
                raise_deferred(session)  # a job run in-process after the commit (SQLite)
        finally:
            with anyio.CancelScope(shield=True):
                await to_thread.run_sync(session.close)


async def authorised(request: Request, state: AppState, role: str) -> Actor:
    """Authenticate (and check ``role``) in a short read transaction of its own, for a route
    that must read its body before its write transaction begins (uploads, imports)."""
    actor = await writes.read(state.database, lambda session: authenticate(request, session))
    actor.require(role)
    return actor


async def editor(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Actor:
    return await authorised(request, state, "editor")


#: An editor, authenticated before the body is read, with no transaction held.
EditorActor = Annotated[Actor, Depends(editor)]
StateDep = Annotated[AppState, Depends(app_state)]


UnitDep = Annotated[Unit, Depends(unit, scope="function")]


def writer(work: UnitDep) -> Unit:
    """Editors and admins write; a viewer gets 403 before the body is looked at."""
    work.actor.require("editor")
    return work


def admin(work: UnitDep) -> Unit:
    work.actor.require("admin")
    return work


Writer = Annotated[Unit, Depends(writer)]
Admin = Annotated[Unit, Depends(admin)]

_ETAG = re.compile(r'^(?:W/)?"(\d{1,18})"$')


def if_match(if_match: Annotated[str | None, Header(
        alias="If-Match", description='The ETag from the last GET, e.g. "3".')] = None) -> int:
    """The version the client last saw; a write without one could silently undo another's."""
    if if_match is None:
        raise ApiError(428, "this resource is edited concurrently: send If-Match with the ETag "
                            "of your last GET")
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise ApiError(412, f"If-Match {if_match!r} does not match the current version")
    return int(match.group(1))


IfMatch = Annotated[int, Depends(if_match)]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


async def paging(limit: Annotated[int, Query(ge=1, le=PAGE_SIZE)] = 50,
                 offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> Paging:
    """``async`` for the reason ``app_state`` is: no thread for two numbers."""
    return Paging(limit, offset)


PagingDep = Annotated[Paging, Depends(paging)]
