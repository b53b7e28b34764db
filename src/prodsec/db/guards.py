"""Text the database must not be given, refused at every ORM flush on both backends.

NUL characters: PostgreSQL cannot store them, SQLite can, so a workspace that accepted one on
SQLite could not be restored into PostgreSQL. Lone surrogates: not Unicode; neither driver can
encode them (a traceback instead of an answer). Refusing both at the flush, with the field
named, covers every face (CLI, API, web) and keeps both backends holding the same text.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from prodsec.errors import InputError

BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class TextRefused(InputError):
    """A text field holds a NUL character or a lone surrogate; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.detail = field, message


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None."""
    found = BAD_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000), which the database cannot store"
    return "contains a lone surrogate (not valid Unicode text)"


def _check_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in (*session.new, *session.dirty):
        state = inspect(obj)
        for attr in state.mapper.column_attrs:
            value = state.dict.get(attr.key)  # loaded values only: no lazy load mid-flush
            if isinstance(value, str):
                problem = text_problem(value)
                if problem:
                    raise TextRefused(attr.key, problem)


def install() -> None:
    """Register the check (idempotent)."""
    if not event.contains(Session, "before_flush", _check_flush):
        event.listen(Session, "before_flush", _check_flush)
