"""Products (a v1 profile each), their releases, and assessments derived from ``check``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from prodsec.core import limits
from prodsec.core.applicability import Engine, Verdict
from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.profile import TEXT_LIMITS, ProfileError, parse_profile
from prodsec.db.models import Assessment, Product, Release, RequirementStatus, utcnow
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, Conflict, NotFound, ValidationFailed, bounded
from prodsec.workspace.context import check_page as check_page_size
from prodsec.workspace.scope import by_id_or_name, owned


def profile_hash(profile: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(profile, sort_keys=True).encode()).hexdigest()


def _validated(kb: KnowledgeBase, raw: Any, source: str = "profile") -> dict[str, Any]:
    # the parser refuses an overlong text too; checked first here only so the message names
    # the field once ("profile.name: is … characters long"), as every other workspace limit does
    if isinstance(raw, dict):
        for field, limit in PROFILE_TEXT_LIMITS.items():
            if isinstance(raw.get(field), str):
                bounded(f"profile.{field}", raw[field], limit)
    try:
        return parse_profile(raw, kb.vocabulary, source).to_dict()
    except ProfileError as exc:
        first = exc.problems[0]
        raise ValidationFailed(f"profile.{first.field}", "; ".join(map(str, exc.problems))) from exc


#: The profile's free-text fields; the name is also the product's name column.
PROFILE_TEXT_LIMITS = TEXT_LIMITS


def product_view(product: Product) -> dict[str, Any]:
    return {
        "id": product.id, "name": product.name, "profile": product.profile,
        "version": product.version, "created_at": product.created_at.isoformat(),
        "updated_at": product.updated_at.isoformat(),
        "archived_at": product.archived_at.isoformat() if product.archived_at else None,
        "releases": [release_view(r) for r in product.releases],
    }


def release_view(release: Release) -> dict[str, Any]:
    return {
        "id": release.id, "product_id": release.product_id, "version_label": release.version_label,
        "placed_on_market": release.placed_on_market.isoformat() if release.placed_on_market else None,
        "support_end": release.support_end.isoformat() if release.support_end else None,
        "support_rationale": release.support_rationale,
        "expected_use_months": release.expected_use_months, "version": release.version,
    }


def get_product(session: Session, actor: Actor, product_ref: str) -> Product:
    """By id or by name, only within the actor's organisation."""
    return by_id_or_name(session, actor, Product, product_ref, "product")


def get_release_by_label(session: Session, actor: Actor, product_ref: str,
                         label: str) -> Release:
    """A release by its version label, within the actor's organisation."""
    product = get_product(session, actor, product_ref)
    release = session.scalar(select(Release).where(
        Release.org_id == actor.org_id, Release.product_id == product.id,
        Release.version_label == label))
    if release is None:
        raise NotFound(f"no release {label!r} of {product.name}")
    return release


