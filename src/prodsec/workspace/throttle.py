"""The login limiter: per account and per client, atomic, with exponential back-off.

Every login attempt first *claims* a slot on each of its keys (``account:<e-mail>`` and
``client:<address>``), then reports how it ended (failed, succeeded, or neither). A key lets
``free`` attempts through (counting those still in flight); after that many consecutive
failures it refuses every attempt for ``first`` seconds, then for twice as long after the
next failure, and so on up to ``longest`` — a back-off, never a lock — and lets only one
attempt be in flight at a time. A correct password resets the account's key; the client's key
keeps its failures (a sprayer who knows one password must not earn a fresh budget with it).

Why claims: checking "fewer than five failures?" and recording the failure after the password
check (seconds of argon2 later) let 25 of 40 parallel guesses through. Here the check and the
claim are one conditional UPDATE, so a database row decides, under its row lock (PostgreSQL)
or the writer lock (SQLite), and at most ``free`` guesses are ever in flight or failed before
the back-off starts. All keys of one attempt are claimed in one transaction, in a fixed order
(no deadlock between two attempts), and released together if any of them refuses.

Why back-off and not a lock-out: five wrong guesses from anywhere used to lock the real user
out for 15 minutes. Now a stranger buys the account a short refusal (1 s after five failures,
doubling per further failure) and only by failing again after each window; a single client
runs into its own key's back-off as fast, so keeping an account refused for long takes many
addresses and still yields few guesses (NIST SP 800-63B-4 §3.2.2, rate limiting).

A claim whose request died (a killed process) is forgotten ``claim_ttl`` seconds after the
key's last activity, so a crash cannot wedge a key; keys idle for ``forget`` seconds are pruned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterable

from sqlalchemy import ColumnElement, case, delete, func, select, text, update
from sqlalchemy.orm import Session

from prodsec.db.engine import Database
from prodsec.db.models import LoginThrottle

CLAIM_TTL = 120.0
FORGET = 24 * 3600.0


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def account_key(email: str) -> str:
    """The account's key in its one stored form: a lookalike spelling that signs in to the
    same account (NFKC: a full-width letter) must not get a budget of its own."""
    from prodsec.workspace.users import lookup_email

    return f"account:{lookup_email(email)}"


def client_key(address: str) -> str:
    return f"client:{address}"


def password_change_key(user_id: str) -> str:
    """The budget of wrong current passwords when a signed-in user changes their password.

    Its own key, not the account's or the client's: a stranger failing to sign in to the
    account (from anywhere, the owner's own network included) fills those, and must not keep
    the owner, signed in, from changing the password. Only someone holding the user's session
    can spend this budget, and a thief guessing the password behind a stolen session backs off
    here as fast as one client does at the sign-in."""
    return f"password-change:{user_id}"


class LoginLimiter:
    """Claims and outcomes of login attempts, per key, in the database (shared by every
    process and replica on it, surviving restarts). Keys are stored as their SHA-256."""

    def __init__(self, database: Database, free: int = 5, longest: float = 15 * 60,
                 clock: Callable[[], dt.datetime] = _now, first: float = 1.0,
                 claim_ttl: float = CLAIM_TTL, forget: float = FORGET) -> None:
        if free < 1 or first <= 0 or longest < first:
            raise ValueError("login limiter: need free >= 1 and 0 < first <= longest")
        self.database, self.clock = database, clock
        self.free, self.first, self.longest = free, float(first), float(longest)
        self.claim_ttl, self.forget = claim_ttl, forget

    # ---- the attempt's life cycle -----------------------------------------------------------

    def claim(self, *keys: str) -> int:
        """Claim one attempt on every key: 0 if the caller may check the password now (and must
        then call ``failed``, ``succeeded`` or ``release``), else the seconds to wait."""
        now = self._now()
        digests = sorted({_digest(key) for key in keys})
        with self.database.transaction() as session:
            self._begin_write(session)
            self._ensure_rows(session, digests, now)
            refused = [d for d in digests if not self._claim_one(session, d, now)]
            if not refused:
                return 0
            wait = self._wait(session, refused, now)
            session.rollback()  # a refused attempt claims nothing on the other keys either
        return wait

    def failed(self, *keys: str) -> None:
        """The password was wrong: count a failure on every key; past the budget the key is
        refused for its back-off, which then doubles (up to ``longest``)."""
        now = self._now()
        over = LoginThrottle.failures + 1 >= self.free
        doubled = LoginThrottle.backoff * 2
        self._update(keys, now, failures=LoginThrottle.failures + 1,
                     blocked_until=case((over, now + LoginThrottle.backoff),
                                        else_=LoginThrottle.blocked_until),
                     backoff=case((over, case((doubled > self.longest, self.longest),
                                              else_=doubled)), else_=LoginThrottle.backoff))

    def succeeded(self, account: str, *others: str) -> None:
        """The password was right: the account starts afresh; the other keys (the client) only
        get their claim back."""
        now = self._now()
        self._update([account], now, failures=0, blocked_until=0.0, backoff=self.first)
        if others:
            self._update(others, now)

    def release(self, *keys: str) -> None:
        """The attempt ended without a verdict (an error): give the claims back."""
        self._update(keys, self._now())

    def retry_after(self, *keys: str) -> int:
        """Seconds until every key may be tried again (0: go ahead); reads, claims nothing."""
        now = self._now()
        with self.database.transaction() as session:
            return self._wait(session, [_digest(key) for key in keys], now)

    # ---- SQL ----------------------------------------------------------------------------------

    def _pending(self, now: float) -> ColumnElement[int]:
        """Claims in flight, forgetting those of a key idle for ``claim_ttl`` (a dead request)."""
        return case((LoginThrottle.touched_at < now - self.claim_ttl, 0),
                    else_=LoginThrottle.pending)

    def _claim_one(self, session: Session, digest: str, now: float) -> bool:
        """One conditional UPDATE: claim a slot if the key is not backing off and has room."""
        pending = self._pending(now)
        room = case((LoginThrottle.failures < self.free, self.free),
                    else_=LoginThrottle.failures + 1)
        result = session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == digest, LoginThrottle.blocked_until <= now,
                   LoginThrottle.failures + pending < room)
            .values(pending=pending + 1, touched_at=now)
            .execution_options(synchronize_session=False))
        return bool(getattr(result, "rowcount", 0) == 1)

    def _update(self, keys: Iterable[str], now: float, **values: object) -> None:
        """Give back one claim on each key and apply ``values``, in one transaction."""
        digests = sorted({_digest(key) for key in keys})
        with self.database.transaction() as session:
            self._begin_write(session)
            session.execute(
                update(LoginThrottle).where(LoginThrottle.key.in_(digests))
                .values(pending=case((LoginThrottle.pending > 0, LoginThrottle.pending - 1),
                                     else_=0), touched_at=now, **values)
                .execution_options(synchronize_session=False))

    def _ensure_rows(self, session: Session, digests: list[str], now: float) -> None:
        """Insert the keys' rows if missing (never overwriting), and prune idle keys."""
        if self.database.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        rows = [{"key": d, "failures": 0, "pending": 0, "backoff": self.first,
                 "blocked_until": 0.0, "touched_at": now} for d in digests]
        session.execute(insert(LoginThrottle).values(rows).on_conflict_do_nothing())
        idle = (select(LoginThrottle.key)
                .where(LoginThrottle.touched_at < now - self.forget,
                       LoginThrottle.key.not_in(digests)).limit(100))
        if not self.database.is_sqlite:  # never wait for (or deadlock with) a live claim
            idle = idle.with_for_update(skip_locked=True)
        session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(idle.scalar_subquery()))
                        .execution_options(synchronize_session=False))

    def _wait(self, session: Session, digests: list[str], now: float) -> int:
        """Seconds until the refused keys have room: the back-off's end, or 1 s while another
        attempt on the key is still in flight."""
        pending = self._pending(now)
        full = LoginThrottle.failures + pending >= case(
            (LoginThrottle.failures < self.free, self.free), else_=LoginThrottle.failures + 1)
        ends = session.execute(select(func.max(LoginThrottle.blocked_until),
                                      func.max(case((full, 1), else_=0)))
                               .where(LoginThrottle.key.in_(digests))).one()
        blocked = (ends[0] or 0.0) - now
        if blocked > 0:
            return math.ceil(blocked)
        return 1 if ends[1] else 0

    def _begin_write(self, session: Session) -> None:
        """SQLite: take the writer lock up front, so the claim's read and write are one step."""
        if self.database.is_sqlite:
            session.execute(text("BEGIN IMMEDIATE"))

    def _now(self) -> float:
        now = self.clock()
        return (now if now.tzinfo else now.replace(tzinfo=dt.UTC)).timestamp()
