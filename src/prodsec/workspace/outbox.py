"""The notification outbox: ``emit`` records that something happened, in the caller's
transaction.

Why an outbox and not a send: an event must exist exactly when the change that caused it
commits — a rolled-back change tells no one, a committed one cannot lose its notification — and
sending over the network inside a transaction would make the change wait for (and depend on)
somebody's web server. So ``emit`` only writes rows: the event, and one pending delivery per
subscription that wants it; a periodic job (``notifications.deliver``) sends them later.

Exactly once: ``(org_id, dedupe_key)`` is unique in the database, and the insert skips a
duplicate (``ON CONFLICT DO NOTHING`` on both backends), so a scan that finds the same overdue
stage every five minutes, or a job that runs twice after a crash, emits one event.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import (
    NotificationDelivery,
    NotificationEvent,
    NotificationSubscription,
    new_id,
    utcnow,
)
from prodsec.workspace.context import ValidationFailed

#: The event kinds subscriptions choose from.
KINDS = ("finding.exploited", "article14.stage_due", "article14.stage_overdue",
         "support.ending", "assessment.stale")
#: Bound on an event's JSON payload (it is sent to every subscriber).
MAX_PAYLOAD = 16_000


def emit(session: Session, org_id: str, kind: str, payload: dict[str, Any],
         dedupe_key: str) -> str | None:
    """Record an event in the session's transaction; its id, or None when ``dedupe_key`` was
    emitted before (nothing is written then).

    ``payload`` must be JSON; a ``threshold`` key (hours or days) limits the deliveries to the
    subscriptions whose own threshold for that kind is the same (see ``scan``).
    """
    if kind not in KINDS:
        raise ValidationFailed("kind", f"{kind!r}: expected one of {', '.join(KINDS)}")
    if not dedupe_key or len(dedupe_key) > 300:
        raise ValidationFailed("dedupe_key", "expected 1 to 300 characters")
    if len(json.dumps(payload, default=str)) > MAX_PAYLOAD:
        raise ValidationFailed("payload", f"larger than {MAX_PAYLOAD} characters of JSON")
    event_id = new_id()
    table = NotificationEvent.__table__
    values = {"id": event_id, "org_id": org_id, "kind": kind, "payload": payload,
              "dedupe_key": dedupe_key, "created_at": utcnow()}
    inserted = session.scalar(_insert(session, table).values(**values).on_conflict_do_nothing(
        index_elements=["org_id", "dedupe_key"]).returning(table.c.id))
    if inserted is None:
        return None
    for subscription in _subscribers(session, org_id, kind, payload.get("threshold")):
        session.add(NotificationDelivery(org_id=org_id, event_id=event_id,
                                         subscription_id=subscription.id, status="pending",
                                         attempts=0, next_attempt_at=utcnow(), last_error=""))
    session.flush()
    return event_id


def _insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT`` (PostgreSQL and SQLite both do)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _subscribers(session: Session, org_id: str, kind: str,
                 threshold: Any) -> list[NotificationSubscription]:
    found = session.scalars(select(NotificationSubscription).where(
        NotificationSubscription.org_id == org_id, NotificationSubscription.active.is_(True)))
    return [s for s in found if kind in s.kinds and _threshold_matches(s, kind, threshold)]


def _threshold_matches(subscription: NotificationSubscription, kind: str, threshold: Any) -> bool:
    if threshold is None:
        return True
    if kind == "article14.stage_due":
        return bool(subscription.stage_due_hours == threshold)
    if kind == "support.ending":
        return bool(subscription.support_days == threshold)
    return True