def list_products(session: Session, actor: Actor, limit: int = 50, offset: int = 0,
                  name_contains: str | None = None, after: str | None = None
                  ) -> tuple[list[Product], int]:
    """A page of the organisation's products by name, and how many there are in all.

    ``after`` (a name: the last one of the previous page) is the keyset cursor: the
    ``(org_id, name)`` index finds the page directly, where an ``offset`` makes PostgreSQL
    walk and drop every earlier row (O(n) at the end of a 10 000-product portfolio)."""
    from sqlalchemy import func

    check_page_size(limit, offset)
    if after is not None and offset:
        raise ValidationFailed("after", "give either a cursor (after) or an offset, not both")
    query = select(Product).where(Product.org_id == actor.org_id)
    if name_contains:
        query = query.where(Product.name.ilike(f"%{name_contains}%"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if after is not None:
        query = query.where(Product.name > after)
    rows = list(session.scalars(query.order_by(Product.name).limit(limit).offset(offset)
                                .options(selectinload(Product.releases))))
    return rows, int(total)


def add_product(session: Session, actor: Actor, kb: KnowledgeBase, raw_profile: Any,
                source: str = "profile") -> Product:
    actor.require("editor")
    profile = _validated(kb, raw_profile, source)
    product = Product(org_id=actor.org_id, name=profile["name"], profile=profile,
                      profile_hash=profile_hash(profile))
    session.add(product)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a product named {profile['name']!r} exists already",
                       precondition=False) from None
    audit.record(session, actor, "product.create", "product", product.id, None, profile)
    return product


def check_version(obj: Any, if_match: int | None) -> None:
    """Optimistic concurrency: the caller must have seen the current version."""
    if if_match is not None and obj.version != if_match:
        raise Conflict(f"{type(obj).__name__.lower()} changed since version {if_match} "
                       f"(now {obj.version}); reload and try again", current=obj)


def writable(product: Product) -> Product:
    """An archived product is read-only: every change to it or its releases waits for a
    restore (a 409, so the user learns why rather than a missing page)."""
    if product.archived_at is not None:
        raise Conflict(f"product {product.name!r} is archived (read-only); restore it first",
                       precondition=False)
    return product


def update_profile(session: Session, actor: Actor, kb: KnowledgeBase, product_ref: str,
                   raw_profile: Any, if_match: int | None) -> Product:
    actor.require("editor")
    product = writable(get_product(session, actor, product_ref))
    check_version(product, if_match)
    before = product.profile
    profile = _validated(kb, raw_profile)
    product.profile, product.name = profile, profile["name"]
    product.profile_hash = profile_hash(profile)
    _flush(session, product)
    mark_stale(session, product, kb)
    audit.record(session, actor, "product.update", "product", product.id, before, profile)
    return product


def _flush(session: Session, obj: Any) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(f"{type(obj).__name__.lower()} was changed by someone else; reload",
                       current=None) from None
    except IntegrityError as exc:
        raise Conflict(f"conflicts with an existing record: {exc.orig}", precondition=False) from None


def profile_changes(session: Session, actor: Actor, kb: KnowledgeBase, product_ref: str,
                    raw_profile: Any, as_of: dt.date) -> dict[str, Any]:
    """What saving ``raw_profile`` would change in the product's verdicts on ``as_of``
    (stores nothing): the validated profile, the version it applies to (the If-Match of the
    save), the answers that change and the instruments whose verdict changes, from → to."""
    from prodsec.core.profile_diff import diff_profiles
    from prodsec.core.verdict_diff import diff_checks

    product = get_product(session, actor, product_ref)
    profile = _validated(kb, raw_profile)
    engine = Engine(kb)
    before = engine.check(parse_profile(product.profile, kb.vocabulary, product.name), as_of)
    after = engine.check(parse_profile(profile, kb.vocabulary, "profile"), as_of)
    return {"product": product.id, "version": product.version, "profile": profile,
            "profile_changed": profile != product.profile,
            "answers": diff_profiles(product.profile, profile),
            "changes": diff_checks(before.to_dict(), after.to_dict())}


def set_archived(session: Session, actor: Actor, product_ref: str, archived: bool,
                 if_match: int | None) -> Product:
    """Archive a product (hidden from the portfolio, read-only) or restore it. A product
    with an open Article 14 case stays active: its clocks still run."""
    from prodsec.db.models import Article14Case

    actor.require("editor")
    product = get_product(session, actor, product_ref)
    check_version(product, if_match)
    if (product.archived_at is not None) == archived:
        raise Conflict(f"product {product.name!r} is {'already' if archived else 'not'} archived",
                       precondition=False)
    if archived and session.scalar(select(Article14Case.id).where(
            Article14Case.product_id == product.id, Article14Case.closed_at.is_(None))):
        raise Conflict(f"product {product.name!r} has an open Article 14 case; close it before "
                       "archiving", precondition=False)
    before = product_view(product)
    product.archived_at = utcnow() if archived else None
    _flush(session, product)
    audit.record(session, actor, "product.archive" if archived else "product.restore",
                 "product", product.id, {"archived_at": before["archived_at"]},
                 {"archived_at": product_view(product)["archived_at"]})
    return product


def deletion_effects(session: Session, actor: Actor, product_ref: str) -> dict[str, Any]:
    """What deleting the product removes and what stays for the audit trail, counted, and
    why it cannot be deleted (or None). Shown before a delete is confirmed."""
    from sqlalchemy import func

    from prodsec.db.models import (
        Article14Case,
        Article14Submission,
        AuditEvent,
        CsafDocument,
        EvidenceLink,
        FindingRecord,
        GeneratedDocument,
        SbomRecord,
        VexStatement,
    )

    product = get_product(session, actor, product_ref)

    def count(model: Any, *where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    release_ids = [r.id for r in product.releases]
    assessments = select(Assessment.id).where(Assessment.product_id == product.id)
    statuses = select(RequirementStatus.id).where(RequirementStatus.assessment_id.in_(assessments))
    cases = select(Article14Case.id).where(Article14Case.product_id == product.id)
    reported = int(session.scalar(select(func.count(func.distinct(Article14Submission.case_id)))
                                  .where(Article14Submission.case_id.in_(cases))) or 0)
    return {
        "product": product_view(product),
        "removed": {"releases": len(release_ids),
                    "sboms": count(SbomRecord, SbomRecord.release_id.in_(release_ids)),
                    "findings": count(FindingRecord, FindingRecord.release_id.in_(release_ids)),
                    "assessments": count(Assessment, Assessment.product_id == product.id),
                    "generated_documents": count(GeneratedDocument,
                                                 GeneratedDocument.product_id == product.id),
                    "vex_statements": count(VexStatement, VexStatement.product_id == product.id),
                    "csaf_documents": count(CsafDocument, CsafDocument.product_id == product.id),
                    "evidence_links": count(EvidenceLink, EvidenceLink.status_id.in_(statuses)),
                    "article14_cases": count(Article14Case, Article14Case.product_id == product.id)
                    - reported},
        "kept": {"audit_events": count(AuditEvent, AuditEvent.org_id == actor.org_id,
                                       AuditEvent.entity_id.in_([product.id, *release_ids])),
                 "evidence_items": int(session.scalar(
                     select(func.count(func.distinct(EvidenceLink.evidence_id)))
                     .where(EvidenceLink.status_id.in_(statuses))) or 0)},
        "blocked": _deletion_blocked(session, product, reported),
    }


def _deletion_blocked(session: Session, product: Product, reported: int) -> str | None:
    """Why the product cannot be deleted, or None: an Article 14 case with a submitted report
    (that report is the record of a legal obligation), or an open case (its clocks run:
    withdraw it if it was opened in error). Withdrawn cases and cases without any report go
    with the product; the audit trail keeps their opening and withdrawal."""
    from prodsec.db.models import Article14Case

    if reported:
        return (f"it has {reported} Article 14 case(s) with submitted reports: those reports are "
                "records of a legal obligation; archive the product instead")
    running = session.scalar(select(func.count()).select_from(Article14Case).where(
        Article14Case.product_id == product.id, Article14Case.closed_at.is_(None)))
    if running:
        return (f"it has {running} open Article 14 case(s): their clocks run; withdraw a case "
                "opened in error first (nothing submitted yet), or archive the product")
    return None


def delete_product(session: Session, actor: Actor, product_ref: str, if_match: int | None) -> None:
    """Delete a product with its releases, SBOMs, findings, assessments and generated
    documents. The audit trail keeps every event about it (and this one, with the product as it
    was); evidence files stay in the organisation's library, unlinked. Refused while it has
    an Article 14 case with a submitted report or an open one (see ``deletion_effects``)."""
    actor.require("editor")
    product = get_product(session, actor, product_ref)
    check_version(product, if_match)
    blocked = deletion_effects(session, actor, product.id)["blocked"]
    if blocked:
        raise Conflict(f"product {product.name!r} cannot be deleted: {blocked}", precondition=False)
    before = product_view(product)
    session.delete(product)
    session.flush()
    audit.record(session, actor, "product.delete", "product", before["id"], before, None)


def add_release(session: Session, actor: Actor, product_ref: str, version_label: str,
                placed_on_market: dt.date | None, support_end: dt.date | None,
                support_rationale: str = "", expected_use_months: int | None = None) -> Release:
    actor.require("editor")
    product = writable(get_product(session, actor, product_ref))
    _check_release_text(version_label, support_rationale)
    if placed_on_market and support_end and support_end < placed_on_market:
        raise ValidationFailed("support_end", "must not be before placed_on_market")
    require_lawful_support(placed_on_market, support_end, expected_use_months, support_rationale)
    if session.scalar(select(Release.id).where(Release.product_id == product.id,
                                               Release.version_label == version_label)):
        raise Conflict(f"release {version_label} of {product.name!r} already exists",
                       precondition=False)
    release = Release(org_id=actor.org_id, product_id=product.id, version_label=version_label,
                      placed_on_market=placed_on_market, support_end=support_end,
                      support_rationale=support_rationale,
                      expected_use_months=expected_use_months)
    session.add(release)
    _flush(session, release)
    audit.record(session, actor, "release.create", "release", release.id, None,
                 release_view(release))
    return release


def require_lawful_support(placed_on_market: dt.date | None, support_end: dt.date | None,
                           expected_use_months: int | None, justification: str) -> None:
    """Refuse a support period shorter than five years that is not justified by a shorter
    expected use time (CRA Art. 13(8), ``prodsec.core.support``)."""
    from prodsec.core.support import check_support

    if expected_use_months is not None and not 1 <= expected_use_months <= 1200:
        raise ValidationFailed("expected_use_months", "expected 1 to 1200 months")
    verdict = check_support(placed_on_market, support_end, expected_use_months, justification)
    if verdict.status == "short-unjustified":
        raise ValidationFailed("support_end", f"{verdict.message} ({verdict.citation})")


def _check_release_text(version_label: str, support_rationale: str) -> None:
    bounded("version_label", version_label, limits.VERSION, required=True)
    bounded("support_rationale", support_rationale, limits.TEXT)


def get_release(session: Session, actor: Actor, release_id: str) -> Release:
    return owned(session, actor, Release, release_id, "release")


def update_release(session: Session, actor: Actor, release: Release, changes: dict[str, Any],
                   if_match: int | None) -> Release:
    """Change a release's label, dates or rationale (only the keys given)."""
    actor.require("editor")
    writable(release.product)
    check_version(release, if_match)
    before = release_view(release)
    label = changes.get("version_label", release.version_label)
    if label != release.version_label and session.scalar(select(Release.id).where(
            Release.product_id == release.product_id, Release.version_label == label)):
        raise Conflict(f"release {label} of {release.product.name!r} already exists",
                       precondition=False)
    for key in ("version_label", "placed_on_market", "support_end", "support_rationale",
                "expected_use_months"):
        if key in changes:
            setattr(release, key, changes[key])
    _check_release_text(release.version_label, release.support_rationale)
    if release.placed_on_market and release.support_end and \
            release.support_end < release.placed_on_market:
        raise ValidationFailed("support_end", "must not be before placed_on_market")
    require_lawful_support(release.placed_on_market, release.support_end,
                           release.expected_use_months, release.support_rationale)
    _flush(session, release)
    audit.record(session, actor, "release.update", "release", release.id, before,
                 release_view(release))
    return release


def delete_release(session: Session, actor: Actor, release: Release, if_match: int | None) -> None:
    actor.require("editor")
    writable(release.product)
    check_version(release, if_match)
    before = release_view(release)
    session.delete(release)
    _flush(session, release)
    audit.record(session, actor, "release.delete", "release", before["id"], before, None)


# ---- assessments ---------------------------------------------------------------------------


def assessment_view(a: Assessment, statuses: list[RequirementStatus] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id, "product_id": a.product_id, "regulation": a.regulation_id,
        "as_of": a.as_of.isoformat(), "status": a.status, "category": a.category,
        "assessment": a.route, "applies_from": a.applies_from.isoformat() if a.applies_from else None,
        "stale": a.stale, "kb_version": a.kb_version, "created_at": a.created_at.isoformat(),
        "reasons": a.verdict.get("reasons", []),
    }
    if statuses is not None:
        out["requirements"] = [status_view(s) for s in statuses]
    return out


def status_view(s: RequirementStatus) -> dict[str, Any]:
    return {"id": s.id, "requirement": s.requirement_id, "category": s.category,
            "status": s.status, "justification": s.justification, "version": s.version,
            "updated_at": s.updated_at.isoformat(), "updated_by": s.updated_by}


def verdicts_on(kb: KnowledgeBase, product: Product, day: dt.date) -> dict[str, Verdict]:
    """Each instrument's verdict for the product's profile on ``day``, by instrument id: what
    the product page and ``assess`` show, for the rules that depend on a date (Article 14
    cases on the day of awareness, a stale assessment's verdict today). Empty when the
    profile no longer parses (e.g. it names a retired function: the knowledge change says
    why)."""
    from prodsec.errors import InputError

    try:
        check = Engine(kb).check(parse_profile(product.profile, kb.vocabulary, product.name), day)
    except InputError:
        return {}
    return {v.regulation: v for v in check.results}


def assess(session: Session, actor: Actor, kb: KnowledgeBase, product_ref: str,
           as_of: dt.date) -> list[Assessment]:
    """Derive assessments from ``check``; carry requirement statuses over from the last ones.

    Earlier assessments of the same instrument are kept (``superseded``), never rewritten.
    """
    actor.require("editor")
    product = writable(get_product(session, actor, product_ref))
    profile = parse_profile(product.profile, kb.vocabulary, product.name)
    check = Engine(kb).check(profile, as_of)
    created = []
    for verdict in check.results:
        previous = current_assessment(session, actor, product.id, verdict.regulation)
        carried = _statuses_by_requirement(session, previous) if previous else {}
        if previous:
            previous.superseded = True
        data = verdict.to_dict()
        assessment = Assessment(
            org_id=actor.org_id, product_id=product.id, regulation_id=verdict.regulation,
            as_of=as_of, status=verdict.status, category=verdict.category,
            route=verdict.assessment,
            applies_from=dt.date.fromisoformat(verdict.applies_from) if verdict.applies_from else None,
            verdict=data, kb_version=kb.version, profile_hash=product.profile_hash)
        session.add(assessment)
        session.flush()
        for category, ids in verdict.requirements.items():
            for rid in ids:
                old = carried.get(rid)
                session.add(RequirementStatus(
                    org_id=actor.org_id, assessment_id=assessment.id, requirement_id=rid,
                    category=category, status=old.status if old else "not-started",
                    justification=old.justification if old else "",
                    updated_by=old.updated_by if old else None))
        created.append(assessment)
    session.flush()
    audit.record(session, actor, "product.assess", "product", product.id, None,
                 {"as_of": as_of.isoformat(), "kb_version": kb.version,
                  "results": {a.regulation_id: a.status for a in created}})
    return created


def _statuses_by_requirement(session: Session, assessment: Assessment) -> dict[str, RequirementStatus]:
    rows = session.scalars(select(RequirementStatus).where(
        RequirementStatus.assessment_id == assessment.id))
    return {r.requirement_id: r for r in rows}


def current_assessment(session: Session, actor: Actor, product_id: str,
                       regulation_id: str) -> Assessment | None:
    return session.scalar(select(Assessment).where(
        Assessment.org_id == actor.org_id, Assessment.product_id == product_id,
        Assessment.regulation_id == regulation_id, Assessment.superseded.is_(False)))


def current_assessments(session: Session, actor: Actor, product_id: str) -> list[Assessment]:
    return list(session.scalars(select(Assessment).where(
        Assessment.org_id == actor.org_id, Assessment.product_id == product_id,
        Assessment.superseded.is_(False)).order_by(Assessment.regulation_id)))


def get_assessment(session: Session, actor: Actor, assessment_id: str) -> Assessment:
    return owned(session, actor, Assessment, assessment_id, "assessment")


def mark_stale(session: Session, product: Product, kb: KnowledgeBase) -> int:
    """Flag current assessments whose inputs (profile, knowledge base) have changed."""
    n = 0
    for a in session.scalars(select(Assessment).where(
            Assessment.product_id == product.id, Assessment.superseded.is_(False))):
        stale = a.profile_hash != product.profile_hash or a.kb_version != kb.version
        if stale and not a.stale:
            a.stale = True
            n += 1
    return n
