"""``check`` over HTTP: a profile in, the verdicts of every instrument out (nothing stored)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from prodsec.api import schemas
from prodsec.api.deps import UnitDep
from prodsec.core.applicability import Engine
from prodsec.core.profile import ProfileError, parse_profile
from prodsec.workspace.context import ValidationFailed

router = APIRouter(tags=["check"])


@router.post("/check", response_model=schemas.CheckResult)
def check(work: UnitDep, body: schemas.CheckIn) -> schemas.CheckResult:
    """Which regimes apply to this product, when, how strictly, and why (read-only)."""
    try:
        profile = parse_profile(body.profile, work.kb.vocabulary, "profile")
    except ProfileError as exc:
        first = exc.problems[0]
        raise ValidationFailed(f"profile.{first.field}",
                               "; ".join(map(str, exc.problems))) from exc
    result = Engine(work.kb).check(profile, body.as_of or dt.date.today())
    return schemas.CheckResult.model_validate(result.to_dict())
