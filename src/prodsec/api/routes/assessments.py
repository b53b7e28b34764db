"""Assessments: product × instrument verdicts as of a date, derived from ``check``."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from prodsec.api import schemas
from prodsec.api.deps import UnitDep, Writer
from prodsec.workspace import compliance, products

router = APIRouter(tags=["assessments"])


@router.post("/products/{product_id}/assessments", status_code=201,
             response_model=list[schemas.Assessment])
def assess(work: Writer, product_id: str, body: schemas.AssessIn) -> list[schemas.Assessment]:
    """Assess against every instrument; statuses carry over, earlier results are kept."""
    created = products.assess(work.session, work.actor, work.kb, product_id,
                              body.as_of or dt.date.today())
    return [schemas.Assessment.model_validate(products.assessment_view(a)) for a in created]


@router.get("/products/{product_id}/assessments", response_model=list[schemas.Assessment])
def current_assessments(work: UnitDep, product_id: str) -> list[schemas.Assessment]:
    product = products.get_product(work.session, work.actor, product_id)
    return [schemas.Assessment.model_validate(products.assessment_view(a))
            for a in products.current_assessments(work.session, work.actor, product.id)]


@router.get("/assessments/{assessment_id}", response_model=schemas.Assessment)
def get_assessment(work: UnitDep, assessment_id: str) -> schemas.Assessment:
    """One assessment with the status of each of its requirements."""
    found = products.get_assessment(work.session, work.actor, assessment_id)
    statuses = compliance.assessment_statuses(work.session, work.actor, found.id)
    return schemas.Assessment.model_validate(products.assessment_view(found, statuses))
