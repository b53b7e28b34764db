"""Browser sessions and login rate limiting, for the web UI's cookie login.

A session's secret lives only in the ``prodsec_session`` cookie; the database keeps its SHA-256
(the primary key of ``web_sessions``), so a stolen database dump cannot be replayed as a
session. Each session has its own CSRF token, which cookie-authenticated writes must echo in
``X-CSRF-Token`` (a cross-site form can send the cookie, never the header).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from prodsec.db.models import User, WebSession, utcnow
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


class LoginLimiter:
    """Failed logins per key (an e-mail, a client address) in a sliding window.

    In memory, per server process: it slows password guessing against one account or from one
    address without a table to clean up; a multi-process deployment gets one budget per process.
    """

    def __init__(self, max_failures: int = 5, window: float = 15 * 60,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> int:
        """Seconds until every key may try again (0: go ahead)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                hits = self._prune(key, now)
                if len(hits) >= self.max_failures:
                    wait = max(wait, hits[0] + self.window - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._failures[key].append(now)

    def succeeded(self, key: str) -> None:
        """A correct password clears that account's failures (not the address's)."""
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, key: str, now: float) -> deque[float]:
        hits = self._failures[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._failures[key]
            return deque()
        return hits


def has_users(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None
