"""Evidence files staged beside the store until the commit that references them."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodsec.db.engine import Database
from prodsec.workspace.compliance import blob_path, is_sha256
from prodsec.workspace.transfer.common import ArchiveError, copy_hashed, reflect


class StagedBlobs:
    """Evidence files written beside the store until the commit that references them.

    The directory holds an exclusive ``flock`` for the life of the process; the kernel drops it
    if the process is killed, which is how ``recover_staging`` tells abandoned staging from a
    transfer still running.
    """

    def __init__(self, evidence_dir: Path) -> None:
        self.evidence_dir = evidence_dir
        self.dir = evidence_dir / f".staging-{uuid.uuid4().hex}"
        self.dir.mkdir(parents=True)
        self._lock = _lock(self.dir)
        self.staged: list[str] = []

    def add(self, sha256: str, source: IO[bytes], where: str) -> None:
        """Copy a blob in, verifying its hash; skip it if the store already has it.

        The bytes go to a temporary file in the staging directory (inside the store) and get
        their name only once their hash matches; on any failure nothing is left.
        """
        if not is_sha256(sha256):
            raise ArchiveError(f"{where}: {sha256[:80]!r} is not a SHA-256 (64 lowercase hex "
                               "digits)")
        if blob_path(self.evidence_dir, sha256).exists() or sha256 in self.staged:
            return
        fd, name = tempfile.mkstemp(dir=self.dir, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                actual, _size = copy_hashed(source, out)
            if actual != sha256:
                raise ArchiveError(f"{where}: content does not match its SHA-256 (damaged or "
                                   "edited)")
            os.replace(name, self.dir / sha256)
        finally:
            Path(name).unlink(missing_ok=True)
        self.staged.append(sha256)

    def publish(self) -> None:
        """After the commit: move each blob into the content-addressed store."""
        publish_dir(self.evidence_dir, self.dir, None)
        self._release()

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _lock(directory: Path) -> int | None:
    """An exclusive lock on ``directory/.lock``; None where flock does not exist (Windows)."""
    fd = os.open(directory / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:
        pass
    except OSError:
        os.close(fd)
        raise
    return fd


def publish_dir(evidence_dir: Path, staging: Path, keep: set[str] | None) -> None:
    """Move staged blobs (all, or those in ``keep``) into the store, then drop the directory."""
    for path in staging.iterdir():
        if not is_sha256(path.name) or (keep is not None and path.name not in keep):
            continue
        target = blob_path(evidence_dir, path.name)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o444)
            os.replace(path, target)
    shutil.rmtree(staging, ignore_errors=True)


def referenced_blobs(conn: Connection, candidates: set[str]) -> set[str]:
    found: set[str] = set()
    for table in reflect(conn):
        for column in table.columns:
            if column.name == "sha256" or column.name.endswith("_sha256"):
                query = sa.select(column).where(column.in_(sorted(candidates)))
                found |= {value for value in conn.execute(query).scalars() if value}
    return found


def recover_staging(database: Database) -> int:
    """Finish or undo transfers that died: staged blobs a committed row references move into
    the store, the others are deleted. Returns how many staging directories were cleaned."""
    if not database.evidence_dir.exists():
        return 0
    cleaned = 0
    for staging in database.evidence_dir.glob(".staging-*"):
        try:
            fd = _lock(staging)
        except OSError:
            continue  # a live transfer holds it
        try:
            names = {p.name for p in staging.iterdir() if not p.name.startswith(".")}
            with database.engine.connect() as conn:
                keep = referenced_blobs(conn, names) if names else set()
            publish_dir(database.evidence_dir, staging, keep)
            cleaned += 1
        finally:
            if fd is not None:
                os.close(fd)
    return cleaned
