"""The database-backed login limiter, on SQLite and PostgreSQL: atomic claims (parallel
attempts never exceed the budget), exponential back-off instead of a lock-out, success
resetting only the account, one budget for every process on the database, crashed claims
forgotten, idle keys pruned, and hashed keys."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database, open_database
from prodsec.db.models import AuditEvent, Base, LoginThrottle, Organisation, User
from prodsec.workspace import users
from prodsec.workspace.context import Actor
from prodsec.workspace.throttle import LoginLimiter, account_key

PASSWORD = "amber lantern over quiet fjords"
ACCOUNT, CLIENT = "account:alice@acme.example", "client:203.0.113.7"
T0 = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


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


def guess(limiter: LoginLimiter, *keys: str) -> int:
    """One wrong guess: claim, then (if let through) fail. Returns the claim's answer."""
    wait = limiter.claim(*keys)
    if not wait:
        limiter.failed(*keys)
    return wait


def test_five_failures_then_a_back_off_that_doubles(limiter: LoginLimiter,
                                                    clock: Clock) -> None:
    for _ in range(5):
        assert guess(limiter, ACCOUNT, CLIENT) == 0
    assert limiter.claim(ACCOUNT, CLIENT) == 1  # refused for 1 s, not locked for 15 minutes
    assert limiter.retry_after(ACCOUNT) == 1 and limiter.retry_after(CLIENT) == 1
    assert limiter.retry_after("account:bob@acme.example", "client:198.51.100.1") == 0
    waits = []
    for _ in range(6):
        clock.advance(limiter.retry_after(ACCOUNT))
        assert guess(limiter, ACCOUNT, CLIENT) == 0
        waits.append(limiter.claim(ACCOUNT, CLIENT))
    assert waits == [2, 4, 8, 16, 32, 64]


def test_the_back_off_is_capped(database: Database, clock: Clock) -> None:
    limiter = LoginLimiter(database, free=1, longest=10, clock=clock)
    waits = []
    for _ in range(6):
        clock.advance(limiter.retry_after(ACCOUNT))
        assert guess(limiter, ACCOUNT) == 0
        waits.append(limiter.retry_after(ACCOUNT))
    assert waits == [1, 2, 4, 8, 10, 10]


def test_a_refused_attempt_claims_nothing(limiter: LoginLimiter, clock: Clock) -> None:
    """A claim refused on one key (the account) takes no slot on the other (the client)."""
    for _ in range(5):
        guess(limiter, ACCOUNT, f"client:198.51.100.{_}")
    for _ in range(20):
        assert limiter.claim(ACCOUNT, CLIENT) > 0
    assert limiter.retry_after(CLIENT) == 0
    for i in range(4):
        assert guess(limiter, f"account:user{i}@acme.example", CLIENT) == 0


def test_success_resets_the_account_not_the_client(limiter: LoginLimiter,
                                                   clock: Clock) -> None:
    for _ in range(5):
        guess(limiter, ACCOUNT, CLIENT)
    clock.advance(1)
    assert limiter.claim(ACCOUNT, CLIENT) == 0
    limiter.succeeded(ACCOUNT, CLIENT)
    assert limiter.retry_after(ACCOUNT) == 0
    assert limiter.claim(ACCOUNT, "client:198.51.100.1") == 0  # five fresh tries
    limiter.release(ACCOUNT, "client:198.51.100.1")
    assert limiter.claim("account:bob@acme.example", CLIENT) == 0  # the client's budget is spent:
    limiter.failed("account:bob@acme.example", CLIENT)  # its next failure backs off for 2 s
    assert limiter.retry_after(CLIENT) == 2


def test_successes_from_one_client_never_throttle_it(limiter: LoginLimiter) -> None:
    """An office behind one address: a hundred good sign-ins take nothing from its budget."""
    for i in range(100):
        keys = (f"account:user{i % 7}@acme.example", CLIENT)
        assert limiter.claim(*keys) == 0
        limiter.succeeded(*keys)
    assert limiter.retry_after(CLIENT) == 0


