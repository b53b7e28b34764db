"""The portfolio and the buyer's comparison."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from prodsec.web.pages.common import (
    current_date,
    obligation_word,
    page_error,
    render,
    signed_in,
    status_of,
    web_state,
)
from prodsec.workspace.context import NotFound, ValidationFailed

router = APIRouter(include_in_schema=False)


@router.get("/portfolio", response_class=HTMLResponse)
def portfolio(request: Request) -> HTMLResponse:
    """A keyset page of the matrix (``?after=`` the last name shown, as the products API);
    the missed and upcoming dates are those of the page's products, and the page says so."""
    from prodsec.workspace import gaps

    actor, csrf = signed_in(request)
    state = web_state(request)
    today = current_date()
    after = request.query_params.get("after") or None
    with state.database.transaction() as session:
        page = gaps.portfolio_page(session, actor, state.kb, today, after, gaps.PORTFOLIO_PAGE)
    instruments = _instruments(state.kb)
    rows = [{"product": r["product"], "cells": {i: r["assessments"].get(i) for i in instruments},
             "met": r["met"], "expiring": r["expiring"]} for r in page["rows"]]
    return render(request, "portfolio.html.j2", {
        "rows": rows, "instruments": instruments, "total": page["total"], "after": after,
        "next_after": page["next_after"], "upcoming": _upcoming(page["rows"], today)[:30],
        "missed": [m for r in page["rows"] for m in r["missed"]]},
        actor=actor, csrf=csrf)


def _upcoming(rows: list[dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    """The obligations of the page's current verdicts that apply after today, soonest first."""
    upcoming = []
    for row in rows:
        product = row["product"]
        for a in row["assessments"].values():
            obligations: list[dict[str, Any]] = a.verdict.get("obligations", [])
            for ob in obligations:
                if ob["applies_from"] > today.isoformat():
                    upcoming.append({"date": ob["applies_from"], "product": product.name,
                                     "product_id": product.id, "regulation": a.regulation_id,
                                     "title": f"{obligation_word(ob)}: {ob['title']}"})
    upcoming.sort(key=lambda u: (u["date"], u["product"]))
    return upcoming


def _instruments(kb: Any) -> list[str]:
    return [r["id"] for r in kb.product_regulations]


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request) -> HTMLResponse:
    """Products side by side (``?product=ID&product=ID``): what each promises and proves."""
    from prodsec.documents import comparison

    actor, csrf = signed_in(request)
    state = web_state(request)
    refs = request.query_params.getlist("product")
    with state.database.transaction() as session:
        try:
            data = comparison.compare(session, actor, state.kb, refs, current_date())
        except NotFound as exc:
            raise page_error(exc) from None
        except ValidationFailed as exc:
            return render(request, "compare.html.j2", {"data": None, "error": exc.detail},
                          status_of(exc), actor, csrf)
    return render(request, "compare.html.j2", {"data": data, "error": None,
                                                "query": request.url.query}, actor=actor, csrf=csrf)

