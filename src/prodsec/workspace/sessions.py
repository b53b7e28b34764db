"""Browser sessions and signing in (under the login limiter of ``throttle``).

A session's secret lives only in the ``prodsec_session`` cookie; the database keeps its SHA-256
(the primary key of ``web_sessions``), so a stolen database dump cannot be replayed as a
session. Each session has its own CSRF token, which cookie-authenticated writes must echo in
``X-CSRF-Token`` (a cross-site form can send the cookie, never the header).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from prodsec.db.engine import Database
from prodsec.db.models import User, WebSession, utcnow
from prodsec.errors import LoginThrottled as LoginThrottled
from prodsec.workspace import devices
from prodsec.workspace.context import Actor
from prodsec.workspace.throttle import LoginLimiter, account_key, client_key
from prodsec.workspace.users import actor_for, authenticate_password

__all__ = ["LoginLimiter", "LoginThrottled", "create_session", "csrf_matches", "end_session",
           "has_users", "session_actor", "sign_in"]

SESSION_TTL = dt.timedelta(hours=12)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def create_session(session: Session, actor: Actor, ttl: dt.timedelta = SESSION_TTL
                   ) -> tuple[str, str]:
    """Start a session for the actor; return (cookie secret, CSRF token). Expired sessions of
    every user are purged on the way, so the table does not grow without bound."""
    session.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(WebSession(id=_digest(secret), user_id=actor.user_id, org_id=actor.org_id,
                           csrf_token=csrf, expires_at=utcnow() + ttl))
    session.flush()
    return secret, csrf


def session_actor(session: Session, secret: str) -> tuple[Actor, str] | None:
    """The actor and CSRF token of a live session, or None if unknown or expired."""
    row = session.get(WebSession, _digest(secret))
    if row is None or _aware(row.expires_at) < utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return actor_for(session, user, row.org_id), row.csrf_token


def end_session(session: Session, secret: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == _digest(secret)))


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(expected, given)


def sign_in(database: Database, limiter: LoginLimiter, email: str, password: str,
            client: str, organisation: str | None = None,
            device_cookie: str | None = None) -> Actor | None:
    """Check a password under the limiter, for every face that signs users in.

    Claims the attempt on the account's and the client's keys first (``LoginThrottled`` if
    either is backing off), then checks the password in its own transaction, so the limiter's
    bookkeeping commits whatever the caller's transaction does. None for every kind of
    failure (unknown e-mail, wrong password, inactive user, no membership), which all take one
    argon2 verification: the answer and its timing reveal nothing about the account. A right
    password for an account in several organisations without a (valid) ``organisation`` is
    ``users.OrganisationChoice``: the attempt is given back, neither failed nor succeeded.

    An attempt carrying a valid device cookie for this account (``devices``) is limited by
    that device's budget only: strangers failing on the account, or from the same address,
    do not keep its owner out, as long as the device is remembered (not revoked). The caller
    issues a fresh cookie after a success (``devices.remember``).
    """
    device = devices.device_key(device_cookie, email)
    if device is not None:
        with database.transaction() as session:  # revoked or replaced: no exemption
            device = device if devices.known(session, device) else None
    keys = (device,) if device else (account_key(email), client_key(client))
    wait = limiter.claim(*keys)
    if wait:
        raise LoginThrottled(wait)
    try:
        with database.transaction() as session:
            actor = authenticate_password(session, email, password, organisation)
    except BaseException:
        limiter.release(*keys)
        raise
    if actor is None:
        limiter.failed(*keys)
    else:
        limiter.succeeded(*keys)  # the account's key, or the device's: it starts afresh
    return actor


def has_users(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None
