"""Liveness and database reachability, for load balancers: no authentication, no data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from prodsec.api import schemas
from prodsec.api.deps import AppState, app_state

router = APIRouter(tags=["health"])


@router.get("/health", response_model=schemas.Health)
def health(state: Annotated[AppState, Depends(app_state)]) -> schemas.Health:
    state.database.ping()
    return schemas.Health(status="ok", database="ok")
