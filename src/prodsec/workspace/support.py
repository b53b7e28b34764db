"""Support periods of a product's releases checked against CRA Art. 13(8) (the rule itself is
``prodsec.core.support``; add_release and update_release refuse an unjustified short one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from prodsec.core.support import check_support
from prodsec.workspace.context import Actor
from prodsec.workspace.products import get_product


def product_support(session: Session, actor: Actor, product_ref: str) -> dict[str, Any]:
    """Each release: market date, support end, expected use time, justification, verdict."""
    product = get_product(session, actor, product_ref)
    releases = []
    for r in product.releases:
        verdict = check_support(r.placed_on_market, r.support_end, r.expected_use_months,
                                r.support_rationale)
        releases.append({"release_id": r.id, "release": r.version_label,
                         "placed_on_market": _iso(r.placed_on_market),
                         "support_end": _iso(r.support_end),
                         "expected_use_months": r.expected_use_months,
                         "justification": r.support_rationale, "check": verdict.as_dict()})
    return {"product": product.name, "product_id": product.id, "releases": releases}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
