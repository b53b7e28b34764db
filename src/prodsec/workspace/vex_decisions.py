"""Triage decisions as read: which stored VEX statement decides for a finding (``effective``),
the supplier statements we overruled (``conflicts``), and which states say the product does
not contain the vulnerability (``NOT_IN_PRODUCT``).

Apart from ``vex_statements`` (the writes) because the proposals of Article 14 cases read
decisions, and a changed decision looks for proposals: one module would close that circle.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import VexStatement
from prodsec.workspace.context import Actor

#: The states in which the manufacturer has assessed that a release does not contain the
#: vulnerability (CycloneDX ``not_affected``, ``false_positive``; fixed: ``resolved``,
#: ``resolved_with_pedigree``). A finding in one of them is not an exploited vulnerability
#: *contained in* the product (CRA Art. 14(1)): no Article 14 case is proposed for it.
NOT_IN_PRODUCT = frozenset({"not_affected", "false_positive", "resolved",
                            "resolved_with_pedigree"})


def statements_for(session: Session, actor: Actor, product_id: str) -> list[VexStatement]:
    """Every statement on a product, organisation-scoped."""
    return list(session.scalars(select(VexStatement).where(
        VexStatement.org_id == actor.org_id, VexStatement.product_id == product_id)))


def imported(row: VexStatement) -> bool:
    """Whether the statement came from a supplier's VEX (``import:<file>``), not from us."""
    return row.source.startswith("import:")


def applies(row: VexStatement, release_id: str, names: set[str], purl: str) -> bool:
    """Whether a statement speaks of this finding: its vulnerability by any of its names, in
    this release (or all) and for this component (or all)."""
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
        if not applies(row, release_id, names, purl):
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
            if imported(row) and applies(row, release_id, names, purl)
            and disagrees(row, decision)]


def conflict_view(row: VexStatement) -> dict[str, Any]:
    """The JSON shape of one overruled supplier statement."""
    return {"source": row.source.removeprefix("import:"), "state": row.state,
            "justification": row.justification, "detail": row.detail,
            "component": row.component_key or None, "release_id": row.release_key or None}
