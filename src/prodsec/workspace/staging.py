"""Uploads staged on disk before their write transaction begins, and swept when abandoned.

An upload is streamed into a file in the store's staging folder (``<store>/.staging``, on the
same file system as the store, so moving it into place is one atomic rename) while no database
lock is held; the write transaction then only inserts rows. The file is ``flock``-ed while it is
written and until it is moved or deleted: a process killed mid-upload leaves its file unlocked,
and ``sweep`` (at start-up and before each upload) removes unlocked files older than
``STALE_AFTER`` (5 kills used to leave 159 MB behind for good).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from prodsec.workspace.context import EvidenceTooLarge

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the age bound alone decides
    fcntl = None  # type: ignore[assignment]

STAGING = ".staging"
STALE_AFTER = 15 * 60.0
CHUNK = 1 << 16


def staging_dir(store: Path) -> Path:
    return store / STAGING


@dataclass
class Staged:
    """A file being (or done being) received: its path, running SHA-256 and size."""

    path: Path
    limit: int
    what: str = "file"
    size: int = 0
    _digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    _file: BinaryIO | None = None

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise EvidenceTooLarge(self.what, f"larger than the limit of {self.limit} bytes")
        self._digest.update(chunk)
        assert self._file is not None
        self._file.write(chunk)

    def finish(self) -> None:
        """Flush what was written (the lock stays until ``discard`` or ``claim``)."""
        assert self._file is not None
        self._file.flush()

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def claim(self, target: Path) -> bool:
        """Move the file to ``target`` (atomically); False if ``target`` already exists."""
        self.finish()
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)
        return True

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()  # releases the lock
            self._file = None
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def staged(store: Path, limit: int, what: str = "file") -> Iterator[Staged]:
    """A locked staging file, removed when the block ends unless it was ``claim``-ed."""
    folder = staging_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    sweep(store)
    fd, name = tempfile.mkstemp(dir=folder, prefix="upload-", suffix=f".{os.getpid()}")
    handle = os.fdopen(fd, "wb")
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    item = Staged(Path(name), limit, what, _file=handle)
    try:
        yield item
    finally:
        item.discard()


def copy_into(item: Staged, stream: BinaryIO) -> Staged:
    """Fill ``item`` from a blocking stream (a CLI file, a spooled form upload)."""
    while chunk := stream.read(CHUNK):
        item.write(chunk)
    item.finish()
    return item


async def receive(item: Staged, body: AsyncIterable[bytes]) -> Staged:
    """Fill ``item`` from a request body as it arrives (the first byte over the limit ends it)."""
    async for chunk in body:
        if chunk:
            item.write(chunk)
    item.finish()
    return item


def _abandoned(path: Path) -> bool:
    """No live process holds the file's lock."""
    if fcntl is None:
        return True
    try:
        with open(path, "rb") as probe:
            try:
                fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False
            return True
    except OSError:
        return False


def sweep(store: Path, older_than: float = STALE_AFTER) -> int:
    """Remove staged files older than ``older_than`` seconds that nobody holds; return how many."""
    folder = staging_dir(store)
    leftovers = list(folder.iterdir()) if folder.is_dir() else []
    if store.is_dir():  # where uploads were received before the staging folder existed
        leftovers += store.glob(".upload-*")
    cutoff, removed = time.time() - older_than, 0
    for path in leftovers:
        try:
            if path.is_file() and path.stat().st_mtime < cutoff and _abandoned(path):
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed
