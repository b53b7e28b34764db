"""Controls: measures that satisfy requirements across regimes; editable with If-Match."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Response

from prodsec.api import schemas
from prodsec.api.deps import IfMatch, PagingDep, UnitDep, Writer, set_etag
from prodsec.workspace import compliance
from prodsec.workspace.context import NotFound

if TYPE_CHECKING:
    from prodsec.db.models import Control

router = APIRouter(prefix="/controls", tags=["controls"])


def _out(control: Control, response: Response | None = None) -> schemas.Control:
    if response is not None:
        set_etag(response, control.version)
    return schemas.Control.model_validate(compliance.control_view(control))


def _control(work: UnitDep, control_id: str) -> Control:
    """By id only: a name in the path could be mistaken for another control's id."""
    control = compliance.get_control(work.session, work.actor, control_id)
    if control.id != control_id:
        raise NotFound(f"no control {control_id!r}")
    return control


@router.get("", response_model=schemas.Page[schemas.Control])
def list_controls(work: UnitDep, page: PagingDep,
                  name: Annotated[str | None, Query(max_length=200)] = None
                  ) -> schemas.Page[schemas.Control]:
    rows, total = compliance.page_controls(work.session, work.actor, page.limit, page.offset, name)
    return schemas.Page[schemas.Control](items=[_out(c) for c in rows], total=total,
                                         limit=page.limit, offset=page.offset)


@router.post("", status_code=201, response_model=schemas.Control)
def create_control(work: Writer, body: schemas.ControlIn, response: Response) -> schemas.Control:
    control = compliance.add_control(work.session, work.actor, work.kb, body.name,
                                     body.requirements, body.description, body.owner)
    return _out(control, response)


@router.get("/{control_id}", response_model=schemas.Control)
def get_control(work: UnitDep, control_id: str, response: Response) -> schemas.Control:
    return _out(_control(work, control_id), response)


@router.patch("/{control_id}", response_model=schemas.Control)
def update_control(work: Writer, control_id: str, version: IfMatch, body: schemas.ControlPatch,
                   response: Response) -> schemas.Control:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    control = compliance.update_control(work.session, work.actor, work.kb,
                                        _control(work, control_id), changes, version)
    return _out(control, response)


@router.delete("/{control_id}", status_code=204, response_class=Response)
def delete_control(work: Writer, control_id: str, version: IfMatch) -> Response:
    compliance.delete_control(work.session, work.actor, _control(work, control_id), version)
    return Response(status_code=204)


@router.get("/{control_id}/evidence", response_model=list[schemas.Evidence])
def control_evidence(work: UnitDep, control_id: str) -> list[schemas.Evidence]:
    control = _control(work, control_id)
    return [schemas.Evidence.model_validate(compliance.evidence_view(e))
            for e in compliance.evidence_for_control(work.session, work.actor, control.id)]


@router.post("/{control_id}/evidence", status_code=201, response_model=schemas.Evidence)
def link_control_evidence(work: Writer, control_id: str, body: schemas.EvidenceLinkIn
                          ) -> schemas.Evidence:
    control = _control(work, control_id)
    evidence = compliance.get_evidence(work.session, work.actor, body.evidence_id)
    compliance.link_evidence(work.session, work.actor, evidence, control=control)
    return schemas.Evidence.model_validate(compliance.evidence_view(evidence))
