"""Confirming the unverified facts an issued document rests on.

The knowledge base marks a fact ``verified: false`` when nobody could check it against the
primary text (e.g. the wording of the EN 18031 restrictions in Implementing Decision (EU)
2025/138). A draft shows such facts marked; an issued document is refused until a person in
the organisation confirms each one, with a reason, the same way missing information stops it.
A confirmation is stored (one row per fact and organisation) and audited; its key hashes the
fact's citation, so when the knowledge base changes the fact the old confirmation stops
counting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.models import FactAcknowledgement
from prodsec.documents.facts import Unverified
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, ValidationFailed


def pending(session: Session, actor: Actor, kind_name: str, product_ref: str | None,
            release: str | None = None, *, today: dt.date | None = None,
            kb: KnowledgeBase | None = None) -> list[Unverified]:
    """The unverified facts the document would rest on that nobody has confirmed yet."""
    from prodsec.documents.gather import gather
    from prodsec.documents.render import collect, kind, unconfirmed
    from prodsec.services.knowledge import knowledge_base

    kb = kb or knowledge_base()
    k = kind(kind_name)
    inputs = gather(session, actor, kb, product_ref if k.needs_product else None, release,
                    today or dt.date.today())
    _context, facts = collect(kind_name, kb, inputs, draft=True)
    return unconfirmed(facts.unverified, inputs.acknowledged)


def acknowledge(session: Session, actor: Actor, kind_name: str, product_ref: str | None,
                keys: list[str], reason: str, release: str | None = None, *,
                today: dt.date | None = None, kb: KnowledgeBase | None = None,
                ) -> list[dict[str, Any]]:
    """Record that ``actor`` confirmed each fact (by key, or every pending one with ``all``)
    of the named document. Keys the document does not rest on are refused, nothing written."""
    actor.require("editor")
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed("reason", "say how the fact was checked or why it is accepted")
    if len(reason) > 2000:
        raise ValidationFailed("reason", "at most 2000 characters")
    if not keys:
        raise ValidationFailed("facts", "choose at least one fact to confirm (or 'all')")
    waiting = {f.key: f for f in pending(session, actor, kind_name, product_ref, release,
                                         today=today, kb=kb)}
    wanted = list(waiting) if keys == ["all"] else list(dict.fromkeys(keys))
    unknown = [k for k in wanted if k not in waiting]
    if unknown:
        raise ValidationFailed("facts", f"{', '.join(unknown)}: not an unconfirmed fact of "
                               f"{kind_name} (pending: {', '.join(waiting) or 'none'})")
    if not wanted:
        raise ValidationFailed("facts", f"{kind_name} rests on no unconfirmed fact")
    out = []
    for key in wanted:
        fact = waiting[key]
        row = FactAcknowledgement(org_id=actor.org_id, key=key, label=fact.label, reason=reason,
                                  document_kind=kind_name, created_by=actor.email)
        session.add(row)
        session.flush()
        view = acknowledgement_view(row)
        audit.record(session, actor, "fact.acknowledge", "fact_acknowledgement", row.id, None, view)
        out.append(view)
    return out


def acknowledgement_view(row: FactAcknowledgement) -> dict[str, Any]:
    return {"id": row.id, "key": row.key, "label": row.label, "reason": row.reason,
            "document_kind": row.document_kind, "created_by": row.created_by,
            "created_at": row.created_at.isoformat() if row.created_at else None}
