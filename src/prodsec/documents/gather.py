"""Read everything a document may state from the workspace, in one pass, as plain data.

The snapshot is also what a generation record fingerprints: its SHA-256 (``digest``) is stored
with the record, and a record whose digest no longer matches a fresh snapshot is stale.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.models import (
    Evidence,
    EvidenceLink,
    FactAcknowledgement,
    Product,
    Release,
    RequirementStatus,
)
from prodsec.documents.facts import cite
from prodsec.documents.info import docs_view, get_org_profile, get_product_docs, org_view
from prodsec.workspace.compliance import list_controls, products_of
from prodsec.workspace.context import Actor, NotFound
from prodsec.workspace.products import current_assessments, get_product


@dataclass
class Row:
    """One requirement of one assessment, with what proves it."""

    id: str
    title: str
    category: str
    citation: str
    url: str | None
    status: str
    justification: str
    controls: list[str]
    evidence: list[dict[str, Any]]
    parent: str | None = None
    verified: bool = True  # False: the citation is marked unverified in the knowledge base


@dataclass
class AssessmentData:
    regulation: str
    status: str
    category: str | None
    route: str | None
    applies_from: dt.date | None
    as_of: dt.date
    stale: bool
    rows: list[Row]

    def open_rows(self) -> list[Row]:
        return [r for r in self.rows if r.status not in ("met", "not-applicable")]


@dataclass
class Inputs:
    """The workspace facts one document generation may use."""

    kb: KnowledgeBase
    today: dt.date
    org: dict[str, Any]
    product: Product | None = None
    release: Release | None = None
    docs: dict[str, Any] = field(default_factory=dict)
    docs_version: int | None = None
    assessments: dict[str, AssessmentData] = field(default_factory=dict)
    products: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)  # confirmed unverified facts (keys)
    #: the manufacturer's answers to OJ-listing restrictions that turn on a design choice:
    #: ``<standard>:<restriction>`` → applies | does-not-apply (a generation input)
    answers: dict[str, str] = field(default_factory=dict)

    @property
    def profile(self) -> dict[str, Any]:
        return dict(self.product.profile) if self.product else {}

    def snapshot(self) -> dict[str, Any]:
        """Everything gathered except today's date: the generation's inputs."""
        release = self.release
        return {
            "org": self.org, "products": self.products,
            "product": self.product.profile if self.product else None,
            "release": None if release is None else {
                "version": release.version_label,
                "placed_on_market": release.placed_on_market, "support_end": release.support_end,
                "support_rationale": release.support_rationale},
            "docs": self.docs,
            "assessments": {k: {"status": a.status, "category": a.category, "route": a.route,
                                "stale": a.stale, "rows": [vars(r) for r in a.rows]}
                            for k, a in sorted(self.assessments.items())},
        }

    def digest(self) -> str:
        text = json.dumps(self.snapshot(), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def versions(self) -> dict[str, Any]:
        """The row versions of the inputs, for people reading a generation record."""
        return {
            "product": self.product.version if self.product else None,
            "profile_hash": self.product.profile_hash if self.product else None,
            "release": self.release.version if self.release else None,
            "org_profile": self.org.get("version"), "documentation": self.docs_version,
            "assessments": {k: a.as_of.isoformat() for k, a in sorted(self.assessments.items())},
        } | ({"restriction_answers": dict(sorted(self.answers.items()))} if self.answers else {})


def gather(session: Session, actor: Actor, kb: KnowledgeBase, product_ref: str | None,
           release_label: str | None, today: dt.date) -> Inputs:
    inputs = Inputs(kb, today, org_view(get_org_profile(session, actor)))
    inputs.products = [p.name for p in products_of(session, actor)]
    inputs.acknowledged = acknowledged_keys(session, actor)
    if product_ref is None:
        return inputs
    product = get_product(session, actor, product_ref)
    inputs.product = product
    inputs.release = _release(product, release_label)
    docs = get_product_docs(session, actor, product.id)
    view = docs_view(docs)
    inputs.docs, inputs.docs_version = view["fields"], view["version"]
    inputs.assessments = _assessments(session, actor, kb, product)
    return inputs


def acknowledged_keys(session: Session, actor: Actor) -> set[str]:
    """The unverified facts the organisation has confirmed (documents/acknowledge.py)."""
    return set(session.scalars(select(FactAcknowledgement.key).where(
        FactAcknowledgement.org_id == actor.org_id)))


def _release(product: Product, label: str | None) -> Release | None:
    """The named release, else the latest one placed on the market (or None)."""
    if label is not None:
        for release in product.releases:
            if release.version_label == label:
                return release
        raise NotFound(f"{product.name!r} has no release {label!r} "
                       f"(record it with: prodsec product release {product.name!r} {label})")
    dated = sorted(product.releases, key=lambda r: (r.placed_on_market or dt.date.min,
                                                    r.version_label))
    return dated[-1] if dated else None


def _assessments(session: Session, actor: Actor, kb: KnowledgeBase,
                 product: Product) -> dict[str, AssessmentData]:
    current = current_assessments(session, actor, product.id)
    statuses = _statuses(session, [a.id for a in current])
    evidence = _evidence(session, actor, [s.id for rows in statuses.values() for s in rows])
    controls: dict[str, list[str]] = defaultdict(list)
    for control in list_controls(session, actor):
        for rid in control.requirements:
            controls[rid].append(control.name)
    out = {}
    for a in current:
        rows = [_row(kb, s, controls, evidence) for s in statuses.get(a.id, [])]
        out[a.regulation_id] = AssessmentData(
            a.regulation_id, a.status, a.category, a.route, a.applies_from, a.as_of,
            a.stale or a.kb_version != kb.version, rows)
    return out


def _statuses(session: Session, ids: list[str]) -> dict[str, list[RequirementStatus]]:
    out: dict[str, list[RequirementStatus]] = defaultdict(list)
    if ids:
        for s in session.scalars(select(RequirementStatus).where(
                RequirementStatus.assessment_id.in_(ids)).order_by(RequirementStatus.id)):
            out[s.assessment_id].append(s)
    return out


def _evidence(session: Session, actor: Actor, status_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not status_ids:
        return out
    rows = session.execute(
        select(Evidence, EvidenceLink.status_id).join(EvidenceLink, EvidenceLink.evidence_id == Evidence.id)
        .where(Evidence.org_id == actor.org_id, EvidenceLink.status_id.in_(status_ids))).all()
    for e, sid in rows:
        out[str(sid)].append({"title": e.title, "sha256": e.sha256, "url": e.url,
                         "version": e.version_label,
                         "expires_on": e.expires_on.isoformat() if e.expires_on else None})
    for items in out.values():
        items.sort(key=lambda i: (i["title"], i["sha256"] or "", i["url"] or ""))
    return out


def _row(kb: KnowledgeBase, s: RequirementStatus, controls: dict[str, list[str]],
         evidence: dict[str, list[dict[str, Any]]]) -> Row:
    req = kb.requirements.get(s.requirement_id, {})
    doc = kb.regulations.get(kb.document_id(s.requirement_id))
    citation = req.get("citation")
    # cited outside a generation: no "[unverified]" mark; table_rows notes the fact instead
    return Row(s.requirement_id, req.get("title", s.requirement_id), s.category,
               cite(kb, citation, doc) if doc else kb.cite(citation) or "", citation.get("url") if citation else None,
               s.status, s.justification, sorted(controls.get(s.requirement_id, [])),
               evidence.get(s.id, []), req.get("parent"),
               not (citation and citation.get("verified") is False))


def requirement_order(kb: KnowledgeBase, regulation_id: str) -> dict[str, int]:
    """The knowledge base's order of an instrument's requirements (the legal text's order)."""
    return {r["id"]: i for i, r in enumerate(kb.regulation(regulation_id)["requirements"])}


def sorted_rows(kb: KnowledgeBase, data: AssessmentData) -> list[Row]:
    order = requirement_order(kb, data.regulation)
    return sorted(data.rows, key=lambda r: (order.get(r.id, len(order)), r.id))


def assessment_for(inputs: Inputs, regulation_id: str) -> AssessmentData | None:
    return inputs.assessments.get(regulation_id)
