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
the CVEs it newly flags), after a release's rescan (for its findings), and when triage re-opens
a vulnerability (``reconsider``). A finding triaged as not in the product (not affected, false
positive, fixed) is not proposed (``_contained`` says why).
None is made for a product the CRA does not cover today (its eu-cra verdict
``not-applicable``, e.g. a motor vehicle's part, Art. 2(2)(c)): Article 14 asks nothing of it,
and confirming would be refused (``article14.require_reporting``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
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
    SbomComponent,
    VexStatement,
    new_id,
    utcnow,
)
from prodsec.workspace import audit, signals, vex_decisions
from prodsec.workspace.context import Actor, NotFound, ValidationFailed

CHUNK = 500
#: The event a proposal emits for notifications (``prodsec.workspace.outbox``).
EVENT = "finding.exploited"
STATUSES = ("proposed", "confirmed", "dismissed")


@dataclass(frozen=True)
class Candidate:
    """A finding in a supported release, with what is needed to read its triage."""

    product_id: str
    release_id: str
    label: str
    purl: str
    names: frozenset[str]  # the advisory's id and aliases

    @property
    def cves(self) -> set[str]:
        return {n for n in self.names if n.startswith("CVE-")}


def propose(session: Session, actor: Actor, *, release_ids: Iterable[str] | None = None,
            cves: Iterable[str] | None = None, product_id: str | None = None
            ) -> list[dict[str, Any]]:
    """Propose a case for every known-exploited finding in a supported release that triage has
    not ruled out (``_contained``), among these releases' findings or the findings of these
    vulnerability names (a CVE, or any alias), of one product when ``product_id`` is given;
    return the proposals made now (those proposed before are not proposed again)."""
    findings = list(_candidates(session, actor, release_ids, cves, product_id))
    hits = signals.exploited(session, actor, {c for f in findings for c in f.cves})
    found: dict[tuple[str, str], set[str]] = {}
    for finding in _contained(session, actor, [f for f in findings if f.cves & hits.keys()]):
        for cve in finding.cves & hits.keys():
            found.setdefault((finding.product_id, cve), set()).add(finding.label)
    outside = _outside_the_cra(session, actor, {pid for pid, _ in found})
    made = []
    for (product, cve), labels in sorted(found.items()):
        if product in outside:
            continue
        row = _insert(session, actor, product, cve, sorted(labels), hits[cve])
        if row is not None:
            made.append(row)
    return made


def reconsider(session: Session, actor: Actor, product_id: str,
               vulnerability: str) -> list[dict[str, Any]]:
    """Look again at one product's findings of a vulnerability whose triage was re-opened (its
    state set back to affected or under investigation): an exploited one is proposed now."""
    return propose(session, actor, cves=[vulnerability], product_id=product_id)


def _contained(session: Session, actor: Actor,
               findings: list[Candidate]) -> Iterable[Candidate]:
    """The findings whose triage does not say the release is free of the vulnerability.

    CRA Art. 14(1) asks for a notification when the manufacturer *becomes aware of an actively
    exploited vulnerability contained in the product*. A finding the manufacturer assessed as
    ``not_affected`` or ``false_positive``, or fixed (``resolved``), by its own decision or by a
    supplier's VEX statement where it decided nothing (``vex_decisions.effective``), is not
    contained in it: proposing a case would ask a person to notify what they have ruled out.
    The decision is read when proposals are looked for, so a finding re-opened later is
    proposed then (``reconsider``)."""
    statements: dict[str, list[VexStatement]] = {}
    for finding in findings:
        if finding.product_id not in statements:
            statements[finding.product_id] = vex_decisions.statements_for(
                session, actor, finding.product_id)
        decision = vex_decisions.effective(statements[finding.product_id], finding.release_id,
                                           set(finding.names), finding.purl)
        if decision is None or decision.state not in vex_decisions.NOT_IN_PRODUCT:
            yield finding


def _outside_the_cra(session: Session, actor: Actor, product_ids: set[str]) -> set[str]:
    """The products among these whose CRA verdict today is ``not-applicable``."""
    from prodsec.services.knowledge import knowledge_base
    from prodsec.workspace.products import get_product, verdicts_on

    kb, today = knowledge_base(), dt.datetime.now(dt.UTC).date()
    out = set()
    for pid in sorted(product_ids):
        verdict = verdicts_on(kb, get_product(session, actor, pid), today).get("eu-cra")
        if verdict is not None and verdict.status == "not-applicable":
            out.add(pid)
    return out


def _candidates(session: Session, actor: Actor, release_ids: Iterable[str] | None,
                cves: Iterable[str] | None, product_id: str | None) -> Iterable[Candidate]:
    """The findings in supported releases among these releases' or these names'."""
    today = dt.datetime.now(dt.UTC).date()
    base = (select(Release.product_id, FindingRecord.release_id, Release.version_label,
                   SbomComponent.purl, AdvisoryRecord.osv_id, AdvisoryRecord.aliases)
            .select_from(FindingRecord)
            .join(Release, Release.id == FindingRecord.release_id)
            .join(SbomComponent, SbomComponent.id == FindingRecord.component_id)
            .join(AdvisoryRecord, AdvisoryRecord.id == FindingRecord.advisory_id)
            .where(FindingRecord.org_id == actor.org_id,
                   or_(Release.support_end.is_(None), Release.support_end >= today)))
    if product_id is not None:
        base = base.where(Release.product_id == product_id)
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
        for product, release_id, label, purl, osv_id, aliases in session.execute(query):
            yield Candidate(product, release_id, label, purl or "", frozenset((osv_id, *aliases)))


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
