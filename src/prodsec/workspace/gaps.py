"""Gap analysis: what is met, what is missing, what expires, and which controls close the most.

Per product and instrument: requirements by status and category, % met, what is missing,
evidence expiring within N days. Across the portfolio: the controls that would close the most
open requirements across regimes ("comply once"), and the products that miss a date. A date
is missed only for a release already placed on the market (``due``): one definition for the
product page, the portfolio, ``prodsec gaps`` and the API.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from prodsec.core.knowledge import CATEGORIES, KnowledgeBase
from prodsec.core.limits import EXPIRING_DAYS
from prodsec.core.ordering import natural_key
from prodsec.db.models import Assessment, Evidence, EvidenceLink, Product, RequirementStatus
from prodsec.errors import InputError
from prodsec.workspace.compliance import list_controls, products_of
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.products import current_assessments, get_product, verdicts_on

DONE = ("met", "not-applicable")
BINDING = ("required", "upcoming", "voluntary")
PORTFOLIO_PAGE = 50  # products per portfolio page
T = TypeVar("T")


def _statuses(session: Session, assessment: Assessment) -> list[RequirementStatus]:
    rows = session.scalars(select(RequirementStatus).where(
        RequirementStatus.assessment_id == assessment.id))
    return sorted(rows, key=lambda s: natural_key(s.requirement_id))


class Placing(NamedTuple):
    """A release and the day its first units are placed on the market (ISO date, or None when
    not recorded): the dates every "overdue" is measured against."""

    release: str
    placed: str | None


def placings_of(product: Product) -> tuple[Placing, ...]:
    """The product's releases with their placing dates, in release order."""
    return tuple(Placing(r.version_label, r.placed_on_market.isoformat()
                         if r.placed_on_market else None) for r in product.releases)


def due(kb: KnowledgeBase, requirement_id: str, as_of: dt.date,
        fallback: dt.date | None = None, binding: bool = True,
        placings: tuple[Placing, ...] = ()) -> dict[str, Any]:
    """What, on ``as_of``, an open requirement is — the one definition of "overdue" every face
    shows (product page, portfolio, ``prodsec gaps``, the API):

    * ``overdue``    — a mandatory duty that applies to a release already placed on the market
      and is not met: a missed date (``due_from``: the day it became due for the first such
      release, the later of its placing and the obligation's date);
    * ``upcoming``   — a mandatory duty that does not apply yet, or applies to no release placed
      by ``as_of`` (a release placed in 2028 is not late in 2026): ``due_from`` is when;
    * ``unplaced``   — a mandatory duty in force, but no release has a placing date: nothing
      is on the market as far as the workspace knows, so nothing is missed;
    * ``not-reached`` — a mandatory duty whose obligation ended before every release was
      first placed (the RED delegated act covers placings up to 2027-12-10);
    * ``standing``   — an event-triggered duty in force (CRA Art. 14 from 2026-09-11): nothing is
      late until an exploited vulnerability or incident starts its clocks;
    * ``for-label``  — only a condition of a voluntary label (SG CLS Levels 2-4, the BSI label):
      not yet met, never missed.

    ``applies_from`` is the date of the obligation that names the requirement (CRA Art. 14 from
    2026-09-11, Annex I from 2027-12-11), not the instrument's first date; ``releases`` gives
    each dated release's own state and date. ``binding`` is whether the assessment binds the
    product (required/upcoming): a voluntary scheme's mandatory part (CLS Level 1 for routers)
    binds only a product the mandate holds for. In EU product law each unit is placed on the
    market on its own (Blue Guide 2022, section 2.3), so a release first placed before an
    obligation applies owes it from the obligation's date on.
    """
    windows = kb.requirement_windows.get(requirement_id, ())
    today = as_of.isoformat()
    mandatory = [(w.applies_from, w.until) for w in windows if w.nature == "mandatory"]
    standing = [w.applies_from for w in windows if w.nature == "on-event"]
    if binding and not mandatory and standing:
        start = min(standing)
        return _when(start, "standing" if start <= today else "upcoming", start)
    if binding and not windows:
        mandatory = [(fallback.isoformat() if fallback else None, None)]
    if not binding or not mandatory:
        start = min((w.applies_from for w in windows), default=None) or (
            fallback.isoformat() if fallback else None)
        return _when(start, "for-label", None)
    return _measured(mandatory, today, placings)


