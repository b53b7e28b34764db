"""Requirement statuses, controls and evidence: doing the work and proving it."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO, TypeGuard

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from prodsec.core import limits
from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.ordering import natural_key
from prodsec.db.models import (
    Assessment,
    Control,
    Evidence,
    EvidenceLink,
    Product,
    RequirementStatus,
)
from prodsec.workspace import audit, staging
from prodsec.workspace.context import (
    Actor,
    Conflict,
    NotFound,
    ValidationFailed,
    bounded,
    check_page,
)
from prodsec.workspace.context import EvidenceTooLarge as EvidenceTooLarge
from prodsec.workspace.products import _flush, check_version, get_product, status_view
from prodsec.workspace.scope import by_id_or_name, owned

STATUSES = ("not-started", "in-progress", "met", "not-met", "not-applicable")
MAX_EVIDENCE_BYTES = 50 * 1024 * 1024


def find_status(session: Session, actor: Actor, product_ref: str,
                requirement_id: str) -> RequirementStatus:
    """The requirement's status in the product's current assessments."""
    product = get_product(session, actor, product_ref)
    status = session.scalar(
        select(RequirementStatus).join(Assessment, Assessment.id == RequirementStatus.assessment_id)
        .where(RequirementStatus.org_id == actor.org_id, Assessment.product_id == product.id,
               Assessment.superseded.is_(False), RequirementStatus.requirement_id == requirement_id))
    if status is None:
        raise NotFound(f"requirement {requirement_id!r} does not bind {product.name!r} "
                       "(run 'prodsec assess' first, or check the id)")
    return status


def get_status(session: Session, actor: Actor, status_id: str) -> RequirementStatus:
    return owned(session, actor, RequirementStatus, status_id, "requirement status")


def set_status(session: Session, actor: Actor, status: RequirementStatus, new: str,
               justification: str | None, if_match: int | None) -> RequirementStatus:
    """Change a status; 'not-applicable' needs a justification (EN 303 645 provision 4-1)."""
    actor.require("editor")
    if new not in STATUSES:
        raise ValidationFailed("status", f"expected one of {', '.join(STATUSES)}, got {new!r}")
    text = (justification if justification is not None else status.justification).strip()
    bounded("justification", text, limits.TEXT)
    if new == "not-applicable" and not text:
        raise ValidationFailed("justification",
                               "a justification is required to mark a requirement not applicable")
    check_version(status, if_match)
    before = status_view(status)
    status.status, status.justification, status.updated_by = new, text, actor.email
    _flush(session, status)
    audit.record(session, actor, "status.update", "requirement_status", status.id, before,
                 status_view(status))
    return status


# ---- evidence -----------------------------------------------------------------------------


def statuses_of(session: Session, actor: Actor, assessment_id: str) -> list[RequirementStatus]:
    """The requirement statuses of one of the actor's assessments, by requirement id."""
    rows = session.scalars(select(RequirementStatus).where(
        RequirementStatus.org_id == actor.org_id, RequirementStatus.assessment_id == assessment_id))
    return sorted(rows, key=lambda s: natural_key(s.requirement_id))


def evidence_view(e: Evidence) -> dict[str, Any]:
    return {"id": e.id, "title": e.title, "kind": "file" if e.sha256 else "url",
            "sha256": e.sha256, "filename": e.filename, "media_type": e.media_type, "size": e.size,
            "url": e.url, "version_label": e.version_label, "owner": e.owner,
            "expires_on": e.expires_on.isoformat() if e.expires_on else None,
            "created_at": e.created_at.isoformat()}


SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: object) -> TypeGuard[str]:
    """64 lowercase hex digits: the only shape of an evidence file's name in the store."""
    return isinstance(value, str) and SHA256_HEX.fullmatch(value) is not None


