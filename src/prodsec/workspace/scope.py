"""Organisation scoping in one place: a row by id *within the actor's organisation*.

Every lookup by id goes through ``owned`` so the isolation rule (another organisation's id
answers exactly like an id that does not exist: 404) cannot be forgotten in a new query.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.errors import suggest
from prodsec.workspace.context import Actor, NotFound

Row = TypeVar("Row")


def owned(session: Session, actor: Actor, model: type[Row], id_: str, what: str) -> Row:
    """The ``model`` row with this id in the actor's organisation, or ``NotFound``."""
    table: Any = model
    row = session.scalar(select(model).where(table.org_id == actor.org_id, table.id == id_))
    if row is None:
        raise NotFound(f"no {what} {id_!r}")
    return row


def by_id_or_name(session: Session, actor: Actor, model: type[Row], ref: str, what: str) -> Row:
    """The ``model`` row with this id or name in the actor's organisation, or ``NotFound``
    naming the closest names, so a typo or a wrong case costs one more try, not a search."""
    table: Any = model
    row = session.scalar(select(model).where(
        table.org_id == actor.org_id, (table.id == ref) | (table.name == ref)))
    if row is None:
        raise NotFound(f"no {what} {ref!r}{did_you_mean(session, actor, table, ref)}")
    return row


def did_you_mean(session: Session, actor: Actor, table: Any, ref: str) -> str:
    """"; did you mean 'X' or 'Y'?" from the organisation's own names (at most 5 000 read)."""
    names = list(session.scalars(
        select(table.name).where(table.org_id == actor.org_id).limit(5000)))
    close = suggest(ref, names)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(name) for name in close) + "?"
