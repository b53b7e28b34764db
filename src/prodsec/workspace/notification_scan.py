"""The triggers: what ``notifications.scan`` finds and emits, idempotently.

Run every few minutes over every organisation that has an active subscription. Each finding is
emitted with a dedupe key that names it exactly (the case, stage and due time; the release and
its support end; the assessment and the knowledge change), so running the scan again — or twice
at once after a crash — emits nothing new. A threshold that differs between subscriptions
(due within 6 h for one, 48 h for another) is a separate event per threshold, delivered only to
the subscriptions with that threshold.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.models import (
    Article14Case,
    Assessment,
    NotificationSubscription,
    Product,
    Release,
    utcnow,
)
from prodsec.workspace import article14
from prodsec.workspace.outbox import emit


def subscribed_orgs(session: Session) -> list[str]:
    return list(session.scalars(select(NotificationSubscription.org_id).where(
        NotificationSubscription.active.is_(True)).distinct()))


def _thresholds(session: Session, org_id: str, kind: str, column: Any) -> set[int]:
    rows = session.execute(select(NotificationSubscription.kinds, column).where(
        NotificationSubscription.org_id == org_id, NotificationSubscription.active.is_(True)))
    return {int(value) for kinds, value in rows if kind in kinds}


def scan_org(session: Session, kb: KnowledgeBase, org_id: str,
             now: dt.datetime | None = None) -> int:
    """Emit the organisation's due events; how many were new."""
    now = now or utcnow()
    return (_stages(session, kb, org_id, now) + _support(session, org_id, now.date())
            + _stale(session, kb, org_id))


def _stages(session: Session, kb: KnowledgeBase, org_id: str, now: dt.datetime) -> int:
    hours = _thresholds(session, org_id, "article14.stage_due",
                        NotificationSubscription.stage_due_hours)
    new = 0
    for case in session.scalars(select(Article14Case).where(
            Article14Case.org_id == org_id, Article14Case.closed_at.is_(None))):
        product = session.get(Product, case.product_id)
        for stage in article14.clocks(kb, case, article14.submissions_of(session, case), now):
            about = {"case_id": case.id, "title": case.title, "stage": stage["stage"],
                     "due": stage["due"], "product": product.name if product else None,
                     "requirement": stage["requirement"]}
            if stage["status"] == "overdue":
                new += _emitted(emit(session, org_id, "article14.stage_overdue", about | {
                    "late_hours": stage["late_hours"],
                    "summary": f"{case.title}: {stage['stage']} overdue since {stage['due']}"},
                    f"stage-overdue:{case.id}:{stage['stage']}:{stage['due']}"))
            elif stage["status"] == "due":
                for limit in sorted(h for h in hours if stage["remaining_hours"] <= h):
                    new += _emitted(emit(session, org_id, "article14.stage_due", about | {
                        "remaining_hours": stage["remaining_hours"], "threshold": limit,
                        "summary": f"{case.title}: {stage['stage']} due {stage['due']}"},
                        f"stage-due:{case.id}:{stage['stage']}:{stage['due']}:{limit}h"))
    return new


def _support(session: Session, org_id: str, today: dt.date) -> int:
    days = _thresholds(session, org_id, "support.ending", NotificationSubscription.support_days)
    if not days:
        return 0
    new = 0
    rows = session.execute(select(Release, Product.name).join(
        Product, Product.id == Release.product_id).where(
        Release.org_id == org_id, Release.support_end.is_not(None),
        Release.support_end >= today,
        Release.support_end <= today + dt.timedelta(days=max(days))))
    for release, name in rows:
        end = release.support_end
        assert end is not None  # the query only returns rows with a date
        for limit in sorted(d for d in days if (end - today).days <= d):
            new += _emitted(emit(session, org_id, "support.ending", {
                "product": name, "release": release.version_label, "release_id": release.id,
                "support_end": end.isoformat(), "days_left": (end - today).days,
                "threshold": limit, "requirement": "eu-cra:art-13:8",
                "summary": f"{name} {release.version_label}: support ends {end.isoformat()}"},
                f"support-ending:{release.id}:{end.isoformat()}:{limit}d"))
    return new


def _stale(session: Session, kb: KnowledgeBase, org_id: str) -> int:
    """An assessment older than a knowledge change that touches its product and instrument."""
    from prodsec.services.knowledge import changes_touching

    new = 0
    rows = session.execute(select(Assessment, Product).join(
        Product, Product.id == Assessment.product_id).where(
        Assessment.org_id == org_id, Assessment.superseded.is_(False)))
    for assessment, product in rows:
        functions = set(product.profile.get("functions") or ())  # type: ignore[call-overload]
        since = assessment.created_at.date().isoformat()
        for change in changes_touching(kb, {assessment.regulation_id}, functions, since):
            new += _emitted(emit(session, org_id, "assessment.stale", {
                "product": product.name, "assessment_id": assessment.id,
                "regulation": assessment.regulation_id, "assessed": since,
                "change": change["id"], "act": change["act"],
                "summary": f"{product.name}: {assessment.regulation_id} assessment of {since} "
                           f"predates knowledge change {change['id']}"},
                f"stale:{assessment.id}:{change['id']}"))
    return new


def _emitted(event_id: str | None) -> int:
    return 1 if event_id else 0
