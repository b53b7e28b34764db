"""Releases of a product: version, date placed on the market, end of support."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Response

from prodsec.api import schemas
from prodsec.api.deps import IfMatch, UnitDep, Writer, set_etag
from prodsec.workspace import products

if TYPE_CHECKING:
    from prodsec.db.models import Release

router = APIRouter(tags=["releases"])


def _out(release: Release, response: Response | None = None) -> schemas.Release:
    if response is not None:
        set_etag(response, release.version)
    return schemas.Release.model_validate(products.release_view(release))


@router.get("/products/{product_id}/releases", response_model=list[schemas.Release])
def list_releases(work: UnitDep, product_id: str) -> list[schemas.Release]:
    product = products.get_product(work.session, work.actor, product_id)
    return [_out(r) for r in product.releases]


@router.post("/products/{product_id}/releases", status_code=201, response_model=schemas.Release)
def create_release(work: Writer, product_id: str, body: schemas.ReleaseIn,
                   response: Response) -> schemas.Release:
    release = products.add_release(work.session, work.actor, product_id, body.version_label,
                                   body.placed_on_market, body.support_end, body.support_rationale,
                                   body.expected_use_months)
    return _out(release, response)


@router.get("/releases/{release_id}", response_model=schemas.Release)
def get_release(work: UnitDep, release_id: str, response: Response) -> schemas.Release:
    return _out(products.get_release(work.session, work.actor, release_id), response)


@router.patch("/releases/{release_id}", response_model=schemas.Release)
def update_release(work: Writer, release_id: str, version: IfMatch, body: schemas.ReleasePatch,
                   response: Response) -> schemas.Release:
    release = products.get_release(work.session, work.actor, release_id)
    changes = body.model_dump(exclude_unset=True)
    return _out(products.update_release(work.session, work.actor, release, changes, version),
                response)


@router.delete("/releases/{release_id}", status_code=204, response_class=Response)
def delete_release(work: Writer, release_id: str, version: IfMatch) -> Response:
    release = products.get_release(work.session, work.actor, release_id)
    products.delete_release(work.session, work.actor, release, version)
    return Response(status_code=204)