def _when(applies_from: str | None, state: str, due_from: str | None,
          releases: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"applies_from": applies_from, "due": state, "due_from": due_from,
            "releases": releases or []}


def _measured(windows: list[tuple[str | None, str | None]], today: str,
              placings: tuple[Placing, ...]) -> dict[str, Any]:
    """A mandatory duty measured release by release (see ``due``)."""
    start = min((w[0] for w in windows if w[0]), default=None)
    releases = []
    for p in placings:
        if p.placed is None:
            continue
        reaching = [w for w in windows if w[1] is None or p.placed <= w[1]]
        if not reaching:
            releases.append({"release": p.release, "placed_on_market": p.placed,
                             "due": "not-reached", "due_from": None})
            continue
        begins = min((w[0] for w in reaching if w[0]), default=None)
        since = max(p.placed, begins) if begins else p.placed
        releases.append({"release": p.release, "placed_on_market": p.placed,
                         "due": "overdue" if since <= today else "upcoming", "due_from": since})
    for state in ("overdue", "upcoming"):
        dates = [str(r["due_from"]) for r in releases if r["due"] == state]
        if dates:
            return _when(start, state, min(dates), releases)
    if releases:
        return _when(start, "not-reached", None, releases)
    if start is not None and start > today:
        return _when(start, "upcoming", start)
    return _when(start, "unplaced", None)


def not_reached(kb: KnowledgeBase, regulation_id: str,
                placings: tuple[Placing, ...]) -> str | None:
    """Why the instrument reaches none of the product's dated releases, or None: every one of
    its mandatory obligations ended before each release was first placed on the market."""
    reg = kb.regulation(regulation_id)
    obligations = [ob for ob in (reg.get("applicability") or {}).get("obligations") or ()
                   if kb.obligation_nature(reg, ob) == "mandatory"]
    dated = [(p.release, p.placed) for p in placings if p.placed is not None]
    if not dated or not obligations or any(
            not ob.get("until") or placed <= str(ob["until"])
            for ob in obligations for _, placed in dated):
        return None
    ends = "; ".join(f"{ob['title']} cover placings up to {ob['until']} "
                     f"({kb.cite(ob['citation'], reg)})" for ob in obligations)
    first = ", ".join(f"{label} (first placed {placed})" for label, placed in dated)
    return f"{reg['short_name']} does not reach release {first}: {ends}"


def instrument_gaps(kb: KnowledgeBase, assessment: Assessment,
                    statuses: list[RequirementStatus], as_of: dt.date | None = None,
                    placings: tuple[Placing, ...] = ()) -> dict[str, Any]:
    """One instrument's progress and its open requirements, each with what it is on ``as_of``
    measured against the product's releases (``due``)."""
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
        when = due(kb, s.requirement_id, day, assessment.applies_from, binding, placings)
        missing.append({"requirement": s.requirement_id, "category": s.category,
                        "status": s.status, **when,
                        "title": kb.requirements.get(s.requirement_id, {}).get("title", "")})
    counts = Counter(m["due"] for m in missing)
    return {
        "regulation": assessment.regulation_id, "status": assessment.status,
        "category": assessment.category, "applies_from": (
            assessment.applies_from.isoformat() if assessment.applies_from else None),
        "stale": assessment.stale or assessment.kb_version != kb.version,
        "total": total, "done": done,
        "percent_met": round(100 * done / total, 1) if total else 100.0,
        "by_status": dict(by_status), "by_category": {c: dict(v) for c, v in by_category.items()},
        "missing": missing,
        "overdue": counts["overdue"], "upcoming": counts["upcoming"],
        "standing": counts["standing"], "for_label": counts["for-label"],
        "unplaced": counts["unplaced"], "not_reached": counts["not-reached"],
        "does_not_reach": not_reached(kb, assessment.regulation_id, placings) if binding else None,
        "overdue_since": _first(missing, "overdue"), "next_date": _first(missing, "upcoming"),
    }


