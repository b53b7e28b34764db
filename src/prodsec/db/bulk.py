"""Bulk inserts whose parameters are made ready before the write transaction begins.

SQLAlchemy's bulk ``insert()`` spends most of its time per row in Python: collecting ORM insert
commands, running each column's bind processor (JSON columns are ``json.dumps``), building the
parameter set. For an SBOM of 20 000 components that was 4 of the 4.1 s the write transaction
lasted, all of it holding SQLite's writer lock (every organisation's writes and sign-ins
wait). ``prepare`` does that work with the dialect's own bind processors, outside the lock;
``insert`` then hands the ready rows to the driver's ``executemany``, nothing else. On
PostgreSQL the rows become the text of one ``COPY ... FROM STDIN`` (psycopg's ``executemany``
still adapts each row and JSON value in Python: 3.1 s for 15 000 components, during which the
organisation's other writers wait on its audit-chain lock).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, FromClause, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

CHUNK = 2000


@dataclass(frozen=True)
class PreparedRows:
    """An INSERT statement for one dialect and its parameter sets, ready for the driver."""

    table: str
    dialect: str
    sql: str
    params: list[Any]


def prepare(dialect: Dialect, table: FromClause, rows: list[dict[str, Any]]) -> PreparedRows:
    """The rows (all with the same keys) as driver parameters for ``table`` in ``dialect``."""
    if not isinstance(table, Table):  # an ORM class's __table__ is typed as any FromClause
        raise TypeError(f"expected a table, got {table!r}")
    if not rows:
        return PreparedRows(table.name, dialect.name, "", [])
    keys = list(rows[0])
    if dialect.name == "postgresql":
        return _copy_rows(dialect, table, keys, rows)
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    processors: dict[str, Callable[[Any], Any] | None] = {
        key: table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys}
    ready = [{k: (p(row[k]) if (p := processors[k]) is not None and row[k] is not None
                  else row[k]) for k in keys} for row in rows]
    if compiled.positional:
        order = [str(name) for name in compiled.positiontup or ()]
        return PreparedRows(table.name, dialect.name, str(compiled),
                            [tuple(row[k] for k in order) for row in ready])
    return PreparedRows(table.name, dialect.name, str(compiled), ready)


def _copy_rows(dialect: Dialect, table: Table, keys: list[str],
               rows: list[dict[str, Any]]) -> PreparedRows:
    """``COPY``'s text format: tab-separated, ``\\N`` for NULL, backslash escapes."""
    quote = dialect.identifier_preparer.quote
    json_keys = {k for k in keys if isinstance(table.c[k].type, JSON)}
    lines = []
    for row in rows:
        fields = []
        for key in keys:
            value = row[key]
            if value is None:
                fields.append("\\N")
                continue
            text = (json.dumps(value) if key in json_keys else value.isoformat()
                    if isinstance(value, dt.datetime) else str(value))
            fields.append(text.translate(_COPY_ESCAPES))
        lines.append("\t".join(fields))
    sql = (f"COPY {quote(table.name)} ({', '.join(quote(k) for k in keys)}) FROM STDIN")
    return PreparedRows(table.name, dialect.name, sql, ["\n".join(lines) + "\n"])


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def insert_prepared(session: Session, rows: PreparedRows) -> None:
    """Insert prepared rows in the session's transaction (``executemany`` per chunk)."""
    if not rows.params:
        return
    connection = session.connection()
    if connection.dialect.name != rows.dialect:
        raise ValueError(f"rows prepared for {rows.dialect}, inserted into "
                         f"{connection.dialect.name}")
    if rows.sql.startswith("COPY "):
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(rows.sql) as copy:
            copy.write(rows.params[0])
        return
    for start in range(0, len(rows.params), CHUNK):
        connection.exec_driver_sql(rows.sql, rows.params[start:start + CHUNK])
