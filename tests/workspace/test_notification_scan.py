"""The ``notifications.scan`` triggers: Article 14 stages due or overdue, support periods
ending, stale assessments after a knowledge change — each emitted once, however often the scan
runs; and the support-period rule enforced on releases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import Assessment, NotificationDelivery, NotificationEvent, utcnow
from prodsec.workspace import article14, notifications, products
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.notification_scan import scan_org
from prodsec.workspace.notification_tasks import scan
from prodsec.workspace.support import product_support
from tests.workspace.conftest import make_actor

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
KINDS = ["article14.stage_due", "article14.stage_overdue", "support.ending", "assessment.stale"]


@pytest.fixture
def admin(database: Database) -> Actor:
    return make_actor(database, "Acme", "admin")


def _product(db: Database, actor: Actor, kb: KnowledgeBase) -> str:
    with db.transaction() as s:
        return products.add_product(s, actor, kb, ROUTER).id


def _subscribe(db: Database, actor: Actor, **options: int) -> str:
    with db.transaction() as s:
        return str(notifications.add_subscription(s, actor, "email", "psirt@acme.example",
                                                  KINDS, **options)["id"])


def _events(db: Database) -> list[tuple[str, dict[str, object]]]:
    with db.transaction() as s:
        return [(e.kind, e.payload) for e in s.scalars(
            select(NotificationEvent).order_by(NotificationEvent.kind))]


def test_stage_due_and_overdue_are_emitted_once(database: Database, admin: Actor,
                                                kb: KnowledgeBase) -> None:
    pid = _product(database, admin, kb)
    _subscribe(database, admin, stage_due_hours=6)
    _subscribe(database, admin, stage_due_hours=48)
    now = utcnow()
    with database.transaction() as s:
        article14.open_case(s, admin, pid, "vulnerability", "due soon",
                            now - dt.timedelta(hours=20), vulnerability="CVE-2026-1111")
        article14.open_case(s, admin, pid, "vulnerability", "late",
                            now - dt.timedelta(hours=30), vulnerability="CVE-2026-2222")
    with database.transaction() as s:
        first = scan_org(s, kb, admin.org_id, now)
    with database.transaction() as s:
        assert scan_org(s, kb, admin.org_id, now) == 0  # idempotent
    events = _events(database)
    due = [p for k, p in events if k == "article14.stage_due"]
    overdue = [p for k, p in events if k == "article14.stage_overdue"]
    # "due soon": early warning in 4 h (both thresholds), notification in 52 h (neither);
    # "late": early warning 6 h overdue, notification in 42 h (the 48 h threshold only)
    assert sorted((p["title"], p["stage"], p["threshold"]) for p in due) == [
        ("due soon", "early-warning", 6), ("due soon", "early-warning", 48),
        ("late", "notification", 48)]
    assert [(p["title"], p["stage"]) for p in overdue] == [("late", "early-warning")]
    assert first == 4
    with database.transaction() as s:  # each threshold's event goes to its subscription only
        assert len(s.scalars(select(NotificationDelivery)).all()) == 3 * 1 + 2


def test_support_ending_within_the_threshold(database: Database, admin: Actor,
                                             kb: KnowledgeBase) -> None:
    pid = _product(database, admin, kb)
    today = utcnow().date()
    with database.transaction() as s:
        products.add_release(s, admin, pid, "1.0", today - dt.timedelta(days=6 * 365),
                             today + dt.timedelta(days=30))
        products.add_release(s, admin, pid, "2.0", today, today + dt.timedelta(days=6 * 365))
    _subscribe(database, admin, support_days=90)
    with database.transaction() as s:
        assert scan_org(s, kb, admin.org_id) >= 1
    ending = [p for k, p in _events(database) if k == "support.ending"]
    assert [(p["release"], p["days_left"]) for p in ending] == [("1.0", 30)]
    assert scan(database) == {"organisations": 1, "new_events": 0}  # the periodic job: no news


def test_an_assessment_older_than_a_knowledge_change_is_stale(database: Database, admin: Actor,
                                                              kb: KnowledgeBase) -> None:
    pid = _product(database, admin, kb)
    with database.transaction() as s:
        products.assess(s, admin, kb, pid, dt.date(2026, 11, 27))
    _subscribe(database, admin)
    with database.transaction() as s:
        assert scan_org(s, kb, admin.org_id) == 0  # assessed today: nothing newer
        s.execute(update(Assessment).values(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    with database.transaction() as s:
        assert scan_org(s, kb, admin.org_id) > 0
    stale = [p for k, p in _events(database) if k == "assessment.stale"]
    assert {p["regulation"] for p in stale} >= {"eu-cra"}
    assert all(p["assessed"] == "2020-01-01" for p in stale)
    with database.transaction() as s:
        assert scan_org(s, kb, admin.org_id) == 0


# ---- the support period rule on releases ---------------------------------------------------


def test_a_short_support_period_needs_the_expected_use_time(database: Database, admin: Actor,
                                                            kb: KnowledgeBase) -> None:
    pid = _product(database, admin, kb)
    market, end = dt.date(2027, 3, 1), dt.date(2030, 3, 1)
    with pytest.raises(ValidationFailed, match=r"support_end: 36 months, shorter than 5 years"), \
            database.transaction() as s:
        products.add_release(s, admin, pid, "1.0", market, end)
    with database.transaction() as s:
        products.add_release(s, admin, pid, "1.0", market, end,
                             "a ticketing app for a three-year event series",
                             expected_use_months=36)
    with database.transaction() as s:
        view = product_support(s, admin, pid)
    (release,) = view["releases"]
    assert release["check"]["status"] == "ok-short"
    assert release["check"]["requirement"] == "eu-cra:art-13:8"
    with pytest.raises(ValidationFailed, match="shorter than the expected use time"), \
            database.transaction() as s:
        row = products.get_release(s, admin, release["release_id"])
        products.update_release(s, admin, row, {"support_end": dt.date(2029, 3, 1)}, None)
