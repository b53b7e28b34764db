"""A person's decision on a proposed Article 14 case (``proposals``): confirm it with the
moment of awareness they state — the case opens (``article14.open_case``) and its clocks start
there, while the proposal keeps its own time and signal — or dismiss it with a reason.

Apart from ``proposals`` because opening a case needs ``article14``, which needs the findings
(``vulnerabilities``), which propose: one module would close that circle.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from prodsec.core import limits
from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.models import CaseProposal, utcnow
from prodsec.workspace import article14, audit
from prodsec.workspace.context import Actor, Conflict, bounded
from prodsec.workspace.proposals import get_proposal


def _open(session: Session, actor: Actor, proposal_id: str) -> CaseProposal:
    actor.require("editor")
    proposal = get_proposal(session, actor, proposal_id, lock=True)
    if proposal.status != "proposed":
        raise Conflict(f"proposal {proposal_id} was {proposal.status} by {proposal.decided_by} "
                       f"at {proposal.decided_at:%Y-%m-%d %H:%M} UTC", precondition=False)
    return proposal


def confirm(session: Session, actor: Actor, proposal_id: str, aware_at: dt.datetime, *,
            title: str | None = None, member_state_code: str | None = None,
            kb: KnowledgeBase | None = None) -> CaseProposal:
    """Open the Article 14 case: its clocks start at ``aware_at``, the moment of awareness the
    person states (the proposal's own time stays on the proposal and in the case's text).
    Refused, and the proposal left waiting, where Article 14 does not bind the product
    (``article14.require_reporting``): dismiss it then."""
    proposal = _open(session, actor, proposal_id)
    text = (f"Proposed by prodsec at {proposal.proposed_at:%Y-%m-%d %H:%M} UTC from "
            f"{proposal.signal.upper()} (listed {proposal.signal_date or 'undated'}) for "
            f"release(s) {', '.join(proposal.releases)}; confirmed by {actor.email}.")
    case = article14.open_case(
        session, actor, proposal.product_id, "vulnerability",
        title or f"{proposal.vulnerability}: actively exploited ({proposal.signal.upper()})",
        aware_at, vulnerability=proposal.vulnerability, member_state_code=member_state_code,
        description=text, kb=kb)
    _decide(session, actor, proposal, "confirmed", "", case.id)
    return proposal


def dismiss(session: Session, actor: Actor, proposal_id: str, reason: str) -> CaseProposal:
    """Close the proposal without a case; the reason is kept (and audited)."""
    bounded("reason", reason.strip(), limits.TEXT, required=True)
    proposal = _open(session, actor, proposal_id)
    _decide(session, actor, proposal, "dismissed", reason.strip(), None)
    return proposal


def _decide(session: Session, actor: Actor, proposal: CaseProposal, status: str, reason: str,
            case_id: str | None) -> None:
    before = {"status": proposal.status}
    proposal.status, proposal.reason, proposal.case_id = status, reason, case_id
    proposal.decided_at, proposal.decided_by = utcnow(), actor.email
    session.flush()
    action = {"confirmed": "confirm", "dismissed": "dismiss"}[status]
    audit.record(session, actor, f"case.proposal.{action}", "case-proposal", proposal.id, before,
                 {"status": status, "reason": reason, "case_id": case_id})
