"""Gap analysis: what is met, what is missing, what expires, and which controls close the most.

Per product and instrument: requirements by status and category, % met, what is missing,
evidence expiring within N days. Across the portfolio: the controls that would close the most
open requirements across regimes ("comply once"), and the products that miss a date.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core.knowledge import CATEGORIES, KnowledgeBase
from prodsec.core.ordering import natural_key
from prodsec.db.models import Assessment, Evidence, EvidenceLink, RequirementStatus
from prodsec.workspace.compliance import list_controls, products_of
from prodsec.workspace.context import Actor
from prodsec.workspace.products import current_assessments, get_product

DONE = ("met", "not-applicable")
BINDING = ("required", "upcoming", "voluntary")


def _statuses(session: Session, assessment: Assessment) -> list[RequirementStatus]:
    rows = session.scalars(select(RequirementStatus).where(
        RequirementStatus.assessment_id == assessment.id))
    return sorted(rows, key=lambda s: natural_key(s.requirement_id))


def due(kb: KnowledgeBase, requirement_id: str, as_of: dt.date,
        fallback: dt.date | None = None, binding: bool = True) -> tuple[str | None, str]:
    """A requirement's own date of application and what, on ``as_of``, an open requirement is:

    * ``overdue``   — a mandatory duty that applies and is not met (a missed date);
    * ``upcoming``  — a mandatory or event-triggered duty that does not apply yet;
    * ``standing``  — an event-triggered duty in force (CRA Art. 14 from 2026-09-11): nothing is
      late until an exploited vulnerability or incident starts its clocks;
    * ``for-label`` — only a condition of a voluntary label (SG CLS Levels 2-4, the BSI label):
      not yet met, never missed.

    Each requirement carries the date of the obligation that names it (CRA Art. 14 from
    2026-09-11, Annex I from 2027-12-11), not the instrument's first date. ``binding`` is
    whether the assessment binds the product (required/upcoming): a voluntary scheme's
    mandatory part (CLS Level 1 for routers) binds only a product the mandate holds for.
    """
    terms = kb.requirement_terms.get(requirement_id, {})
    today = as_of.isoformat()
    for nature, reached in (("mandatory", "overdue"), ("on-event", "standing")):
        start = terms.get(nature)
        if binding and start is not None:
            return start, reached if start <= today else "upcoming"
    if terms:
        return min(terms.values()), "for-label"
    start = fallback.isoformat() if fallback else None
    if not binding:
        return start, "for-label"
    if start is None or start <= today:
        return start, "overdue"
    return start, "upcoming"


def instrument_gaps(kb: KnowledgeBase, assessment: Assessment,
                    statuses: list[RequirementStatus],
                    as_of: dt.date | None = None) -> dict[str, Any]:
    by_status = Counter(s.status for s in statuses)
    by_category = {c: Counter(s.status for s in statuses if s.category == c) for c in CATEGORIES}
    done = sum(by_status[s] for s in DONE)
    total = len(statuses)
    day = as_of or dt.date.today()
    binding = assessment.status in ("required", "upcoming")
    missing = []
    for s in statuses:
        if s.status in DONE:
            continue
        applies_from, when = due(kb, s.requirement_id, day, assessment.applies_from, binding)
        missing.append({"requirement": s.requirement_id, "category": s.category,
                        "status": s.status, "applies_from": applies_from, "due": when,
                        "title": kb.requirements.get(s.requirement_id, {}).get("title", "")})
    overdue = [m for m in missing if m["due"] == "overdue"]
    upcoming = [m for m in missing if m["due"] == "upcoming"]
    return {
        "regulation": assessment.regulation_id, "status": assessment.status,
        "category": assessment.category, "applies_from": (
            assessment.applies_from.isoformat() if assessment.applies_from else None),
        "stale": assessment.stale or assessment.kb_version != kb.version,
        "total": total, "done": done,
        "percent_met": round(100 * done / total, 1) if total else 100.0,
        "by_status": dict(by_status), "by_category": {c: dict(v) for c, v in by_category.items()},
        "missing": missing,
        "overdue": len(overdue), "upcoming": len(upcoming),
        "standing": sum(1 for m in missing if m["due"] == "standing"),
        "for_label": sum(1 for m in missing if m["due"] == "for-label"),
        "overdue_since": min((m["applies_from"] for m in overdue if m["applies_from"]), default=None),
        "next_date": min((m["applies_from"] for m in upcoming if m["applies_from"]), default=None),
    }


def product_gaps(session: Session, actor: Actor, kb: KnowledgeBase, product_ref: str,
                 as_of: dt.date, expiring_days: int = 30) -> dict[str, Any]:
    product = get_product(session, actor, product_ref)
    instruments = []
    status_ids: list[str] = []
    now: dict[str, str] | None = None
    for a in current_assessments(session, actor, product.id):
        if a.status not in BINDING:
            continue
        statuses = _statuses(session, a)
        status_ids += [s.id for s in statuses]
        gaps = instrument_gaps(kb, a, statuses, as_of)
        if gaps["stale"]:
            if now is None:
                now = _verdicts_now(kb, product.profile, product.name, as_of)
            gaps |= _what_changed(kb, a, product.profile, now)
        instruments.append(gaps)
    return {"product": product.name, "product_id": product.id, "as_of": as_of.isoformat(),
            "law_as_of": kb.law_as_of, "instruments": instruments,
            "expiring_evidence": expiring(session, actor, status_ids, as_of, expiring_days)}


def _verdicts_now(kb: KnowledgeBase, profile: dict[str, Any], name: str,
                  as_of: dt.date) -> dict[str, str]:
    """Each instrument's status today, for a stale assessment's "was / is"."""
    from prodsec.core.applicability import Engine
    from prodsec.core.profile import parse_profile
    from prodsec.errors import InputError

    try:
        check = Engine(kb).check(parse_profile(profile, kb.vocabulary, name), as_of)
    except InputError:  # e.g. a profile naming a retired function: the change says why
        return {}
    return {v.regulation: v.status for v in check.results}


def _what_changed(kb: KnowledgeBase, assessment: Assessment, profile: dict[str, Any],
                  now: dict[str, str]) -> dict[str, Any]:
    """The knowledge changes since a stale assessment that touch it, and its verdict then/now."""
    from prodsec.services.knowledge import changes_touching

    since = assessment.created_at.date().isoformat()
    functions = set(profile.get("functions") or ())
    touching = changes_touching(kb, {assessment.regulation_id}, functions, since, inclusive=True)
    return {"changes": [{"id": c["id"], "date": c["date"], "act": c["act"],
                         "summary": c["summary"]} for c in touching],
            "status_was": assessment.status, "status_now": now.get(assessment.regulation_id)}


def expiring(session: Session, actor: Actor, status_ids: list[str], as_of: dt.date,
             days: int) -> list[dict[str, Any]]:
    if not status_ids:
        return []
    horizon = as_of + dt.timedelta(days=days)
    rows = session.execute(
        select(Evidence, EvidenceLink.status_id).join(EvidenceLink, EvidenceLink.evidence_id == Evidence.id)
        .where(Evidence.org_id == actor.org_id, EvidenceLink.status_id.in_(status_ids),
               Evidence.expires_on.is_not(None), Evidence.expires_on <= horizon)).all()
    out = []
    for e, sid in rows:
        expires = e.expires_on or as_of  # the query only returns rows with a date
        out.append({"evidence": e.id, "title": e.title, "expires_on": expires.isoformat(),
                    "expired": expires < as_of, "status_id": sid})
    return out


def portfolio_gaps(session: Session, actor: Actor, kb: KnowledgeBase, as_of: dt.date,
                   expiring_days: int = 30) -> dict[str, Any]:
    """Across all products: per-product summary, best controls, missed dates."""
    products = []
    open_reqs: dict[str, set[str]] = defaultdict(set)  # requirement → products with it open
    missed = []
    upcoming = []
    for product in products_of(session, actor):
        summary = product_gaps(session, actor, kb, product.id, as_of, expiring_days)
        products.append({"product": product.name, "instruments": [
            {k: i[k] for k in ("regulation", "status", "percent_met", "total", "done", "stale")}
            for i in summary["instruments"]], "expiring_evidence": len(summary["expiring_evidence"])})
        for inst in summary["instruments"]:
            for m in inst["missing"]:
                open_reqs[m["requirement"]].add(product.name)
            # a date is missed only by requirements that apply by as_of; the others are upcoming
            if inst["status"] == "required" and inst["overdue"]:
                missed.append({"product": product.name, "regulation": inst["regulation"],
                               "applies_from": inst["overdue_since"], "open": inst["overdue"]})
            if inst["status"] in ("required", "upcoming") and inst["upcoming"]:
                upcoming.append({"product": product.name, "regulation": inst["regulation"],
                                 "applies_from": inst["next_date"], "open": inst["upcoming"]})
    upcoming.sort(key=lambda u: (u["applies_from"] or "", u["product"], u["regulation"]))
    return {"as_of": as_of.isoformat(), "products": products,
            "controls": _control_value(session, actor, kb, open_reqs), "missed_dates": missed,
            "upcoming_dates": upcoming, "law_as_of": kb.law_as_of}


def _control_value(session: Session, actor: Actor, kb: KnowledgeBase,
                   open_reqs: dict[str, set[str]]) -> list[dict[str, Any]]:
    """Controls ranked by the open requirements they would close, across regimes."""
    out: list[dict[str, Any]] = []
    for control in list_controls(session, actor):
        closes = [r for r in control.requirements if r in open_reqs]
        regimes = sorted({kb.document_id(r) for r in closes})
        out.append({"control": control.name, "closes": len(closes),
                    "product_requirements": sum(len(open_reqs[r]) for r in closes),
                    "regimes": regimes, "requirements": closes})
    out.sort(key=lambda c: (-c["product_requirements"], -c["closes"], c["control"]))
    return out