def blob_path(evidence_dir: Path, sha256: str) -> Path:
    """The file of a blob in the store; anything but a SHA-256 is refused, so no value read
    from a database row, an export or a backup can name a path outside the store."""
    if not is_sha256(sha256):
        raise ValidationFailed("sha256", f"{str(sha256)[:80]!r} is not a SHA-256 "
                                         "(64 lowercase hex digits)")
    return evidence_dir / sha256[:2] / sha256


def store_blob(evidence_dir: Path, stream: BinaryIO, limit: int = MAX_EVIDENCE_BYTES
               ) -> tuple[str, int, bool]:
    """Stream into the content-addressed store; return (sha256, size, newly created).

    The bytes go to a staging file first and are renamed into place, so a reader never sees
    half a file; an existing blob with the same hash is left untouched (files never change).
    """
    with staging.staged(evidence_dir, limit) as item:
        staging.copy_into(item, stream)
        return store_staged(evidence_dir, item)


def store_staged(evidence_dir: Path, item: staging.Staged) -> tuple[str, int, bool]:
    """Move a received staging file into the store under its hash; (sha256, size, created)."""
    sha = item.sha256
    target = blob_path(evidence_dir, sha)
    created = item.claim(target)
    if created:
        os.chmod(target, 0o444)
    return sha, item.size, created


def add_evidence(session: Session, actor: Actor, evidence_dir: Path, title: str, *,
                 stream: BinaryIO | None = None, staged: staging.Staged | None = None,
                 filename: str | None = None,
                 media_type: str | None = None, url: str | None = None, owner: str = "",
                 version_label: str = "1", expires_on: dt.date | None = None,
                 limit: int = MAX_EVIDENCE_BYTES) -> Evidence:
    """A file (streamed, size-limited; or already ``staged`` before the transaction began) or a
    URL. On any failure, a file this call stored is removed again, so no orphaned evidence file
    is left behind."""
    actor.require("editor")
    bounded("title", title, limits.TITLE, required=True)
    bounded("filename", filename or "", limits.TITLE)
    bounded("media_type", media_type or "", limits.NAME)
    bounded("url", url or "", limits.URL)
    bounded("owner", owner, limits.NAME)
    bounded("version_label", version_label, limits.VERSION, required=True)
    if (stream is None and staged is None) == (url is None):
        raise ValidationFailed("file", "give either a file or a url")
    if url is not None and not url.startswith(("https://", "http://")):
        raise ValidationFailed("url", "expected an http(s) URL")
    sha = size = None
    created = False
    if staged is not None:
        sha, size, created = store_staged(evidence_dir, staged)
    elif stream is not None:
        sha, size, created = store_blob(evidence_dir, stream, limit)
    try:
        evidence = Evidence(org_id=actor.org_id, title=title, sha256=sha, size=size,
                            filename=filename, media_type=media_type, url=url, owner=owner,
                            version_label=version_label, expires_on=expires_on)
        session.add(evidence)
        session.flush()
        audit.record(session, actor, "evidence.create", "evidence", evidence.id, None,
                     evidence_view(evidence))
    except BaseException:
        if created and sha:
            blob_path(evidence_dir, sha).unlink(missing_ok=True)
        raise
    return evidence


def get_evidence(session: Session, actor: Actor, evidence_id: str) -> Evidence:
    return owned(session, actor, Evidence, evidence_id, "evidence")


def evidence_file(session: Session, actor: Actor, evidence_dir: Path, evidence_id: str
                  ) -> tuple[Evidence, Path]:
    """An evidence item of the actor's organisation and its file in the store, for a download
    by any face (so every face enforces the same tenancy): ``NotFound`` for another
    organisation's id, a URL, or a file missing from the store."""
    evidence = get_evidence(session, actor, evidence_id)
    if not evidence.sha256:
        raise NotFound(f"evidence {evidence_id!r} is a URL, not a file: {evidence.url}")
    path = blob_path(evidence_dir, evidence.sha256)
    if not path.exists():
        raise NotFound(f"the file of evidence {evidence_id!r} is missing from the store")
    return evidence, path


