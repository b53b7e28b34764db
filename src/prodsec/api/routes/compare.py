"""Products side by side: what each promises and proves (read-only; viewers may call it)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from prodsec.api import schemas
from prodsec.api.deps import UnitDep
from prodsec.documents import comparison

router = APIRouter(tags=["compare"])
Products = Annotated[list[str], Query(
    alias="product", description="A product id or name; give it two to "
    f"{comparison.MAX_PRODUCTS} times.")]
AsOf = Annotated[dt.date | None, Query(description="Default: today.")]


@router.get("/compare", response_model=schemas.Comparison)
def compare(work: UnitDep, product: Products = [], as_of: AsOf = None  # noqa: B006 (FastAPI reads the default)
            ) -> schemas.Comparison:
    """The products side by side, one column each; 422 for fewer than two, 404 for an
    unknown product (or another organisation's)."""
    data = comparison.compare(work.session, work.actor, work.kb, product,
                              as_of or dt.date.today())
    return schemas.Comparison.model_validate(data)
