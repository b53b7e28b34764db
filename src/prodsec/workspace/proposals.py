"""Proposed Article 14 cases: a finding in a supported release that is known-exploited.

CRA Article 14 starts its clocks when the manufacturer *becomes aware* of an actively exploited
vulnerability: a feed saying so is a strong hint, not awareness. So prodsec proposes the case —
once per product and vulnerability, with the time it proposed it and the signal (CISA KEV or
ENISA EUVD, and its date) — and a person confirms it with the moment of awareness they state,
which opens the case (``article14.open_case``) and starts the clocks; or dismisses it with a
reason (``proposal_decisions``). The unique constraint on (product, vulnerability) makes a proposal happen exactly once,
even when two imports find it at the same moment on two workers: the second insert does
nothing (``ON CONFLICT DO NOTHING``), and a job that runs again proposes nothing new.

Proposals are looked for where the signals meet the findings: after a KEV or EUVD import (for
the CVEs it newly flags) and after a release's rescan (for its findings).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from prodsec.db.models import (
    AdvisoryAlias,
    AdvisoryRecord,
    CaseProposal,
    FindingRecord,
    Product,
    Release,
    new_id,
    utcnow,
)
from prodsec.workspace import audit, signals
from prodsec.workspace.context import Actor, NotFound, ValidationFailed

CHUNK = 500
#: The event a proposal emits for notifications (``prodsec.workspace.outbox``).
EVENT = "finding.exploited"
STATUSES = ("proposed", "confirmed", "dismissed")


def propose(session: Session, actor: Actor, *, release_ids: Iterable[str] | None = None,
            cves: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Propose a case for every known-exploited finding in a supported release, among these
    releases' findings or the findings of these CVEs; return the proposals made now (those
    proposed before are not proposed again)."""
    found: dict[tuple[str, str], set[str]] = {}
    for product_id, label, names in _candidates(session, actor, release_ids, cves):
        for cve in names:
            found.setdefault((product_id, cve), set()).add(label)
    hits = signals.exploited(session, actor, {cve for _, cve in found})
    made = []
    for (product_id, cve), labels in sorted(found.items()):
        if cve in hits:
            row = _insert(session, actor, product_id, cve, sorted(labels), hits[cve])
            if row is not None:
                made.append(row)
    return made


def _candidates(session: Session, actor: Actor, release_ids: Iterable[str] | None,
                cves: Iterable[str] | None) -> Iterable[tuple[str, str, set[str]]]:
    """(product id, release label, CVE names of the finding) of findings in supported releases."""
    today = dt.datetime.now(dt.UTC).date()
    base = (select(Release.product_id, Release.version_label, AdvisoryRecord.osv_id,
                   AdvisoryRecord.aliases)
            .select_from(FindingRecord)
            .join(Release, Release.id == FindingRecord.release_id)
            .join(AdvisoryRecord, AdvisoryRecord.id == FindingRecord.advisory_id)
            .where(FindingRecord.org_id == actor.org_id,
                   or_(Release.support_end.is_(None), Release.support_end >= today)))
    queries = []
    if release_ids is not None:
        ids = sorted(set(release_ids))
        queries += [base.where(FindingRecord.release_id.in_(ids[i:i + CHUNK]))
                    for i in range(0, len(ids), CHUNK)]
    if cves is not None:
        names = sorted(set(cves))
        queries += [base.join(AdvisoryAlias, AdvisoryAlias.advisory_id == AdvisoryRecord.id)
                    .where(AdvisoryAlias.org_id == actor.org_id,
                           AdvisoryAlias.alias.in_(names[i:i + CHUNK]))
                    for i in range(0, len(names), CHUNK)]
    for query in queries:
        for product_id, label, osv_id, aliases in session.execute(query):
            yield product_id, label, {n for n in (osv_id, *aliases) if n.startswith("CVE-")}


