"""Requirement statuses: where a product stands on each requirement; editable with If-Match."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Response

from prodsec.api import schemas
from prodsec.api.deps import IfMatch, PagingDep, UnitDep, Writer, set_etag
from prodsec.workspace import compliance, products

if TYPE_CHECKING:
    from prodsec.db.models import RequirementStatus

router = APIRouter(prefix="/statuses", tags=["requirement statuses"])
Filter = Annotated[str | None, Query(max_length=128)]


def _out(status: RequirementStatus, response: Response | None = None) -> schemas.RequirementStatus:
    if response is not None:
        set_etag(response, status.version)
    return schemas.RequirementStatus.model_validate(products.status_view(status))


@router.get("", response_model=schemas.Page[schemas.RequirementStatus])
def list_statuses(work: UnitDep, page: PagingDep, product_id: Filter = None,
                  assessment_id: Filter = None, category: Filter = None,
                  status: Annotated[schemas.StatusName | None, Query()] = None
                  ) -> schemas.Page[schemas.RequirementStatus]:
    """Statuses in the current assessments (or one assessment), filtered."""
    if product_id:
        product_id = products.get_product(work.session, work.actor, product_id).id
    rows, total = compliance.list_statuses(
        work.session, work.actor, page.limit, page.offset, product_id=product_id,
        assessment_id=assessment_id, category=category, status=status)
    return schemas.Page[schemas.RequirementStatus](
        items=[_out(s) for s in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{status_id}", response_model=schemas.RequirementStatus)
def get_status(work: UnitDep, status_id: str, response: Response) -> schemas.RequirementStatus:
    return _out(compliance.get_status(work.session, work.actor, status_id), response)


@router.patch("/{status_id}", response_model=schemas.RequirementStatus)
def set_status(work: Writer, status_id: str, version: IfMatch, body: schemas.StatusPatch,
               response: Response) -> schemas.RequirementStatus:
    """Set the status; not-applicable needs a justification (EN 303 645 provision 4-1)."""
    row = compliance.get_status(work.session, work.actor, status_id)
    row = compliance.set_status(work.session, work.actor, row, body.status, body.justification,
                                version)
    return _out(row, response)


@router.get("/{status_id}/evidence", response_model=list[schemas.Evidence])
def status_evidence(work: UnitDep, status_id: str) -> list[schemas.Evidence]:
    row = compliance.get_status(work.session, work.actor, status_id)
    return [schemas.Evidence.model_validate(compliance.evidence_view(e))
            for e in compliance.evidence_for_status(work.session, work.actor, row.id)]


@router.post("/{status_id}/evidence", status_code=201, response_model=schemas.Evidence)
def link_status_evidence(work: Writer, status_id: str, body: schemas.EvidenceLinkIn
                         ) -> schemas.Evidence:
    row = compliance.get_status(work.session, work.actor, status_id)
    evidence = compliance.get_evidence(work.session, work.actor, body.evidence_id)
    compliance.link_evidence(work.session, work.actor, evidence, status=row)
    return schemas.Evidence.model_validate(compliance.evidence_view(evidence))