def test_attempts_in_flight_count(limiter: LoginLimiter) -> None:
    """Claims not yet failed hold their slots: five in flight, the sixth waits."""
    for _ in range(5):
        assert limiter.claim(ACCOUNT) == 0
    assert limiter.claim(ACCOUNT) == 1
    limiter.release(ACCOUNT)
    assert limiter.claim(ACCOUNT) == 0


def test_a_crashed_claim_is_forgotten(limiter: LoginLimiter, clock: Clock) -> None:
    """A request killed between claim and verdict cannot wedge the key for good."""
    for _ in range(5):
        assert limiter.claim(ACCOUNT) == 0  # never released: the process died
    assert limiter.claim(ACCOUNT) > 0
    clock.advance(limiter.claim_ttl + 1)
    assert limiter.claim(ACCOUNT) == 0


def test_parallel_guesses_get_at_most_the_budget(database: Database, second_process: Database,
                                                 clock: Clock) -> None:
    """40 guesses at once, from two processes' worth of connections: exactly five are let
    through to the password check, the other 35 are refused (the old limiter let 25 pass)."""
    limiters = [LoginLimiter(database, clock=clock), LoginLimiter(second_process, clock=clock)]
    start, through, errors = threading.Barrier(40), [], []

    def attempt(limiter: LoginLimiter) -> None:
        try:
            start.wait()
            if limiter.claim(ACCOUNT, CLIENT) == 0:
                through.append(1)
                limiter.failed(ACCOUNT, CLIENT)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(limiters[i % 2],)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(through) == 5
    assert limiters[0].retry_after(ACCOUNT) == 1


def test_processes_share_one_budget(limiter: LoginLimiter, second_process: Database,
                                    clock: Clock) -> None:
    other = LoginLimiter(second_process, clock=clock)
    for _ in range(3):
        guess(limiter, ACCOUNT)
    for _ in range(2):
        guess(other, ACCOUNT)
    assert limiter.retry_after(ACCOUNT) > 0 and other.retry_after(ACCOUNT) > 0
    clock.advance(1)
    assert other.claim(ACCOUNT) == 0
    other.succeeded(ACCOUNT)
    assert limiter.retry_after(ACCOUNT) == 0


def test_idle_keys_are_pruned(database: Database, limiter: LoginLimiter, clock: Clock) -> None:
    guess(limiter, ACCOUNT, CLIENT)
    clock.advance(limiter.forget + 1)
    guess(limiter, "account:bob@acme.example")
    assert keys(database) == [hashlib.sha256(b"account:bob@acme.example").hexdigest()]


def keys(database: Database) -> list[str]:
    with database.transaction() as session:
        return sorted(session.scalars(select(LoginThrottle.key)))


def test_keys_are_stored_as_hashes(database: Database, limiter: LoginLimiter) -> None:
    guess(limiter, ACCOUNT, CLIENT)
    assert keys(database) == sorted(hashlib.sha256(k.encode()).hexdigest()
                                    for k in (ACCOUNT, CLIENT))


def test_a_clock_in_another_time_zone_is_the_same_instant(database: Database,
                                                         clock: Clock) -> None:
    shifted = LoginLimiter(database, clock=lambda: clock().astimezone(
        dt.timezone(dt.timedelta(hours=2))))
    for _ in range(5):
        guess(shifted, ACCOUNT)
    assert LoginLimiter(database, clock=clock).retry_after(ACCOUNT) == 1


def test_migrations_match_the_models(database: Database) -> None:
    """The migrated schema (now with 0006, login_throttle) is what the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def ours(name: str | None, kind: str, parent: object) -> bool:
        # procrastinate's queue tables (0008) are its own, created from its schema.sql
        return not (kind == "table" and (name or "").startswith("procrastinate_"))

    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": ours})
        assert compare_metadata(context, Base.metadata) == []


def test_api_and_web_share_the_budget(database: Database, kb: KnowledgeBase,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The REST API's login and the web UI's count against the same keys."""
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
    assert app.state.web.limiter is app.state.prodsec.limiter
    app.state.prodsec.limiter.clock = Clock(dt.datetime.now(dt.UTC))  # no 1 s may pass
    client = TestClient(app)
    wrong = {"email": "alice@acme.example", "password": "wrong guess!!"}
    for _ in range(3):
        assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
    for _ in range(2):
        assert post_login(client, wrong).status_code == 401
    refused = client.post("/api/v1/auth/login", json=wrong)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert post_login(client, wrong).status_code == 429
    with database.transaction() as session:
        assert session.scalar(select(func.sum(LoginThrottle.failures))) == 10