def _insert(session: Session, actor: Actor, product_id: str, cve: str, labels: list[str],
            signal: signals.Signal) -> dict[str, Any] | None:
    """Insert the proposal unless (product, vulnerability) has one: None then."""
    from sqlalchemy.dialects import postgresql, sqlite

    postgres = session.get_bind().dialect.name == "postgresql"
    insert: Any = postgresql.insert if postgres else sqlite.insert
    pk = new_id()
    values: dict[str, Any] = {"id": pk, "org_id": actor.org_id, "product_id": product_id,
              "vulnerability": cve, "releases": labels, "signal": signal.source,
              "signal_date": (signal.date or None) and str(signal.date)[:32],
              "proposed_at": utcnow(), "status": "proposed", "reason": ""}
    statement = insert(CaseProposal).values(**values).on_conflict_do_nothing(
        index_elements=["product_id", "vulnerability"]).returning(CaseProposal.id)
    if session.execute(statement).scalar() is None:
        return None
    audit.record(session, actor, "case.propose", "case-proposal", pk, None,
                 {k: values[k] for k in ("product_id", "vulnerability", "releases", "signal",
                                         "signal_date")})
    payload = event_payload(values)
    _emit(session, actor, payload)
    return payload


def event_payload(values: dict[str, Any]) -> dict[str, Any]:
    """The ``finding.exploited`` event: what a notification needs to say and link."""
    return {"proposal_id": values["id"], "product_id": values["product_id"],
            "vulnerability": values["vulnerability"], "releases": values["releases"],
            "signal": values["signal"], "signal_date": values["signal_date"],
            "proposed_at": values["proposed_at"].isoformat()}


def _emit(session: Session, actor: Actor, payload: dict[str, Any]) -> None:
    """Hand the event to the notifications outbox, in this transaction: a rolled-back import
    tells nobody, and one product × CVE is told once (the dedupe key)."""
    from prodsec.workspace import outbox

    outbox.emit(session, actor.org_id, EVENT, payload,
                dedupe_key=f"{EVENT}:{payload['product_id']}:{payload['vulnerability']}")


# ---- reading ----------------------------------------------------------------------------------


def get_proposal(session: Session, actor: Actor, proposal_id: str,
                 lock: bool = False) -> CaseProposal:
    query = select(CaseProposal).where(CaseProposal.org_id == actor.org_id,
                                       CaseProposal.id == proposal_id)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(f"no proposed case {proposal_id[:40]!r}; see prodsec case proposed")
    return found


def list_proposals(session: Session, actor: Actor, status: str | None = "proposed"
                   ) -> list[dict[str, Any]]:
    """The organisation's proposals (default: those waiting for a decision), newest first."""
    if status is not None and status not in STATUSES:
        raise ValidationFailed("status", f"{status[:40]!r}: expected one of {', '.join(STATUSES)}")
    query = (select(CaseProposal, Product.name).join(Product, Product.id == CaseProposal.product_id)
             .where(CaseProposal.org_id == actor.org_id)
             .order_by(CaseProposal.proposed_at.desc(), CaseProposal.id))
    if status is not None:
        query = query.where(CaseProposal.status == status)
    return [proposal_view(p, name) for p, name in session.execute(query)]


def describe(session: Session, proposal: CaseProposal) -> dict[str, Any]:
    """``proposal_view`` with its product's name looked up."""
    name = session.scalar(select(Product.name).where(Product.id == proposal.product_id))
    return proposal_view(proposal, name or "")


def proposal_view(p: CaseProposal, product_name: str) -> dict[str, Any]:
    """The stable JSON shape of a proposal."""
    return {"id": p.id, "product_id": p.product_id, "product": product_name,
            "vulnerability": p.vulnerability, "releases": list(p.releases),
            "signal": p.signal, "signal_date": p.signal_date,
            "proposed_at": p.proposed_at.isoformat(), "status": p.status,
            "decided_at": p.decided_at.isoformat() if p.decided_at else None,
            "decided_by": p.decided_by, "reason": p.reason, "case_id": p.case_id}
