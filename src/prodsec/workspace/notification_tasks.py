"""The periodic jobs of notifications: find what to tell (``notifications.scan``) and tell it
(``notifications.deliver``). System jobs: they run over every organisation with a subscription.

On SQLite there is no worker to run periodic jobs: ``prodsec jobs run-periodic`` (from cron)
runs them once with every other periodic task; ``prodsec notifications run`` runs just these.
"""

from __future__ import annotations

from typing import Any

from prodsec import jobs
from prodsec.db.engine import Database


@jobs.task("notifications.scan", max_attempts=1, periodic="*/5 * * * *")
def scan(db: Database, timestamp: int | None = None) -> dict[str, int]:
    """Emit due events for every subscribed organisation, one transaction per organisation (a
    failure in one leaves the others' events in place)."""
    from prodsec.services.knowledge import knowledge_base
    from prodsec.workspace.notification_scan import scan_org, subscribed_orgs

    kb = knowledge_base()
    with db.transaction() as session:
        orgs = subscribed_orgs(session)
    new = 0
    for org_id in orgs:
        with db.transaction() as session:
            new += scan_org(session, kb, org_id)
    return {"organisations": len(orgs), "new_events": new}


@jobs.task("notifications.deliver", max_attempts=1, periodic="* * * * * */15")
def deliver(db: Database, timestamp: int | None = None) -> dict[str, Any]:
    """Send the due deliveries (each retried on its own schedule, not by the job's retry)."""
    from prodsec.workspace.notification_delivery import deliver_due

    return deliver_due(db)