def set_evidence_expiry(session: Session, actor: Actor, evidence: Evidence,
                        expires_on: dt.date | None) -> Evidence:
    """Change (or clear, with None) the date after which the evidence no longer proves
    anything; the file itself never changes. Audited before → after."""
    actor.require("editor")
    before = evidence_view(evidence)
    evidence.expires_on = expires_on
    session.flush()
    audit.record(session, actor, "evidence.update", "evidence", evidence.id, before,
                 evidence_view(evidence))
    return evidence


def expiry_state(expires_on: dt.date | None, today: dt.date, soon_days: int = 30) -> str:
    """'expired', 'expiring' (within ``soon_days``) or '' — what a board shows next to it."""
    if expires_on is None:
        return ""
    if expires_on < today:
        return "expired"
    return "expiring" if (expires_on - today).days <= soon_days else ""


def link_evidence(session: Session, actor: Actor, evidence: Evidence, *,
                  status: RequirementStatus | None = None, control: Control | None = None
                  ) -> EvidenceLink:
    actor.require("editor")
    link = EvidenceLink(org_id=actor.org_id, evidence_id=evidence.id,
                        status_id=status.id if status else None,
                        control_id=control.id if control else None)
    session.add(link)
    session.flush()
    audit.record(session, actor, "evidence.link", "evidence", evidence.id, None,
                 {"status": link.status_id, "control": link.control_id})
    return link


def evidence_for_status(session: Session, actor: Actor, status_id: str) -> list[Evidence]:
    return list(session.scalars(
        select(Evidence).join(EvidenceLink, EvidenceLink.evidence_id == Evidence.id)
        .where(Evidence.org_id == actor.org_id, EvidenceLink.status_id == status_id)))


# ---- controls -----------------------------------------------------------------------------


def control_view(c: Control) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "description": c.description, "owner": c.owner,
            "requirements": list(c.requirements), "version": c.version}


def _known_requirements(kb: KnowledgeBase, ids: Iterable[str]) -> list[str]:
    out = []
    for i, rid in enumerate(ids):
        if rid not in kb.requirements:
            raise ValidationFailed(f"requirements[{i}]", f"unknown requirement id {rid!r}")
        out.append(rid)
    return list(dict.fromkeys(out))


def add_control(session: Session, actor: Actor, kb: KnowledgeBase, name: str,
                requirements: list[str], description: str = "", owner: str = "") -> Control:
    actor.require("editor")
    _check_control_text(name, description, owner)
    if session.scalar(select(Control.id).where(Control.org_id == actor.org_id,
                                               Control.name == name.strip())):
        raise Conflict(f"a control named {name.strip()!r} already exists", precondition=False)
    control = Control(org_id=actor.org_id, name=name.strip(), description=description,
                      owner=owner, requirements=_known_requirements(kb, requirements))
    session.add(control)
    _flush(session, control)
    audit.record(session, actor, "control.create", "control", control.id, None,
                 control_view(control))
    return control


def _check_control_text(name: str, description: str, owner: str) -> None:
    bounded("name", name, limits.NAME, required=True)
    bounded("description", description, limits.TEXT)
    bounded("owner", owner, limits.NAME)


def get_control(session: Session, actor: Actor, control_ref: str) -> Control:
    return by_id_or_name(session, actor, Control, control_ref, "control")


def update_control(session: Session, actor: Actor, kb: KnowledgeBase, control: Control,
                   changes: dict[str, Any], if_match: int | None) -> Control:
    actor.require("editor")
    check_version(control, if_match)
    before = control_view(control)
    if "requirements" in changes:
        control.requirements = _known_requirements(kb, changes["requirements"])
    _check_control_text(changes.get("name", control.name),
                        changes.get("description", control.description),
                        changes.get("owner", control.owner))
    for key in ("name", "description", "owner"):
        if key in changes:
            setattr(control, key, changes[key])
    _flush(session, control)
    audit.record(session, actor, "control.update", "control", control.id, before,
                 control_view(control))
    return control