# ---- known-device cookies (issue 11): strangers flooding an account do not keep its owner out


@pytest.fixture
def owner(database: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(1, 8, 1))
    with database.transaction() as session:
        users.create_user(session, "Acme", "alice@acme.example", "editor", PASSWORD)
    return "alice@acme.example"


def flood(database: Database, limiter: LoginLimiter, email: str, clock: Clock,
          rounds: int = 8) -> None:
    """A stranger fails on the account from many addresses, again after every back-off."""
    from prodsec.workspace.sessions import LoginThrottled, sign_in

    for n in range(rounds):
        clock.advance(limiter.retry_after(account_key(email)))
        with contextlib.suppress(LoginThrottled):
            assert sign_in(database, limiter, email, "wrong guess!!", f"198.51.100.{n}") is None
    assert limiter.retry_after(account_key(email)) > 1


def actor_of(database: Database, email: str, org: str | None = None) -> Actor:
    with database.transaction() as session:
        user = session.scalar(select(User).where(User.email == email))
        assert user is not None
        org_id = session.scalar(select(Organisation.id).where(Organisation.name == org)) \
            if org else None
        return users.actor_for(session, user, org_id)


def remembered(database: Database, email: str, previous: str | None = None) -> str:
    """A device cookie as a sign-in leaves it: issued and remembered."""
    from prodsec.workspace import devices

    with database.transaction() as session:
        return devices.remember(session, actor_of(database, email), "Firefox\u202e on Linux",
                                previous)


def test_a_device_cookie_lets_the_owner_in_while_a_stranger_floods(
        database: Database, limiter: LoginLimiter, clock: Clock, owner: str) -> None:
    from prodsec.workspace.sessions import LoginThrottled, sign_in

    assert sign_in(database, limiter, owner, PASSWORD, "203.0.113.7") is not None
    cookie = remembered(database, owner)
    flood(database, limiter, owner, clock)
    with pytest.raises(LoginThrottled):  # without the cookie: the account's back-off
        sign_in(database, limiter, owner, PASSWORD, "203.0.113.7")
    for _ in range(3):  # with it: in, from the stranger's own address too, again and again
        actor = sign_in(database, limiter, owner, PASSWORD, "198.51.100.1",
                        device_cookie=cookie)
        assert actor is not None and actor.email == owner


def test_forged_foreign_or_expired_device_cookies_give_no_bypass(
        database: Database, limiter: LoginLimiter, clock: Clock, owner: str) -> None:
    from prodsec.workspace import devices
    from prodsec.workspace.sessions import LoginThrottled, sign_in

    flood(database, limiter, owner, clock)
    real = devices.issue(owner)
    version, device, expires, mac = real.split(".")
    forged = [
        devices.issue("mallory@acme.example"),  # another account's cookie
        f"{version}.{device}.{expires}.{'0' * len(mac)}",  # a made-up MAC
        f"{version}.{device}.{int(expires) + 999}.{mac}",  # a longer life, same MAC
        f"{version}.other.{expires}.{mac}",  # another device id
        devices.issue(owner, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=91)),  # expired
        "", "v1...", "x" * 5000]
    for cookie in forged:
        assert devices.device_key(cookie, owner) is None, cookie
        with pytest.raises(LoginThrottled):
            sign_in(database, limiter, owner, PASSWORD, "203.0.113.7", device_cookie=cookie)
    assert devices.device_key(real, owner.upper()) == f"device:{device}"


def test_a_device_cookie_names_the_account_in_its_one_stored_form(owner: str) -> None:
    """Every spelling sign-in takes for the account (``users.lookup_email``: NFKC, case,
    surrounding space) is the same account for its device cookie too."""
    from prodsec.workspace import devices

    cookie = devices.issue(f"  {owner.upper()} ")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in owner)
    for spelling in (owner, fullwidth, f"{owner}\t"):
        assert devices.device_key(cookie, spelling) is not None, spelling
    assert devices.device_key(cookie, owner.replace("@", "x@")) is None


