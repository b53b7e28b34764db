"""Organisation scoping in one place: a row by id *within the actor's organisation*.

Every lookup by id goes through ``owned`` so the isolation rule (another organisation's id
answers exactly like an id that does not exist: 404) cannot be forgotten in a new query.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.workspace.context import Actor, NotFound

Row = TypeVar("Row")


def owned(session: Session, actor: Actor, model: type[Row], id_: str, what: str) -> Row:
    """The ``model`` row with this id in the actor's organisation, or ``NotFound``."""
    table: Any = model
    row = session.scalar(select(model).where(table.org_id == actor.org_id, table.id == id_))
    if row is None:
        raise NotFound(f"no {what} {id_!r}")
    return row