def page_controls(session: Session, actor: Actor, limit: int, offset: int,
                  name_contains: str | None = None) -> tuple[list[Control], int]:
    query = select(Control).where(Control.org_id == actor.org_id)
    if name_contains:
        query = query.where(Control.name.ilike(f"%{name_contains}%"))
    return _page(session, query.order_by(Control.name), limit, offset)


def delete_control(session: Session, actor: Actor, control: Control, if_match: int | None) -> None:
    actor.require("editor")
    check_version(control, if_match)
    before = control_view(control)
    session.delete(control)
    _flush(session, control)
    audit.record(session, actor, "control.delete", "control", before["id"], before, None)


def list_statuses(session: Session, actor: Actor, limit: int, offset: int, *,
                  product_id: str | None = None, assessment_id: str | None = None,
                  category: str | None = None, status: str | None = None
                  ) -> tuple[list[RequirementStatus], int]:
    """A page of the statuses of the current assessments, filtered by product, assessment,
    category, status."""
    query = _statuses_query(actor, product_id, assessment_id, category, status)
    return _page(session, query, limit, offset)


def assessment_statuses(session: Session, actor: Actor, assessment_id: str
                        ) -> list[RequirementStatus]:
    """Every status of one assessment, unpaged: one per requirement of its instrument, so the
    knowledge base bounds the count, not the user."""
    return list(session.scalars(_statuses_query(actor, None, assessment_id, None, None)))


def _statuses_query(actor: Actor, product_id: str | None, assessment_id: str | None,
                    category: str | None, status: str | None) -> Select[Any]:
    query = (select(RequirementStatus)
             .join(Assessment, Assessment.id == RequirementStatus.assessment_id)
             .where(RequirementStatus.org_id == actor.org_id))
    if assessment_id:
        query = query.where(RequirementStatus.assessment_id == assessment_id)
    else:
        query = query.where(Assessment.superseded.is_(False))
    if product_id:
        query = query.where(Assessment.product_id == product_id)
    if category:
        query = query.where(RequirementStatus.category == category)
    if status:
        query = query.where(RequirementStatus.status == status)
    order = (Assessment.regulation_id, RequirementStatus.requirement_id, RequirementStatus.id)
    return query.order_by(*order)


def list_evidence(session: Session, actor: Actor, limit: int, offset: int,
                  title_contains: str | None = None) -> tuple[list[Evidence], int]:
    query = select(Evidence).where(Evidence.org_id == actor.org_id)
    if title_contains:
        query = query.where(Evidence.title.ilike(f"%{title_contains}%"))
    return _page(session, query.order_by(Evidence.created_at.desc(), Evidence.id), limit, offset)


def evidence_for_control(session: Session, actor: Actor, control_id: str) -> list[Evidence]:
    return list(session.scalars(
        select(Evidence).join(EvidenceLink, EvidenceLink.evidence_id == Evidence.id)
        .where(Evidence.org_id == actor.org_id, EvidenceLink.control_id == control_id)))


def _page(session: Session, query: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of a query and the total number of rows it matches (at most
    ``core.limits.PAGE_SIZE`` rows: ``check_page``)."""
    check_page(limit, offset)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return list(session.scalars(query.limit(limit).offset(offset))), int(total or 0)


def list_controls(session: Session, actor: Actor) -> list[Control]:
    return list(session.scalars(select(Control).where(Control.org_id == actor.org_id)
                                .order_by(Control.name)))


def products_of(session: Session, actor: Actor, archived: bool = False) -> list[Product]:
    """The organisation's products by name; archived ones only when asked for (the portfolio,
    the org-wide gaps and documents leave them out)."""
    query = select(Product).where(Product.org_id == actor.org_id)
    if not archived:
        query = query.where(Product.archived_at.is_(None))
    return list(session.scalars(query.order_by(Product.name)))
