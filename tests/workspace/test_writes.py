"""Concurrent writers: the audit chain's lock order, the writers' queue, and staged uploads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from prodsec.db.engine import Database
from prodsec.db.turnstile import Turnstile
from prodsec.services.knowledge import knowledge_base
from prodsec.workspace import audit, compliance, context, staging, writes
from prodsec.workspace.context import Actor

# ---- the chain lock ---------------------------------------------------------------------------


def test_concurrent_writers_of_one_organisation_never_deadlock(database: Database,
                                                               editor: Actor) -> None:
    """8 threads × 6 transactions, each inserting a row that references the organisation and
    then appending to its audit chain, as the CLI does (no queue): 0 deadlocks, a chain that
    verifies. With ``FOR UPDATE`` on the organisation row, PostgreSQL saw a cycle whenever two
    writers had both inserted (``FOR KEY SHARE`` on that row) before locking the chain."""
    kb = knowledge_base()
    threads, per_thread, failures = 8, 6, []
    barrier = threading.Barrier(threads)
    with database.transaction() as session:
        before = audit.count(session, editor.org_id)

    def work(index: int) -> None:
        barrier.wait()
        for n in range(per_thread):
            try:
                with database.transaction() as session:
                    compliance.add_control(session, editor, kb, f"control {index}-{n}",
                                           ["uk-psti:schedule-1:1"])
            except OperationalError as exc:
                failures.append(str(exc.orig))

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    assert failures == []
    with database.transaction() as session:
        report = audit.verify(session, editor.org_id)
    assert report.ok and report.events == before + threads * per_thread, report


def test_queued_writers_of_one_organisation_extend_the_chain_in_turn(database: Database,
                                                                      editor: Actor) -> None:
    """The server's path (``writes.write``): 24 concurrent writers on one event loop."""
    kb = knowledge_base()
    with database.transaction() as session:
        before = audit.count(session, editor.org_id)

    async def main() -> None:
        await asyncio.gather(*(writes.write(database, editor.org_id, lambda s, n=n: (
            compliance.add_control(s, editor, kb, f"queued {n}", ["uk-psti:schedule-1:1"])))
            for n in range(24)))

    asyncio.run(main())
    with database.transaction() as session:
        report = audit.verify(session, editor.org_id)
    assert report.ok and report.events == before + 24, report


# ---- the queue ----------------------------------------------------------------------------------


def test_the_turnstile_serves_in_arrival_order_across_threads_and_loops() -> None:
    gate, order = Turnstile(1), []
    gate.acquire_blocking()

    def waiter(n: int) -> None:
        async def run() -> None:
            async with gate.held():
                order.append(n)
        asyncio.run(run())

    pool = []
    for n in range(5):  # each on its own event loop, queued one after the other
        pool.append(threading.Thread(target=waiter, args=(n,)))
        pool[-1].start()
        while gate.waiting <= n:
            time.sleep(0.01)
    gate.release()
    for thread in pool:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]
    assert gate.acquire_blocking(0)  # every permit came back


def test_a_cancelled_waiter_gives_its_turn_on() -> None:
    gate = Turnstile(1)

    async def main() -> bool:
        await gate.acquire()
        waiting = asyncio.ensure_future(gate.acquire())
        await asyncio.sleep(0.01)
        waiting.cancel()
        gate.release()
        await asyncio.sleep(0.01)
        return gate.acquire_blocking(0)

    assert asyncio.run(main())


# ---- staged uploads -------------------------------------------------------------------------


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_sweep_removes_old_abandoned_staging_files_only(tmp_path: Path) -> None:
    store = tmp_path / "evidence"
    folder = staging.staging_dir(store)
    folder.mkdir(parents=True)
    old, fresh = folder / "upload-old.1", folder / "upload-fresh.1"
    old.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"x")
    _age(old, staging.STALE_AFTER + 60)
    with staging.staged(store, 10_000) as live:  # sweeps too: ``old`` goes
        live.write(b"still arriving")
        _age(live.path, staging.STALE_AFTER + 60)
        assert staging.sweep(store) == 0  # old, but locked by a live upload
        assert live.path.exists()
    assert not old.exists() and fresh.exists() and not live.path.exists()


def test_a_killed_upload_leaves_a_file_the_next_sweep_removes(tmp_path: Path) -> None:
    store = tmp_path / "evidence"
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from prodsec.workspace import staging
        with staging.staged(Path({str(store)!r}), 1 << 20) as item:
            item.write(b"x" * 100_000)
            item.finish()
            print(item.path, flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        leftover = Path(child.stdout.readline().strip())
        _age(leftover, staging.STALE_AFTER + 60)
        assert staging.sweep(store) == 0  # the upload is still alive
    finally:
        child.kill()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    assert leftover.exists()
    assert staging.sweep(store) == 1 and not leftover.exists()


def test_an_upload_over_the_limit_or_failing_leaves_nothing_staged(tmp_path: Path) -> None:
    store = tmp_path / "evidence"
    with pytest.raises(context.EvidenceTooLarge), staging.staged(store, 10) as item:
        item.write(b"x" * 11)
    assert list(staging.staging_dir(store).iterdir()) == []


def test_the_server_sweeps_at_start_up_old_temporary_files_included(tmp_path: Path) -> None:
    from prodsec.api import create_app
    from prodsec.db.engine import open_database

    database = open_database(str(tmp_path / "db.sqlite"))
    store = database.evidence_dir
    staging.staging_dir(store).mkdir(parents=True)
    leftovers = [staging.staging_dir(store) / "upload-x.1", store / ".upload-abc"]
    for path in leftovers:
        path.write_bytes(b"half an upload")
        _age(path, staging.STALE_AFTER + 60)
    create_app(database, knowledge_base())
    database.dispose()
    assert not any(path.exists() for path in leftovers)