def _first(missing: list[dict[str, Any]], state: str) -> str | None:
    return min((m["due_from"] for m in missing if m["due"] == state and m["due_from"]),
               default=None)


def check_expiring_days(days: int) -> None:
    """Refuse a horizon outside ``0..EXPIRING_DAYS`` here, once, for every face: the API's
    query limit alone left the CLI computing a date past year 9999."""
    if not 0 <= days <= EXPIRING_DAYS:
        raise InputError(f"--expiring-days (expiring_days) must be between 0 and "
                         f"{EXPIRING_DAYS}, got {days}")


def product_gaps(session: Session, actor: Actor, kb: KnowledgeBase, product_ref: str,
                 as_of: dt.date, expiring_days: int = 30) -> dict[str, Any]:
    check_expiring_days(expiring_days)
    product = get_product(session, actor, product_ref)
    placings = placings_of(product)
    instruments = []
    status_ids: list[str] = []
    now: dict[str, str] | None = None
    for a in current_assessments(session, actor, product.id):
        if a.status not in BINDING:
            continue
        statuses = _statuses(session, a)
        status_ids += [s.id for s in statuses]
        gaps = instrument_gaps(kb, a, statuses, as_of, placings)
        if gaps["stale"]:
            if now is None:
                now = {r: v.status for r, v in verdicts_on(kb, product, as_of).items()}
            gaps |= _what_changed(kb, a, product.profile, now)
        instruments.append(gaps)
    return {"product": product.name, "product_id": product.id, "as_of": as_of.isoformat(),
            "law_as_of": kb.law_as_of, "instruments": instruments,
            "releases": [p._asdict() for p in placings],
            "expiring_evidence": expiring(session, actor, status_ids, as_of, expiring_days)}


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
    """The evidence behind ``status_ids`` that expires within ``days`` of ``as_of``."""
    check_expiring_days(days)
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
    check_expiring_days(expiring_days)
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
        dates = dated(summary)
        missed += dates["missed"]
        upcoming += dates["upcoming"]
    upcoming.sort(key=lambda u: (u["applies_from"] or "", u["product"], u["regulation"]))
    return {"as_of": as_of.isoformat(), "products": products,
            "controls": _control_value(session, actor, kb, open_reqs), "missed_dates": missed,
            "upcoming_dates": upcoming, "law_as_of": kb.law_as_of}


