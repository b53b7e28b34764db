"""Browser sessions and login rate limiting, for the web UI's cookie login.

A session's secret lives only in the ``prodsec_session`` cookie; the database keeps its SHA-256
(the primary key of ``web_sessions``), so a stolen database dump cannot be replayed as a
session. Each session has its own CSRF token, which cookie-authenticated writes must echo in
``X-CSRF-Token`` (a cross-site form can send the cookie, never the header).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from collections.abc import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from prodsec.db.engine import Database
from prodsec.db.models import LoginFailure, User, WebSession, utcnow
from prodsec.workspace.context import Actor
from prodsec.workspace.users import actor_for

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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LoginLimiter:
    """Failed logins per key (an e-mail, a client address) in a sliding window, in the database.

    Every server process and replica over one database shares one budget, and a restart keeps
    it. Each failure is one inserted row (never a counter read and rewritten), so concurrent
    failures all count; it is committed in the limiter's own transaction, apart from the login
    request's, which rolls back when the password is wrong. Keys are stored as their SHA-256.
    Rows older than the window are pruned whenever a failure is recorded, so the table holds
    at most one window's failures.
    """

    def __init__(self, database: Database, max_failures: int = 5, window: float = 15 * 60,
                 clock: Callable[[], dt.datetime] = _now) -> None:
        self.database, self.max_failures, self.clock = database, max_failures, clock
        self.window = dt.timedelta(seconds=window)

    def retry_after(self, *keys: str) -> int:
        """Seconds until every key may try again (0: go ahead).

        A key is locked out while it has ``max_failures`` failures in the window; it is free
        again when the ``max_failures``-th most recent of them leaves the window. One query
        finds that failure for every key (the newest such time wins)."""
        now = self._now()
        ranked = select(
            LoginFailure.failed_at,
            func.row_number().over(partition_by=LoginFailure.key,
                                   order_by=LoginFailure.failed_at.desc()).label("rank"),
        ).where(LoginFailure.key.in_([_digest(key) for key in keys]),
                LoginFailure.failed_at > now - self.window).subquery()
        with self.database.transaction() as session:
            oldest_needed = session.scalar(select(func.max(ranked.c.failed_at))
                                           .where(ranked.c.rank == self.max_failures))
        if oldest_needed is None:
            return 0
        wait = (_aware(oldest_needed) + self.window - now).total_seconds()
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        """Record a failure for each key (committed at once), then prune expired failures.

        The insert commits before the prune runs: a prune that fails (a lock timeout) can
        cost a 500, never the recorded failure."""
        now = self._now()
        with self.database.transaction() as session:
            session.add_all(LoginFailure(key=_digest(key), failed_at=now) for key in keys)
        with self.database.transaction() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - self.window))

    def succeeded(self, key: str) -> None:
        """A correct password clears that account's failures (not the address's)."""
        with self.database.transaction() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key == _digest(key)))

    def _now(self) -> dt.datetime:
        return _aware(self.clock()).astimezone(dt.UTC)


def has_users(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None
