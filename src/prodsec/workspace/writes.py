"""Units of work for the server: admitted, queued for their turn to write, then run on a worker
thread, so no thread ever waits inside the database for a lock.

A write transaction begins as a writer (SQLite's ``BEGIN IMMEDIATE``) and takes its
organisation's audit-chain lock before it writes any row: every writer of an organisation takes
the same locks in the same order, so none can deadlock with another (PostgreSQL), and none
fails half-way on a snapshot another writer made stale (SQLite). Whatever is slow and needs no
lock — reading an upload, parsing an SBOM — happens before ``write`` is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session

from prodsec.db.engine import Database
from prodsec.workspace import audit

T = TypeVar("T")


def begin_write(database: Database, session: Session, org_id: str) -> None:
    """Make ``session``'s transaction a writer's, holding the organisation's chain lock."""
    database.begin_write(session)
    audit.lock_chain(session, org_id)


def _in_transaction(database: Database, org_id: str | None,
                    work: Callable[[Session], T]) -> T:
    with database.transaction() as session:
        if org_id is not None:
            begin_write(database, session, org_id)
        return work(session)


async def write(database: Database, org_id: str, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one write transaction for ``org_id`` (committed, or rolled back
    on error), after this process's earlier writers."""
    async with database.admitted(), database.writing(org_id):
        return await anyio.to_thread.run_sync(_in_transaction, database, org_id, work)


async def read(database: Database, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in a short read transaction on a worker thread."""
    async with database.admitted():
        return await anyio.to_thread.run_sync(_in_transaction, database, None, work)
