"""Triage at scale: one page of a product's findings, filtered and sorted by priority
(``core.triage``), with per-release counts of what is open, exploited and overdue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from prodsec.core import triage
from prodsec.core.knowledge import KnowledgeBase
from prodsec.formats.vex import STATES
from prodsec.workspace import article14, vex_statements, vulnerabilities
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.products import get_product


def triage_findings(session: Session, actor: Actor, kb: KnowledgeBase, product_ref: str,
                    query: triage.FindingQuery, now: dt.datetime | None = None) -> dict[str, Any]:
    """One page of a product's findings for triage (``core.triage.FindingQuery``: filters,
    sort, page), how many matched, and per release the open / exploited / overdue counts over
    all its findings — the same answer for the CLI, the API and the web."""
    rows = vulnerabilities.list_findings(session, actor, product_ref)
    product = get_product(session, actor, product_ref)
    late = [c["vulnerability"] for c in article14.list_cases(session, actor, kb, True, now)
            if c["overdue"] and c["product_id"] == product.id
            and c.get("vulnerability")]
    page, total = triage.select(rows, query)
    return {"findings": page, "total": total, "offset": query.offset, "limit": query.limit,
            "sort": ("-" if query.descending else "") + query.sort, "filters": query.filters(),
            "releases": triage.release_summary(rows, late)}


def parse_query(params: dict[str, str | None]) -> triage.FindingQuery:
    """A findings query from query parameters or options; a bad value names its field."""
    try:
        return triage.parse_query(params, STATES)
    except triage.TriageQueryError as exc:
        raise ValidationFailed(exc.field, exc.detail) from None


def triage_many(session: Session, actor: Actor, product_ref: str, vulnerabilities: list[str],
                state: str, justification: str | None = None, detail: str = "") -> int:
    """One triage decision for a selection of a product's vulnerabilities, in one transaction
    (each statement audited as if set alone). Refused whole when any is invalid."""
    chosen = list(dict.fromkeys(v.strip() for v in vulnerabilities if v and v.strip()))
    if not chosen:
        raise ValidationFailed("vulnerability", "select at least one finding")
    if len(chosen) > triage.MAX_LIMIT:
        raise ValidationFailed("vulnerability", f"at most {triage.MAX_LIMIT} at once")
    for vulnerability in chosen:
        vex_statements.set_statement(session, actor, product_ref, vulnerability, state,
                                     justification=justification, detail=detail)
    return len(chosen)
