"""Two delivery runs claiming at the same moment take disjoint deliveries (#17, review h17r).

On SQLite a claim used to begin as a reader: both runs read the same due deliveries before
either wrote its claim, and both sent them. The claim now begins as the writer, so the second
run waits for the first one's commit and sees its claims (PostgreSQL: ``SKIP LOCKED``)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from sqlalchemy import event

from prodsec.db.engine import Database
from prodsec.workspace import notification_delivery as delivery
from prodsec.workspace.context import Actor
from tests.workspace.conftest import database as database  # the fixture, both backends
from tests.workspace.test_notifications import _emit, _later, _subscribe
from tests.workspace.test_notifications import admin as admin  # the fixture
from tests.workspace.test_notifications import private_ok as private_ok  # the fixture


def test_concurrent_claims_never_take_one_delivery_twice(database: Database, admin: Actor,
                                                         private_ok: None) -> None:
    _subscribe(database, admin, "webhook", "http://127.0.0.1:9/hook")
    for i in range(6):
        _emit(database, admin, f"CVE-2026-9{i:03d}")
    # Each claim pauses after reading the due deliveries until the other has read too (or
    # 1 s: a claimer that must wait for the first one's commit never gets there).
    both_read = threading.Barrier(2, timeout=1.0)

    def after_read(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "notification_deliveries" in statement \
                and "claimed_until" in statement:
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait()

    event.listen(database.engine, "after_cursor_execute", after_read)
    claims: list[list[str]] = []
    errors: list[BaseException] = []

    def claim() -> None:
        try:
            claims.append([o.delivery_id for o in delivery._claim(database, _later(), 100)])
        except BaseException as exc:  # a stale snapshot on SQLite: "database is locked"
            errors.append(exc)

    try:
        runs = [threading.Thread(target=claim) for _ in range(2)]
        for thread in runs:
            thread.start()
        for thread in runs:
            thread.join()
    finally:
        event.remove(database.engine, "after_cursor_execute", after_read)
    assert errors == []
    taken = [d for batch in claims for d in batch]
    assert len(taken) == len(set(taken)) == 6
