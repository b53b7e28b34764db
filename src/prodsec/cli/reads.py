"""The workspace commands that read: ``product list`` and ``gaps``. Their parameters are defined
in ``prodsec.cli.spec``; the fast path and the Typer commands both call these functions, which
import the workspace services and the standard-library views, not Typer, Rich or pydantic.
"""

from __future__ import annotations

from prodsec.cli import views
from prodsec.cli.changes import knowledge, parse_date, workspace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any


def product_list(org: str, db: str | None, fmt: str) -> None:
    """``prodsec product list``: the organisation's products."""
    from prodsec.core.limits import PAGE_SIZE
    from prodsec.workspace.products import list_products, product_view

    with workspace(db, org) as (_, session, actor):
        rows: list[Any] = []
        while True:  # every product, a page at a time (the service's PAGE_SIZE bound)
            page, total = list_products(session, actor, limit=PAGE_SIZE,
                                        after=rows[-1].name if rows else None)
            rows += page
            if len(page) < PAGE_SIZE:
                break
        data = {"total": total, "items": [product_view(p) for p in rows]}
    views.emit(data, fmt, _products_view)


def _products_view(data: dict[str, Any]) -> list[views.Section]:
    return [views.Section(
        f"Products ({data['total']})", ["name", "id", "markets", "releases"],
        [[p["name"], p["id"], ", ".join(p["profile"]["markets"]), str(len(p["releases"]))]
         for p in data["items"]])]


def gaps(product: str | None, as_of: str | None, expiring_days: int, org: str, db: str | None,
         fmt: str) -> None:
    """``prodsec gaps``: one product's gap analysis, or the whole portfolio's."""
    import datetime as dt

    from prodsec.workspace import gaps as analysis

    day = parse_date(as_of, "--as-of") or dt.date.today()
    with workspace(db, org) as (_, session, actor):
        if product:
            data = analysis.product_gaps(session, actor, knowledge(), product, day, expiring_days)
        else:
            data = analysis.portfolio_gaps(session, actor, knowledge(), day, expiring_days)
    views.emit(data, fmt, views.product_gaps_view if product else views.portfolio_gaps_view)
