"""Backup of the whole workspace (``prodsec db backup``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodsec.db.engine import Database
from prodsec.workspace import keys
from prodsec.workspace.compliance import blob_path
from prodsec.workspace.transfer.common import (
    BACKUP_FORMAT,
    BACKUP_VERSION,
    BATCH,
    TransferError,
    TransferResult,
    atomic_file,
    blob_columns,
    copy_hashed,
    dump_rows,
    line,
    present_blobs,
    reflect,
    schema_revision,
    snapshot,
    to_json,
)
from prodsec.workspace.transfer.signing import sign_document
from prodsec.workspace.transfer.staging import recover_staging


def backup(database: Database, target: Path,
           after_table: Callable[[str], None] | None = None) -> TransferResult:
    """Write a consistent snapshot of every table plus the evidence files they reference.

    ``after_table`` is called after each table is read (tests use it to write concurrently
    and prove the snapshot does not see it).
    """
    started = time.perf_counter()
    recover_staging(database)
    result = TransferResult(target)
    with atomic_file(target) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED,
                                                  compresslevel=1) as zf:
        refs: set[str] = set()
        required: set[str] = set()
        with snapshot(database) as conn:
            revision = schema_revision(conn)
            if revision is None:
                raise TransferError(f"{database.url}: not a prodsec database (no schema revision)")
            entries = []
            for table in reflect(conn):
                entries.append(_write_table(zf, conn, table, refs, required))
                result.tables[table.name] = entries[-1]["rows"]
                if after_table:
                    after_table(table.name)
        present, missing = present_blobs(database.evidence_dir, refs, required)
        blobs = _write_blobs(zf, database.evidence_dir, present)
        manifest = {"format": BACKUP_FORMAT, "format_version": BACKUP_VERSION,
                    "schema_revision": revision, "created_at": to_json(dt.datetime.now(dt.UTC)),
                    "source_dialect": database.engine.dialect.name, "tables": entries,
                    "blobs": blobs, "missing_blobs": missing}
        sign_document(manifest, keys.require_key())  # the manifest binds every member's hash
        zf.writestr("manifest.json", json.dumps(manifest, indent=1))
    result.blobs, result.seconds = len(blobs), time.perf_counter() - started
    result.notes = [f"evidence file {sha} is referenced but missing from the store"
                    for sha in missing]
    return result


def _write_table(zf: zipfile.ZipFile, conn: Connection, table: sa.Table,
                 refs: set[str], required: set[str]) -> dict[str, Any]:
    member = f"tables/{table.name}.jsonl"
    digest, rows, chunk = hashlib.sha256(), 0, []
    optional, needed = blob_columns(table), blob_columns(table, required_only=True)
    with zf.open(member, "w", force_zip64=True) as out:
        for row in dump_rows(conn, table):
            chunk.append(line(row))
            refs.update(row[c] for c in optional if row[c])
            required.update(row[c] for c in needed if row[c])
            rows += 1
            if len(chunk) >= BATCH:
                _flush_chunk(out, digest, chunk)
        _flush_chunk(out, digest, chunk)
    return {"name": table.name, "file": member, "rows": rows,
            "columns": [c.name for c in table.columns], "sha256": digest.hexdigest()}


def _flush_chunk(out: IO[bytes], digest: Any, chunk: list[bytes]) -> None:
    data = b"".join(chunk)
    digest.update(data)
    out.write(data)
    chunk.clear()


def _write_blobs(zf: zipfile.ZipFile, evidence_dir: Path,
                 present: list[str]) -> list[dict[str, Any]]:
    """Copy each referenced blob, re-hashing it: a damaged store fails the backup loudly."""
    blobs = []
    for sha in present:
        path = blob_path(evidence_dir, sha)
        member = f"evidence/{sha}"
        with path.open("rb") as source, zf.open(member, "w", force_zip64=True) as out:
            actual, size = copy_hashed(source, out)
        if actual != sha:
            raise TransferError(f"{path}: evidence file is damaged (its SHA-256 is {actual})")
        blobs.append({"sha256": sha, "size": size, "file": member})
    return blobs
