"""The knowledge base: instruments, requirements, cross-regime mappings, standards.

The same queries as ``prodsec regulations|regulation|requirements|mappings|standards --format
json``; any signed-in user may read them (they hold no organisation data).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from prodsec.api import schemas
from prodsec.api.deps import UnitDep
from prodsec.core.limits import MAPPING_DEPTH
from prodsec.services import knowledge

router = APIRouter(tags=["knowledge"])


@router.get("/regulations", response_model=list[schemas.RegulationSummary])
def regulations(work: UnitDep) -> list[schemas.RegulationSummary]:
    return [schemas.RegulationSummary.model_validate(r) for r in knowledge.regulations(work.kb)]


@router.get("/regulations/{regulation_id}", response_model=schemas.Regulation)
def regulation(work: UnitDep, regulation_id: str) -> schemas.Regulation:
    return schemas.Regulation.model_validate(knowledge.regulation(work.kb, regulation_id))


@router.get("/requirements", response_model=schemas.Page[schemas.Requirement])
def requirements(work: UnitDep, limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                 offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                 regulation: Annotated[str | None, Query(max_length=64)] = None,
                 category: Annotated[str | None, Query(max_length=32)] = None
                 ) -> schemas.Page[schemas.Requirement]:
    """Requirements of one instrument or standard (or all), optionally of one category."""
    rows = knowledge.requirements(work.kb, regulation, category)
    return schemas.Page[schemas.Requirement](
        items=[schemas.Requirement.model_validate(r) for r in rows[offset:offset + limit]],
        total=len(rows), limit=limit, offset=offset)


@router.get("/requirements/{requirement_id}/mappings", response_model=schemas.Mappings)
def mappings(work: UnitDep, requirement_id: str,
             depth: Annotated[int, Query(ge=1, le=MAPPING_DEPTH)] = 2) -> schemas.Mappings:
    """What else this requirement satisfies, across regimes ("comply once")."""
    return schemas.Mappings.model_validate(knowledge.mappings(work.kb, requirement_id, depth))


@router.get("/standards", response_model=list[schemas.Standard])
def standards(work: UnitDep) -> list[schemas.Standard]:
    return [schemas.Standard.model_validate(s) for s in knowledge.standards(work.kb)]


@router.get("/knowledge/changes", response_model=schemas.KnowledgeChanges)
def changes(work: UnitDep, since: Annotated[dt.date | None, Query(
                description="Only changes of the law taking effect on or after this date.")] = None,
            recorded_since: Annotated[dt.date | None, Query(
                description="Only changes recorded in the knowledge base on or after this date.")
            ] = None) -> schemas.KnowledgeChanges:
    """The knowledge change log (``prodsec knowledge changes``): what changed in the law, from
    when, and which instruments and profile facts it touches; with the law-as-of date."""
    data = knowledge.changes(work.kb, since.isoformat() if since else None,
                             recorded_since.isoformat() if recorded_since else None)
    return schemas.KnowledgeChanges.model_validate(data)
