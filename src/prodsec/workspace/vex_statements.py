"""Triage decisions as stored: one VEX statement per product (or release) x vulnerability (x
component), the most specific one deciding. Kept apart from the exports in ``vex`` so that the
findings list (``vulnerabilities``) can read decisions without importing the exporters, which
in turn read findings.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core import limits
from prodsec.db.models import VexStatement, new_id, utcnow
from prodsec.formats.vex import JUSTIFICATIONS, RESPONSES, STATES, SYNONYMS
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, ValidationFailed, bounded
from prodsec.workspace.products import _flush, check_version, get_product, writable
from prodsec.workspace.products import get_release_by_label as get_release


def normalise_state(value: str) -> str:
    """A CycloneDX state from it or an OpenVEX/CSAF synonym; refuse anything else."""
    state = SYNONYMS.get(value.replace("-", "_"), value.replace("-", "_"))
    if state not in STATES:
        raise ValidationFailed("state", f"{value!r}: expected one of {', '.join(STATES)} "
                               f"(or {', '.join(SYNONYMS)})")
    return state


def validate_decision(state: str, justification: str | None, responses: list[str],
                      detail: str) -> None:
    if justification is not None and justification not in JUSTIFICATIONS:
        raise ValidationFailed("justification", f"{justification!r}: expected one of "
                               f"{', '.join(JUSTIFICATIONS)}")
    if state == "not_affected" and not (justification or detail.strip()):
        raise ValidationFailed("justification", "not_affected needs a justification or a detail "
                               "(why the product is not affected)")
    bounded("detail", detail, limits.TEXT)
    for response in responses:
        if response not in RESPONSES:
            raise ValidationFailed("response", f"{response!r}: expected one of {', '.join(RESPONSES)}")


def set_statement(session: Session, actor: Actor, product_ref: str, vulnerability: str,
                  state: str, *, justification: str | None = None,
                  responses: list[str] | None = None, detail: str = "",
                  release_label: str | None = None, component: str | None = None,
                  source: str = "manual", if_match: int | None = None) -> VexStatement:
    """Create or replace the triage decision for a vulnerability in a product."""
    actor.require("editor")
    product = writable(get_product(session, actor, product_ref))
    state = normalise_state(state)
    bounded("vulnerability", vulnerability, limits.VULNERABILITY_ID, required=True)
    responses = list(responses or [])
    validate_decision(state, justification, responses, detail)
    release_key = get_release(session, actor, product.id, release_label).id if release_label else ""
    row = session.scalar(select(VexStatement).where(
        VexStatement.org_id == actor.org_id, VexStatement.product_id == product.id,
        VexStatement.release_key == release_key, VexStatement.vulnerability == vulnerability,
        VexStatement.component_key == (component or "")))
    before = statement_view(row) if row else None
    if row is None:
        row = VexStatement(id=new_id(), org_id=actor.org_id, product_id=product.id,
                           release_key=release_key, vulnerability=vulnerability,
                           component_key=component or "")
        session.add(row)
    else:
        check_version(row, if_match)
    row.state, row.justification, row.responses = state, justification, responses
    row.detail, row.source, row.updated_at = detail, source[:300], utcnow()
    _flush(session, row)
    audit.record(session, actor, "vex.set", "vex-statement", row.id, before, statement_view(row))
    return row


def statement_view(row: VexStatement) -> dict[str, Any]:
    """The JSON shape of one stored statement."""
    return {"id": row.id, "product_id": row.product_id, "release_id": row.release_key or None,
            "vulnerability": row.vulnerability, "component": row.component_key or None,
            "state": row.state, "justification": row.justification,
            "responses": list(row.responses), "detail": row.detail, "source": row.source,
            "version": row.version}


def statements_for(session: Session, actor: Actor, product_id: str) -> list[VexStatement]:
    """Every statement on a product, organisation-scoped."""
    return list(session.scalars(select(VexStatement).where(
        VexStatement.org_id == actor.org_id, VexStatement.product_id == product_id)))


def imported(row: VexStatement) -> bool:
    """Whether the statement came from a supplier's VEX (``import:<file>``), not from us."""
    return row.source.startswith("import:")


def _applies(row: VexStatement, release_id: str, names: set[str], purl: str) -> bool:
    return (row.vulnerability in names and row.release_key in ("", release_id)
            and row.component_key in ("", purl))


def effective(statements: list[VexStatement], release_id: str, names: set[str],
              purl: str) -> VexStatement | None:
    """The statement that decides: any of ours (``manual``) over any imported one, then the
    most specific (this release over all releases, this component over all components); the
    vulnerability may be named by any alias.

    Ours first because an imported statement is a third party's unauthenticated claim: ranking
    it by specificity alone let a supplier's component-level ``not_affected`` silently override
    our product-wide ``exploitable`` — and be re-exported under our name. A supplier statement
    decides only where we have decided nothing; where it disagrees with us it is a conflict
    (``conflicts``), shown next to the finding."""
    best: tuple[int, VexStatement] | None = None
    for row in statements:
        if not _applies(row, release_id, names, purl):
            continue
        rank = (0 if imported(row) else 4) + (2 if row.release_key else 0) + \
            (1 if row.component_key else 0)
        if best is None or rank > best[0]:
            best = (rank, row)
    return best[1] if best else None


def disagrees(a: VexStatement, b: VexStatement) -> bool:
    """Two decisions say different things (state or justification)."""
    return (a.state, a.justification) != (b.state, b.justification)


def conflicts(statements: list[VexStatement], release_id: str, names: set[str], purl: str,
              decision: VexStatement | None) -> list[dict[str, Any]]:
    """Imported statements that apply here but were overruled by our own decision and say
    something else: kept (so a reviewer can adopt one with ``vex set``) but never exported."""
    if decision is None or imported(decision):
        return []
    return [conflict_view(row) for row in statements
            if imported(row) and _applies(row, release_id, names, purl)
            and disagrees(row, decision)]


def conflict_view(row: VexStatement) -> dict[str, Any]:
    """The JSON shape of one overruled supplier statement."""
    return {"source": row.source.removeprefix("import:"), "state": row.state,
            "justification": row.justification, "detail": row.detail,
            "component": row.component_key or None, "release_id": row.release_key or None}
