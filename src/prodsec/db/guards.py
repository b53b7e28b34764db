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

from prodsec.errors import TextRefused as TextRefused

BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None."""
    found = BAD_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000), which the database cannot store"
    return "contains a lone surrogate (not valid Unicode text)"


def check_rows(where: str, rows: list[dict[str, Any]], names: tuple[str, ...] = ()) -> None:
    """The flush check for rows that go in by Core ``insert()`` (bulk imports), which never
    flush: every text value, also inside JSON columns, naming the row (by ``names`` when
    given, else its number) and the column."""
    for number, row in enumerate(rows, start=1):
        for column, value in row.items():
            problem = _deep_problem(value)
            if problem:
                named = next((f" {row[n]!r}"[:82] for n in names if isinstance(row.get(n), str)
                              and not text_problem(row[n])), "")
                raise TextRefused(column, f"{problem} ({where} {number}{named})")


def _deep_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        for item in value:
            problem = _deep_problem(item)
            if problem:
                return problem
    return None


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
