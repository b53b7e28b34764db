"""Notifications: the outbox (exactly once, nothing after a rollback), subscriptions with SSRF
checks, webhook and e-mail delivery against local receivers, retries and the delivery log."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import NotificationDelivery, NotificationEvent
from prodsec.workspace import notification_delivery as delivery
from prodsec.workspace import notifications, products
from prodsec.workspace.context import Actor, PermissionDenied, ValidationFailed
from prodsec.workspace.outbox import emit
from tests.workspace.conftest import make_actor
from tests.workspace.notify_servers import Receiver, smtp_server, webhook_receiver

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
SECRET = "s3cret-for-tests-0123456789"


def _later() -> dt.datetime:
    """A minute from now: every delivery emitted so far is due by then."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


@pytest.fixture
def admin(database: Database) -> Actor:
    return make_actor(database, "Acme", "admin")


@pytest.fixture
def private_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODSEC_WEBHOOK_ALLOW_PRIVATE", "1")


def _subscribe(db: Database, actor: Actor, channel: str, target: str,
               kinds: tuple[str, ...] = ("finding.exploited",), **options: int) -> str:
    with db.transaction() as s:
        return str(notifications.add_subscription(
            s, actor, channel, target, list(kinds),
            secret=SECRET if channel == "webhook" else None, **options)["id"])


def _emit(db: Database, actor: Actor, key: str, kind: str = "finding.exploited") -> str | None:
    with db.transaction() as s:
        return emit(s, actor.org_id, kind, {"summary": f"finding {key}", "vulnerability": key},
                    key)


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# ---- the outbox -------------------------------------------------------------------------------


def test_the_same_dedupe_key_is_emitted_once(database: Database, admin: Actor,
                                             private_ok: None) -> None:
    _subscribe(database, admin, "webhook", "http://127.0.0.1:9/x")
    assert _emit(database, admin, "CVE-2026-0001") is not None
    assert _emit(database, admin, "CVE-2026-0001") is None
    assert _count(database, NotificationEvent) == 1
    assert _count(database, NotificationDelivery) == 1  # one per subscription, once


def test_a_rolled_back_change_emits_nothing(database: Database, admin: Actor,
                                           private_ok: None) -> None:
    _subscribe(database, admin, "webhook", "http://127.0.0.1:9/x")
    with pytest.raises(RuntimeError), database.transaction() as s:
        emit(s, admin.org_id, "finding.exploited", {"summary": "x"}, "CVE-2026-0002")
        raise RuntimeError("the change fails after emitting")
    assert _count(database, NotificationEvent) == 0
    assert _count(database, NotificationDelivery) == 0
    assert _emit(database, admin, "CVE-2026-0002") is not None  # the key is still free


def test_concurrent_emits_of_one_key_write_one_event(database: Database, admin: Actor) -> None:
    """Two transactions emit the same key at once: the second waits for the first and skips
    (PostgreSQL's unique index; SQLite serialises writers anyway)."""
    if database.is_sqlite:
        pytest.skip("concurrent writers: PostgreSQL")
    results: list[str | None] = []
    first = database.sessions()
    results.append(emit(first, admin.org_id, "finding.exploited", {}, "CVE-2026-0003"))
    second = threading.Thread(target=lambda: results.append(
        _emit(database, admin, "CVE-2026-0003")))
    second.start()
    time.sleep(0.3)
    assert len(results) == 1  # blocked on the uncommitted first row
    first.commit()
    first.close()
    second.join(10)
    assert results[0] is not None and results[1] is None
    assert _count(database, NotificationEvent) == 1


def test_unknown_kind_is_refused(database: Database, admin: Actor) -> None:
    with pytest.raises(ValidationFailed, match=r"kind: 'finding\.new'"), \
            database.transaction() as s:
        emit(s, admin.org_id, "finding.new", {}, "k")


# ---- subscriptions ------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "error"), [
    ("http://hooks.example.com/x", "expected https"),
    ("https://user:pw@hooks.example.com/x", "must not carry credentials"),
    ("https://127.0.0.1/x", "loopback, private"),
    ("https://10.1.2.3/x", "loopback, private"),
    ("https://169.254.169.254/latest/meta-data", "loopback, private"),
    ("https://[::1]/x", "loopback, private"),
    ("https:///x", "has no host"),
])
def test_webhook_urls_are_checked_against_ssrf(database: Database, admin: Actor, url: str,
                                               error: str) -> None:
    with pytest.raises(ValidationFailed, match=error), database.transaction() as s:
        notifications.add_subscription(s, admin, "webhook", url, ["finding.exploited"])