def dated(summary: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A product's missed and upcoming dates from its ``product_gaps``, per instrument: the
    portfolio (API, CLI and web) lists exactly what the product page counts as overdue
    (``due``), never a date of a release not yet placed on the market."""
    out: dict[str, list[dict[str, Any]]] = {"missed": [], "upcoming": []}
    for inst in summary["instruments"]:
        for key, count, since in (("missed", "overdue", "overdue_since"),
                                  ("upcoming", "upcoming", "next_date")):
            if inst[count]:
                out[key].append({"product": summary["product"],
                                 "product_id": summary["product_id"],
                                 "regulation": inst["regulation"],
                                 "applies_from": inst[since], "open": inst[count]})
    return out


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


def portfolio_page(session: Session, actor: Actor, kb: KnowledgeBase, as_of: dt.date,
                   after: str | None = None,
                   limit: int = PORTFOLIO_PAGE, expiring_days: int = 30) -> dict[str, Any]:
    """One keyset page of the portfolio matrix: the products after ``after`` by name (archived
    ones left out), each with its current assessments, % met per binding instrument, its missed
    dates (``dated``, as the product page counts them) and its count of expiring evidence links.

    Why batched: the matrix used to call ``product_gaps`` per product, ~3 queries a product
    (30 007 queries, 104 s for 10 000 products on PostgreSQL). Here a page costs the same
    six queries whatever the portfolio's size: the count, the page, its releases, its
    assessments, their requirement statuses and one aggregate of their expiring evidence."""
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit", "a portfolio page holds 1 to 500 products")
    live = select(Product).where(Product.org_id == actor.org_id, Product.archived_at.is_(None))
    total = session.scalar(select(func.count()).select_from(live.subquery())) or 0
    if after is not None:
        live = live.where(Product.name > after)
    page = list(session.scalars(live.order_by(Product.name).limit(limit + 1)
                                .options(selectinload(Product.releases))))
    more, page = len(page) > limit, page[:limit]
    current = _current_of(session, actor, [p.id for p in page])
    binding = [a.id for rows in current.values() for a in rows if a.status in BINDING]
    statuses = _statuses_of(session, actor, binding)
    links = _expiring_links(session, actor, binding, as_of, expiring_days)
    rows = []
    for p in page:
        placings = placings_of(p)
        instruments = [instrument_gaps(kb, a, statuses.get(a.id, []), as_of, placings)
                       for a in current.get(p.id, []) if a.status in BINDING]
        rows.append({"product": p,
                     "assessments": {a.regulation_id: a for a in current.get(p.id, [])},
                     "met": {i["regulation"]: i["percent_met"] for i in instruments},
                     "missed": dated({"product": p.name, "product_id": p.id,
                                      "instruments": instruments})["missed"],
                     "expiring": links.get(p.id, 0)})
    return {"rows": rows, "total": int(total), "after": after,
            "next_after": page[-1].name if more else None}


def _current_of(session: Session, actor: Actor,
                product_ids: list[str]) -> dict[str, list[Assessment]]:
    """The current (not superseded) assessments of these products, in one query."""
    if not product_ids:
        return {}
    return _grouped(session.scalars(select(Assessment).where(
        Assessment.org_id == actor.org_id, Assessment.product_id.in_(product_ids),
        Assessment.superseded.is_(False)).order_by(Assessment.regulation_id)), "product_id")


def _statuses_of(session: Session, actor: Actor,
                 assessment_ids: list[str]) -> dict[str, list[RequirementStatus]]:
    """The requirement statuses of these assessments, in one query, by assessment."""
    if not assessment_ids:
        return {}
    return _grouped(session.scalars(select(RequirementStatus).where(
        RequirementStatus.org_id == actor.org_id,
        RequirementStatus.assessment_id.in_(assessment_ids))), "assessment_id")


def _grouped(rows: Iterable[T], key: str) -> dict[str, list[T]]:
    """Rows of one batched read, by the id that ties each to its owner."""
    out: dict[str, list[T]] = defaultdict(list)
    for row in rows:
        out[getattr(row, key)].append(row)
    return out


def _expiring_links(session: Session, actor: Actor, assessment_ids: list[str],
                    as_of: dt.date, days: int) -> dict[str, int]:
    """Per product: its evidence links to these assessments' requirements whose evidence
    expires within ``days`` (or has expired), as ``expiring`` lists them, in one query."""
    if not assessment_ids:
        return {}
    horizon = as_of + dt.timedelta(days=days)
    rows = session.execute(
        select(Assessment.product_id, func.count())
        .select_from(EvidenceLink)
        .join(Evidence, EvidenceLink.evidence_id == Evidence.id)
        .join(RequirementStatus, EvidenceLink.status_id == RequirementStatus.id)
        .join(Assessment, RequirementStatus.assessment_id == Assessment.id)
        .where(Evidence.org_id == actor.org_id, Assessment.id.in_(assessment_ids),
               Evidence.expires_on.is_not(None), Evidence.expires_on <= horizon)
        .group_by(Assessment.product_id)).all()
    return {pid: int(n) for pid, n in rows}
