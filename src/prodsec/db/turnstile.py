"""A first-come, first-served semaphore that threads and event loops can share.

The server's writers queue for SQLite's writer lock (and PostgreSQL's audit-chain lock) here
instead of inside the database: an ``await``-ing waiter holds no worker thread, and the queue is
fair, where SQLite's busy handler polls and lets a newcomer overtake a writer that has waited
for seconds. Tests run several ``TestClient``s, each with its own event loop in its own thread,
against one app, so the queue cannot belong to any single loop (``asyncio.Lock`` and AnyIO's
primitives do): a waiter is woken on its own loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Turnstile:
    """``permits`` holders at a time; the others wait in arrival order.

    ``release`` hands the permit straight to the first waiter (it is never up for grabs), so a
    waiter is never overtaken; a waiter cancelled after its permit arrived passes it on.
    """

    def __init__(self, permits: int) -> None:
        self._free = permits
        self._mutex = threading.Lock()
        self._queue: deque[Callable[[], None]] = deque()

    def _take_or_queue(self, wake: Callable[[], None]) -> bool:
        with self._mutex:
            if self._free > 0 and not self._queue:
                self._free -= 1
                return True
            self._queue.append(wake)
            return False

    def _withdraw(self, wake: Callable[[], None]) -> bool:
        """Leave the queue; False if the permit was already handed over (the caller owns it)."""
        with self._mutex:
            try:
                self._queue.remove(wake)
            except ValueError:
                return False
            return True

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            loop.call_soon_threadsafe(_resolve, future)

        if self._take_or_queue(wake):
            return
        try:
            await future
        except BaseException:
            if not self._withdraw(wake):
                self.release()
            raise

    def acquire_blocking(self, timeout: float | None = None) -> bool:
        """For plain threads (never the event loop's): wait at most ``timeout`` seconds."""
        event = threading.Event()
        if self._take_or_queue(event.set):
            return True
        if event.wait(timeout):
            return True
        # Still queued: give up. Not queued: the permit was handed over as the wait timed out.
        return not self._withdraw(event.set)

    def release(self) -> None:
        while True:
            with self._mutex:
                if not self._queue:
                    self._free += 1
                    return
                wake = self._queue.popleft()
            try:
                wake()
                return
            except RuntimeError:  # the waiter's event loop is closed: pass the permit on
                continue

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    @contextmanager
    def held_blocking(self) -> Iterator[None]:
        self.acquire_blocking()
        try:
            yield
        finally:
            self.release()

    @property
    def waiting(self) -> int:
        return len(self._queue)
