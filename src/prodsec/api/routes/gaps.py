"""Gap analysis: per product, and across the portfolio ("comply once")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from prodsec.api import schemas
from prodsec.api.deps import UnitDep
from prodsec.core.limits import EXPIRING_DAYS
from prodsec.workspace import gaps

router = APIRouter(tags=["gaps"])
AsOf = Annotated[dt.date | None, Query(description="Default: today.")]
Expiring = Annotated[int, Query(ge=0, le=EXPIRING_DAYS, description="Evidence expiring within N days.")]


@router.get("/products/{product_id}/gaps", response_model=schemas.ProductGaps)
def product_gaps(work: UnitDep, product_id: str, as_of: AsOf = None,
                 expiring_days: Expiring = 30) -> schemas.ProductGaps:
    data = gaps.product_gaps(work.session, work.actor, work.kb, product_id,
                             as_of or dt.date.today(), expiring_days)
    return schemas.ProductGaps.model_validate(data)


@router.get("/gaps", response_model=schemas.PortfolioGaps)
def portfolio_gaps(work: UnitDep, as_of: AsOf = None,
                   expiring_days: Expiring = 30) -> schemas.PortfolioGaps:
    data = gaps.portfolio_gaps(work.session, work.actor, work.kb, as_of or dt.date.today(),
                               expiring_days)
    return schemas.PortfolioGaps.model_validate(data)