def test_private_addresses_need_the_operator_switch(database: Database, admin: Actor,
                                                    private_ok: None) -> None:
    sub = _subscribe(database, admin, "webhook", "http://127.0.0.1:8080/x")
    with database.transaction() as s:
        listed = notifications.list_subscriptions(s, admin)
    assert [x["id"] for x in listed] == [sub]
    assert "secret" not in listed[0]


def test_only_admins_manage_subscriptions(database: Database, editor: Actor) -> None:
    with pytest.raises(PermissionDenied), database.transaction() as s:
        notifications.add_subscription(s, editor, "email", "sec@example.com",
                                       ["support.ending"])


def test_email_and_kinds_are_validated(database: Database, admin: Actor) -> None:
    with pytest.raises(ValidationFailed, match="address"), database.transaction() as s:
        notifications.add_subscription(s, admin, "email", "not-an-address", ["support.ending"])
    with pytest.raises(ValidationFailed, match="kinds: everything"), \
            database.transaction() as s:
        notifications.add_subscription(s, admin, "email", "a@example.com", ["everything"])


# ---- delivery ---------------------------------------------------------------------------------


def test_webhook_is_signed_retried_after_a_500_and_logged(database: Database, admin: Actor,
                                                          private_ok: None) -> None:
    with webhook_receiver(Receiver(SECRET, statuses=[500])) as hook:
        sub = _subscribe(database, admin, "webhook", hook.url)
        event_id = _emit(database, admin, "CVE-2026-1000")
        assert delivery.deliver_due(database, _later()) == {"delivered": 0, "retrying": 1,
                                                      "failed": 0}
        assert delivery.deliver_due(database, _later()) == {"delivered": 0, "retrying": 0,
                                                      "failed": 0}  # not due yet: backoff
        later = _later() + delivery.backoff(1)
        assert delivery.deliver_due(database, later)["delivered"] == 1
    assert [r["signed"] for r in hook.received] == [True, True]
    assert {r["event_id"] for r in hook.received} == {event_id}
    assert hook.received[0]["body"]["payload"]["vulnerability"] == "CVE-2026-1000"
    with database.transaction() as s:
        log = notifications.delivery_log(s, admin, sub)
    assert sorted((x["attempt"], x["ok"], x["status"]) for x in log) == [
        (1, False, "HTTP 500"), (2, True, "HTTP 200")]


def test_a_hanging_endpoint_does_not_block_another(database: Database, admin: Actor,
                                                   private_ok: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "TIMEOUT_S", 1.0)
    with webhook_receiver(Receiver(SECRET, delay=3.0)) as slow, \
            webhook_receiver(Receiver(SECRET)) as fast:
        slow_sub = _subscribe(database, admin, "webhook", slow.url)
        _subscribe(database, admin, "webhook", fast.url)
        _emit(database, admin, "CVE-2026-2000")
        started = time.monotonic()
        counts = delivery.deliver_due(database, _later())
        elapsed = time.monotonic() - started
    assert counts == {"delivered": 1, "retrying": 1, "failed": 0}
    assert fast.received[0]["at"] - started < 0.9  # sent while the slow one hung
    assert elapsed < 2.9  # the slow one was cut off at the timeout, not waited for
    with database.transaction() as s:
        (attempt,) = notifications.delivery_log(s, admin, slow_sub)
    assert not attempt["ok"] and "timed out" in attempt["error"]


def test_a_delivery_fails_after_the_last_attempt(database: Database, admin: Actor,
                                                 private_ok: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "MAX_ATTEMPTS", 2)
    with webhook_receiver(Receiver(SECRET, statuses=[503, 503, 503])) as hook:
        _subscribe(database, admin, "webhook", hook.url)
        _emit(database, admin, "CVE-2026-3000")
        delivery.deliver_due(database, _later())
        assert delivery.deliver_due(database, _later() + delivery.backoff(1))["failed"] == 1
        assert delivery.deliver_due(database, _later() + dt.timedelta(days=1))["failed"] == 0
    assert len(hook.received) == 2
    with database.transaction() as s:
        row = s.scalars(select(NotificationDelivery)).one()
    assert (row.status, row.attempts) == ("failed", 2)


