"""The organisation's audit trail and its hash-chain verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from prodsec.api import schemas
from prodsec.api.deps import PagingDep, UnitDep
from prodsec.workspace import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/events", response_model=schemas.Page[schemas.AuditEvent])
def history(work: UnitDep, page: PagingDep,
            entity_id: Annotated[str | None, Query(max_length=64)] = None
            ) -> schemas.Page[schemas.AuditEvent]:
    """Newest first; ``entity_id`` narrows it to one object's history."""
    rows = audit.history(work.session, work.actor, entity_id, page.limit, page.offset)
    total = audit.count(work.session, work.actor.org_id, entity_id)
    return schemas.Page[schemas.AuditEvent](
        items=[schemas.AuditEvent.model_validate(r) for r in rows], total=total,
        limit=page.limit, offset=page.offset)


@router.get("/verify", response_model=schemas.ChainReport)
def verify(work: UnitDep) -> schemas.ChainReport:
    """Recompute the hash chain; ``ok`` is false and ``problems`` name the edits if tampered.
    A verification less than a minute old is answered again (it costs seconds on a long
    chain, and any member may ask): ``prodsec audit verify`` always recomputes."""
    report, _age = audit.verify_shared(work.session, work.actor.org_id)
    return schemas.ChainReport.model_validate(report.to_dict())
