"""Products: a v1 profile each; editable with If-Match, archived and restored, deleted."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Response

from prodsec.api import schemas
from prodsec.api.deps import IfMatch, PagingDep, UnitDep, Writer, set_etag
from prodsec.workspace import products

if TYPE_CHECKING:
    from prodsec.db.models import Product

router = APIRouter(prefix="/products", tags=["products"])


def _out(product: Product, response: Response | None = None) -> schemas.Product:
    if response is not None:
        set_etag(response, product.version)
    return schemas.Product.model_validate(products.product_view(product))


@router.get("", response_model=schemas.ProductPage)
def list_products(work: UnitDep, page: PagingDep,
                  name: Annotated[str | None, Query(max_length=200,
                                                    description="Name contains this.")] = None,
                  after: Annotated[str | None, Query(
                      max_length=200, description="Keyset cursor: the `next_after` of the "
                      "previous page. Each page then costs the same at any depth, where an "
                      "offset reads every earlier product.")] = None,
                  ) -> schemas.ProductPage:
    rows, total = products.list_products(work.session, work.actor, page.limit, page.offset, name,
                                         after)
    items = [_out(p) for p in rows]
    return schemas.ProductPage(items=items, total=total, limit=page.limit, offset=page.offset,
                               next_after=items[-1].name if len(items) == page.limit else None)


@router.post("", status_code=201, response_model=schemas.Product)
def create_product(work: Writer, body: schemas.ProductIn, response: Response) -> schemas.Product:
    product = products.add_product(work.session, work.actor, work.kb, body.profile)
    response.headers["Location"] = f"/api/v1/products/{product.id}"
    return _out(product, response)


@router.get("/{product_id}", response_model=schemas.Product)
def get_product(work: UnitDep, product_id: str, response: Response) -> schemas.Product:
    return _out(products.get_product(work.session, work.actor, product_id), response)


@router.put("/{product_id}", response_model=schemas.Product)
def replace_profile(work: Writer, product_id: str, version: IfMatch, body: schemas.ProductIn,
                    response: Response) -> schemas.Product:
    """Replace the profile; current assessments become stale (re-assess to refresh them)."""
    product = products.update_profile(work.session, work.actor, work.kb, product_id,
                                      body.profile, version)
    return _out(product, response)


@router.delete("/{product_id}", status_code=204, response_class=Response)
def delete_product(work: Writer, product_id: str, version: IfMatch) -> Response:
    products.delete_product(work.session, work.actor, product_id, version)
    return Response(status_code=204)


@router.post("/{product_id}/profile-diff", response_model=dict[str, Any])
def profile_diff(work: UnitDep, product_id: str, body: schemas.ProductIn) -> dict[str, Any]:
    """What replacing the profile would change in the verdicts today, instrument by
    instrument (from → to); stores nothing. ``version`` is the If-Match for the PUT."""
    return products.profile_changes(work.session, work.actor, work.kb, product_id, body.profile,
                                    dt.date.today())


@router.post("/{product_id}/archive", response_model=schemas.Product)
def archive_product(work: Writer, product_id: str, version: IfMatch,
                    response: Response) -> schemas.Product:
    """Archive: hidden from the portfolio and read-only until restored; nothing is deleted."""
    return _out(products.set_archived(work.session, work.actor, product_id, True, version),
                response)


@router.post("/{product_id}/restore", response_model=schemas.Product)
def restore_product(work: Writer, product_id: str, version: IfMatch,
                    response: Response) -> schemas.Product:
    return _out(products.set_archived(work.session, work.actor, product_id, False, version),
                response)


@router.get("/{product_id}/deletion", response_model=dict[str, Any])
def deletion_effects(work: UnitDep, product_id: str) -> dict[str, Any]:
    """What a DELETE would remove and what stays for the audit trail, and why it is refused
    (``blocked``) if it would be."""
    return products.deletion_effects(work.session, work.actor, product_id)