def test_email_is_received_by_a_local_smtp_server(database: Database, admin: Actor,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server() as (port, messages):
        monkeypatch.setenv("PRODSEC_SMTP_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("PRODSEC_SMTP_FROM", "prodsec@acme.example")
        _subscribe(database, admin, "email", "psirt@acme.example")
        event_id = _emit(database, admin, "CVE-2026-4000")
        assert delivery.deliver_due(database, _later())["delivered"] == 1
    (envelope,) = messages
    assert envelope.rcpt_tos == ["psirt@acme.example"]
    text = envelope.content.decode()
    assert "Subject: [prodsec] finding.exploited: finding CVE-2026-4000" in text
    assert f"X-Prodsec-Event-Id: {event_id}" in text


def test_missing_smtp_settings_are_logged_and_retried(database: Database, admin: Actor,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODSEC_SMTP_URL", raising=False)
    sub = _subscribe(database, admin, "email", "psirt@acme.example")
    _emit(database, admin, "CVE-2026-4001")
    assert delivery.deliver_due(database, _later())["retrying"] == 1
    with database.transaction() as s:
        (attempt,) = notifications.delivery_log(s, admin, sub)
    assert "PRODSEC_SMTP_URL" in attempt["error"]


def test_removing_a_subscription_drops_its_deliveries(database: Database, admin: Actor,
                                                      kb: KnowledgeBase) -> None:
    sub = _subscribe(database, admin, "email", "psirt@acme.example")
    _emit(database, admin, "CVE-2026-5000")
    with database.transaction() as s:
        notifications.remove_subscription(s, admin, sub)
    assert _count(database, NotificationDelivery) == 0
    with database.transaction() as s:  # a product change is unaffected by any of this
        products.add_product(s, admin, kb, ROUTER)


def test_a_worker_delivers_as_a_job(database: Database, admin: Actor, private_ok: None) -> None:
    """The same delivery through procrastinate: the task is registered and runs on a worker."""
    if database.is_sqlite:
        pytest.skip("a worker needs PostgreSQL")
    from prodsec import jobs

    with webhook_receiver(Receiver(SECRET)) as hook:
        _subscribe(database, admin, "webhook", hook.url)
        event_id = _emit(database, admin, "CVE-2026-6000")
        with database.transaction() as s:
            assert jobs.enqueue(s, "notifications.deliver") is not None
        jobs.run_worker(database, wait=False)
    assert [(r["event_id"], r["signed"]) for r in hook.received] == [(event_id, True)]


def test_a_line_break_in_a_title_does_not_stop_the_mail() -> None:
    """A product name or case title may hold a line break (it is typed by editors); the
    subject stays one valid header line and the mail goes out (pentest h11pen2 F2)."""
    from email.message import EmailMessage

    subject, _body = delivery.message_text({
        "kind": "article14.stage_overdue", "id": "e1", "created_at": "2026-12-03T00:00:00Z",
        "payload": {"summary": "Router\r\nBcc: x@evil.example: early-warning overdue"}})
    assert "\n" not in subject and "\r" not in subject
    assert subject == "[prodsec] article14.stage_overdue: Router Bcc: x@evil.example: " \
                      "early-warning overdue"
    message = EmailMessage()
    message["Subject"] = subject  # raises ValueError for a header with a line break
    assert message["Subject"] == subject


@pytest.mark.parametrize(("address", "public"), [
    ("64:ff9b::a9fe:a9fe", False), ("64:ff9b::7f00:1", False), ("::127.0.0.1", False),
    ("fec0::1", False), ("2002:7f00:1::", False), ("::ffff:10.0.0.1", False),
    ("64:ff9b::101:101", True), ("2606:4700:4700::1111", True), ("1.1.1.1", True),
])
def test_ipv6_that_carries_a_private_ipv4_is_refused(address: str, public: bool) -> None:
    """NAT64, IPv4-compatible, 6to4 and site-local addresses reach the IPv4 inside on some
    networks; Python calls several of them global (pentest h11pen2 F3)."""
    import ipaddress

    assert notifications.is_public(ipaddress.ip_address(address)) is public
