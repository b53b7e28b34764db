"""Triage decisions as stored: one VEX statement per product (or release) x vulnerability (x
component), the most specific one deciding (``vex_decisions`` reads them). Kept apart from the
exports in ``vex`` so that the findings list (``vulnerabilities``) can read decisions without
importing the exporters, which in turn read findings.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core import limits
from prodsec.db.models import VexStatement, new_id, utcnow
from prodsec.formats.vex import JUSTIFICATIONS, RESPONSES, STATES, SYNONYMS
from prodsec.workspace import audit, proposals
from prodsec.workspace.context import Actor, ValidationFailed, bounded
from prodsec.workspace.products import _flush, check_version, get_product, writable
from prodsec.workspace.products import get_release_by_label as get_release
from prodsec.workspace.vex_decisions import NOT_IN_PRODUCT


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
    """Create or replace the triage decision for a vulnerability in a product. A decision that
    leaves the vulnerability in the product (affected, under investigation) may re-open an
    exploited finding ruled out before: its Article 14 case is proposed now."""
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
    if state not in NOT_IN_PRODUCT:
        proposals.reconsider(session, actor, product.id, vulnerability)
    return row


def statement_view(row: VexStatement) -> dict[str, Any]:
    """The JSON shape of one stored statement."""
    return {"id": row.id, "product_id": row.product_id, "release_id": row.release_key or None,
            "vulnerability": row.vulnerability, "component": row.component_key or None,
            "state": row.state, "justification": row.justification,
            "responses": list(row.responses), "detail": row.detail, "source": row.source,
            "version": row.version}
