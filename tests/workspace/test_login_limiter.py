"""The database-backed login limiter, on SQLite and PostgreSQL: lock-out and Retry-After, the
window (on an injected clock), success clearing only the account, one budget for every
process on the database, failures that survive the login's rollback, and hashed keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database, open_database
from prodsec.db.models import Base, LoginFailure, User
from prodsec.workspace import users
from prodsec.workspace.sessions import LoginLimiter

EMAIL, ADDRESS = "email:alice@acme.example", "ip:203.0.113.7"
T0 = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
WINDOW = 15 * 60


class Clock:
    """A clock the test moves by hand (UTC)."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(database: Database, clock: Clock) -> LoginLimiter:
    return LoginLimiter(database, clock=clock)


@pytest.fixture
def second_process(database: Database) -> Iterator[Database]:
    """The same database opened again: its own engine and connection pool, as another server
    process or replica would have."""
    other = open_database(database.url)
    yield other
    other.dispose()


def rows(database: Database) -> list[tuple[str, dt.datetime]]:
    with database.transaction() as session:
        return [(f.key, f.failed_at) for f in session.scalars(select(LoginFailure))]


def test_five_failures_lock_the_key_out(limiter: LoginLimiter, clock: Clock) -> None:
    for _ in range(4):
        limiter.failed(EMAIL, ADDRESS)
        clock.advance(10)
    assert limiter.retry_after(EMAIL, ADDRESS) == 0
    limiter.failed(EMAIL, ADDRESS)
    wait = limiter.retry_after(EMAIL, ADDRESS)
    assert 0 < wait <= WINDOW
    assert wait == WINDOW - 40  # the first failure leaves the window 900 s after it
    assert limiter.retry_after(EMAIL) == wait and limiter.retry_after(ADDRESS) == wait
    assert limiter.retry_after("email:bob@acme.example", "ip:198.51.100.1") == 0


def test_retry_after_is_at_most_the_window(limiter: LoginLimiter) -> None:
    for _ in range(5):
        limiter.failed(EMAIL)  # all at the same instant
    assert limiter.retry_after(EMAIL) == WINDOW


def test_the_window_slides(limiter: LoginLimiter, clock: Clock) -> None:
    for _ in range(6):  # six failures, 100 s apart
        limiter.failed(EMAIL)
        clock.advance(100)
    # now T0+600; the lock-out ends when the fifth newest (T0+100) leaves the window
    assert limiter.retry_after(EMAIL) == 100 + WINDOW - 600
    clock.advance(100 + WINDOW - 600 - 1)
    assert limiter.retry_after(EMAIL) == 1
    clock.advance(1)
    assert limiter.retry_after(EMAIL) == 0
    limiter.failed(EMAIL)  # back to five in the window
    assert limiter.retry_after(EMAIL) > 0
    clock.advance(WINDOW)
    assert limiter.retry_after(EMAIL) == 0


def test_expired_failures_are_pruned(database: Database, limiter: LoginLimiter,
                                     clock: Clock) -> None:
    limiter.failed(EMAIL, ADDRESS)
    clock.advance(WINDOW)
    limiter.failed("email:bob@acme.example")
    assert [key for key, _ in rows(database)] == [
        hashlib.sha256(b"email:bob@acme.example").hexdigest()]


def test_success_clears_the_account_not_the_address(limiter: LoginLimiter) -> None:
    for _ in range(5):
        limiter.failed(EMAIL, ADDRESS)
    limiter.succeeded(EMAIL)
    assert limiter.retry_after(EMAIL) == 0
    assert limiter.retry_after(ADDRESS) > 0
    assert limiter.retry_after(EMAIL, ADDRESS) > 0


def test_processes_share_one_budget(limiter: LoginLimiter, second_process: Database,
                                    clock: Clock) -> None:
    other = LoginLimiter(second_process, clock=clock)
    for _ in range(3):
        limiter.failed(EMAIL)
    for _ in range(2):
        other.failed(EMAIL)
    assert limiter.retry_after(EMAIL) > 0 and other.retry_after(EMAIL) > 0
    other.succeeded(EMAIL)
    assert limiter.retry_after(EMAIL) == 0


def test_concurrent_failures_all_count(database: Database, second_process: Database,
                                       clock: Clock) -> None:
    """Failures recorded at once from two processes (many threads each) are all kept: each is
    its own row, not a counter that one writer could overwrite."""
    limiters = [LoginLimiter(database, clock=clock), LoginLimiter(second_process, clock=clock)]
    start, errors = threading.Barrier(8), []

    def fail(limiter: LoginLimiter) -> None:
        try:
            start.wait()
            for _ in range(5):
                limiter.failed(EMAIL, ADDRESS)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=fail, args=(limiters[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(rows(database)) == 8 * 5 * 2


def test_a_failure_survives_the_login_rollback(database: Database,
                                               limiter: LoginLimiter) -> None:
    """The login handlers record the failure inside their own transaction, which a wrong
    password rolls back (the API raises its 401): the failure must be committed regardless."""
    with pytest.raises(RuntimeError), database.transaction() as session:
        assert session.scalar(select(User).where(User.email == "alice@acme.example")) is None
        for _ in range(5):
            limiter.failed(EMAIL, ADDRESS)
        raise RuntimeError("wrong e-mail or password")
    assert len(rows(database)) == 10
    assert limiter.retry_after(EMAIL) > 0


def test_keys_are_stored_as_hashes(database: Database, limiter: LoginLimiter) -> None:
    limiter.failed(EMAIL, ADDRESS)
    stored = rows(database)
    assert sorted(key for key, _ in stored) == sorted(
        hashlib.sha256(k.encode()).hexdigest() for k in (EMAIL, ADDRESS))
    text = repr(stored)
    assert "alice" not in text and "203.0.113.7" not in text


def test_failed_at_is_utc(database: Database, clock: Clock) -> None:
    """A clock in another time zone is stored and compared as UTC."""
    limiter = LoginLimiter(database, clock=lambda: clock().astimezone(
        dt.timezone(dt.timedelta(hours=2))))
    for _ in range(5):
        limiter.failed(EMAIL)
    [(_, failed_at), *_] = rows(database)
    assert failed_at.replace(tzinfo=failed_at.tzinfo or dt.UTC) == T0
    assert LoginLimiter(database, clock=clock).retry_after(EMAIL) == WINDOW


def test_migrations_match_the_models(database: Database) -> None:
    """The migrated schema (now with 0004, login_failures) is what the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_api_and_web_share_the_budget(database: Database, kb: KnowledgeBase,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The REST API's limiter and the web UI's default one count the same failures."""
    from argon2 import PasswordHasher

    from prodsec import web
    from prodsec.api import create_app
    from tests.web.conftest import post_login

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(1, 8, 1))
    app = create_app(database, kb)
    web.mount(app, database, kb)
    assert app.state.web.limiter is not app.state.prodsec.limiter
    client = TestClient(app)
    for _ in range(3):
        assert client.post("/api/v1/auth/login", json={
            "email": "alice@acme.example", "password": "wrong guess!!"}).status_code == 401
    for _ in range(2):
        assert post_login(client, {
            "email": "alice@acme.example", "password": "wrong guess!!"}).status_code == 401
    assert client.post("/api/v1/auth/login", json={
        "email": "alice@acme.example", "password": "wrong guess!!"}).status_code == 429
    assert post_login(client, {
        "email": "alice@acme.example", "password": "wrong guess!!"}).status_code == 429
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 10
