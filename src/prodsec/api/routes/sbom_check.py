"""``POST /api/v1/sbom/bsi``: the BSI TR-03183-2 v2.1.0 report of an SBOM sent as the body.

Nothing is stored: a supplier's SBOM can be checked before it is imported. Any member of the
organisation may check (authenticated before the body is read, like an import); the body is
bounded by the file limit while it streams in. The same service as ``prodsec sbom quality
--bsi`` (``workspace.sbom_bsi``).
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request

from prodsec.api.deps import StateDep, authorised
from prodsec.api.routes.vulnerabilities import SBOM_BODY, _body
from prodsec.workspace.context import Actor

router = APIRouter(tags=["vulnerabilities"])


async def _member(request: Request, state: StateDep) -> Actor:
    return await authorised(request, state, "viewer")


@router.post("/sbom/bsi", openapi_extra=SBOM_BODY)
async def bsi_check(actor: Annotated[Actor, Depends(_member)], request: Request,
                    filename: str = Query(default="sbom.json", max_length=300)) -> dict[str, Any]:
    """Every data field of TR-03183-2 v2.1.0, per component, with its clause; ``conforms`` and
    ``summary`` give the verdict, ``evidence`` what it is evidence for (CRA Annex I Part II (1))."""
    from prodsec.workspace.sbom_bsi import sbom_bsi

    data = await _body(request, "sbom")
    report: dict[str, Any] = await to_thread.run_sync(sbom_bsi, data, filename)
    return report


__all__ = ["router"]