def test_wrong_passwords_from_a_device_back_off_that_device_only(
        database: Database, limiter: LoginLimiter, clock: Clock, owner: str) -> None:
    """A stolen device cookie buys its thief the budget of one client, no more; the account
    and other devices are untouched by it."""
    from prodsec.workspace.sessions import LoginThrottled, sign_in

    stolen, mine = remembered(database, owner), remembered(database, owner)
    for _ in range(5):
        assert sign_in(database, limiter, owner, "wrong guess!!", "192.0.2.9",
                       device_cookie=stolen) is None
    with pytest.raises(LoginThrottled):
        sign_in(database, limiter, owner, PASSWORD, "192.0.2.9", device_cookie=stolen)
    assert limiter.retry_after(account_key(owner)) == 0
    assert sign_in(database, limiter, owner, PASSWORD, "192.0.2.9", device_cookie=mine)
    assert sign_in(database, limiter, owner, PASSWORD, "203.0.113.7")


def test_a_revoked_or_replaced_device_gets_no_exemption(
        database: Database, limiter: LoginLimiter, clock: Clock, owner: str) -> None:
    """The owner lists their devices and revokes one (say, a lost laptop): its cookie, MAC
    still valid, then gets the account's back-off like no cookie; so does a cookie the next
    sign-in on that device replaced."""
    from prodsec.workspace import devices
    from prodsec.workspace.sessions import LoginThrottled, sign_in

    lost, old = remembered(database, owner), remembered(database, owner)
    kept = remembered(database, owner, previous=old)  # the device signed in again: rotated
    me = actor_of(database, owner)
    with database.transaction() as session:
        listed = devices.list_devices(session, me, current=kept)
    assert len(listed) == 2 and [d["current"] for d in listed].count(True) == 1
    assert all(d["label"] == "Firefox on Linux" for d in listed)  # no bidi control kept
    lost_id = next(d["id"] for d in listed if not d["current"])
    with database.transaction() as session:
        devices.revoke(session, me, lost_id)
    flood(database, limiter, owner, clock)
    for cookie in (lost, old):
        assert devices.device_key(cookie, owner) is not None  # the MAC alone would pass
        with pytest.raises(LoginThrottled):
            sign_in(database, limiter, owner, PASSWORD, "198.51.100.1", device_cookie=cookie)
    assert sign_in(database, limiter, owner, PASSWORD, "198.51.100.1", device_cookie=kept)


def test_an_admin_revokes_a_members_device_and_no_one_else_does(
        database: Database, owner: str) -> None:
    from prodsec.workspace import devices
    from prodsec.workspace.context import NotFound, PermissionDenied

    with database.transaction() as session:
        users.create_user(session, "Acme", "admin@acme.example", "admin", PASSWORD)
        users.create_user(session, "Acme", "viewer@acme.example", "viewer", PASSWORD)
        users.create_user(session, "Globex", "admin@globex.example", "admin", PASSWORD)
    remembered(database, owner)
    alice = actor_of(database, owner)
    admin, viewer = actor_of(database, "admin@acme.example"), actor_of(database,
                                                                       "viewer@acme.example")
    stranger = actor_of(database, "admin@globex.example")
    with database.transaction() as session:
        [device] = devices.list_devices(session, admin, alice.user_id)
        with pytest.raises(PermissionDenied):
            devices.list_devices(session, viewer, alice.user_id)
        with pytest.raises(NotFound):
            devices.revoke(session, stranger, device["id"], alice.user_id)
        with pytest.raises(NotFound):  # one's own devices do not include another's
            devices.revoke(session, viewer, device["id"])
    with database.transaction() as session:
        devices.revoke(session, admin, device["id"], alice.user_id)
    with database.transaction() as session:
        assert devices.list_devices(session, alice) == []
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "device.revoke"))
        assert event is not None and event.entity_id == alice.user_id
