"""The portfolio and the buyer's comparison."""

from __future__ import annotations

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
    from prodsec.workspace import compliance, gaps, products

    actor, csrf = signed_in(request)
    state = web_state(request)
    today = current_date()
    rows, upcoming, missed = [], [], []
    with state.database.transaction() as session:
        for product in compliance.products_of(session, actor):
            current = {a.regulation_id: a for a in products.current_assessments(session, actor, product.id)}
            summary = gaps.product_gaps(session, actor, state.kb, product.id, today)
            met = {i["regulation"]: i["percent_met"] for i in summary["instruments"]}
            missed += gaps.dated(summary)["missed"]
            rows.append({"product": product, "cells": {r: current.get(r) for r in _instruments(state.kb)},
                         "met": met, "expiring": summary["expiring_evidence"]})
            for a in current.values():
                obligations: list[dict[str, Any]] = a.verdict.get("obligations", [])  # type: ignore[assignment]
                for ob in obligations:
                    if ob["applies_from"] > today.isoformat():
                        upcoming.append({"date": ob["applies_from"], "product": product.name,
                                         "product_id": product.id, "regulation": a.regulation_id,
                                         "title": f"{obligation_word(ob)}: {ob['title']}"})
    upcoming.sort(key=lambda u: (u["date"], u["product"]))
    return render(request, "portfolio.html.j2", {
        "rows": rows, "instruments": _instruments(state.kb), "upcoming": upcoming[:30],
        "missed": missed},
        actor=actor, csrf=csrf)


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

