"""Shared by every transfer: formats and limits, errors, values and tables, files."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SAWarning

from prodsec.db.engine import Database
from prodsec.errors import ArchiveError as ArchiveError
from prodsec.errors import ArchiveTooLarge as ArchiveTooLarge
from prodsec.errors import OrganisationExists as OrganisationExists
from prodsec.errors import SignatureError as SignatureError
from prodsec.errors import TargetNotEmpty as TargetNotEmpty
from prodsec.errors import TransferError as TransferError
from prodsec.workspace.compliance import blob_path, is_sha256

BACKUP_FORMAT, BACKUP_VERSION = "prodsec-backup", 1
EXPORT_FORMAT, EXPORT_VERSION = "prodsec-organisation-export", 1
EXPORT_MEMBER = "organisation.json"
# Transient state, not workspace data: the login limiter's recent failures. Left out of
# backups, restores, content digests and the empty-target check (a new server's failed logins
# must not block a restore into it).
# The job queue's state (procrastinate's tables and our progress reports) is transient too: a
# restored workspace starts with no jobs, and its rescans can be queued again.
TRANSIENT = frozenset({"login_throttle", "password_resets", "job_reports"})
NOT_DATA = frozenset({"alembic_version"}) | TRANSIENT
QUEUE_PREFIX = "procrastinate_"
#: Columns that hold another table's ids without a foreign key (``SbomComponent.part_id``: an
#: existing SQLite table cannot gain one without a rebuild). An import remaps and checks them as
#: if they had one.
SOFT_REFERENCES = {("components", "part_id"): "sbom_parts",
                   ("dependency_edges", "part_id"): "sbom_parts"}
# Tables never exported: secrets stay in their workspace (webhook secrets included, and with
# the subscriptions go their events, deliveries and delivery log); the organisation and its
# members travel in their own sections of the document.
NOT_EXPORTED = frozenset({"api_tokens", "web_sessions", "memberships", "organisations", "users",
                          "invitations", "notification_subscriptions", "notification_events",
                          "notification_deliveries", "notification_attempts"})
BATCH = 1000
MAX_PROBLEMS = 20
REQUIRED_BLOBS = frozenset({("evidence", "sha256")})
BACKUP_MEMBERS = re.compile(r"manifest\.json|tables/[a-z0-9_]{1,63}\.jsonl|evidence/[0-9a-f]{64}")
EXPORT_MEMBERS = re.compile(re.escape(EXPORT_MEMBER) + r"|evidence/[0-9a-f]{64}")


# The transfer errors live in the one tree (``prodsec.errors``); this one carries its JSON paths.
class ExportFormatError(TransferError):
    """An export document that does not validate; every problem names its JSON path."""

    def __init__(self, file: Path, problems: list[tuple[str, str]]) -> None:
        shown = [f"  {path}: {message}" for path, message in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"  ... and {len(problems) - MAX_PROBLEMS} more")
        super().__init__(f"{file}: not a valid prodsec organisation export:\n" + "\n".join(shown))
        self.file, self.problems = file, problems


# ---- values and tables ----------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """Datetimes become ISO 8601 in UTC (SQLite hands back naive UTC, PostgreSQL aware)."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def from_json(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.DateTime):
        return dt.datetime.fromisoformat(value)
    if isinstance(column.type, sa.Date):
        return dt.date.fromisoformat(value)
    return value


def reflect(conn: Connection) -> list[sa.Table]:
    """The data tables in foreign-key order, as the database has them (not as the models say:
    a restore migrates to the archive's revision, which may not be the newest)."""
    meta = sa.MetaData()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # e.g. expression indexes we do not need
        meta.reflect(bind=conn)
    return [t for t in meta.sorted_tables
            if t.name not in NOT_DATA and not t.name.startswith(QUEUE_PREFIX)]


def counter_pk(table: sa.Table) -> str | None:
    """The name of a single integer primary key (a workspace-wide counter), if any."""
    pk = list(table.primary_key.columns)
    if len(pk) == 1 and isinstance(pk[0].type, sa.Integer):
        return pk[0].name
    return None


def dump_rows(conn: Connection, table: sa.Table,
              where: sa.ColumnElement[bool] | None = None) -> Iterator[dict[str, Any]]:
    """Every row as JSON-ready values, in primary-key order so dumps compare equal."""
    query = sa.select(table).order_by(*(table.primary_key.columns or table.columns))
    if where is not None:
        query = query.where(where)
    timed = [c.name for c in table.columns if isinstance(c.type, (sa.Date, sa.DateTime))]
    result = conn.execution_options(yield_per=BATCH).execute(query)
    for mapping in result.mappings():
        row = dict(mapping)
        for name in timed:  # only these need converting; the rest is JSON already
            row[name] = to_json(row[name])
        yield row


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def line(row: dict[str, Any]) -> bytes:
    """One canonical JSON line (sorted keys), so equal rows give equal bytes and hashes."""
    return (_ENCODER.encode(row) + "\n").encode("utf-8")


def blob_columns(table: sa.Table, required_only: bool = False) -> list[str]:
    """Columns naming files in the evidence store: ``evidence.sha256`` must have its file
    (``REQUIRED_BLOBS``); any other ``sha256`` / ``*_sha256`` column (e.g. a generated
    document's) is carried when the store has the file."""
    return [c.name for c in table.columns
            if (c.name == "sha256" or c.name.endswith("_sha256"))
            and (not required_only or (table.name, c.name) in REQUIRED_BLOBS)]


def blob_refs(table: sa.Table, row: dict[str, Any],
              required_only: bool = False) -> Iterator[str]:
    """SHA-256s of files in the evidence store that a row names (anything else names no file:
    imports and restores refuse it, and it never becomes a path)."""
    for name in blob_columns(table, required_only):
        value = row.get(name)
        if is_sha256(value):
            yield value


def present_blobs(evidence_dir: Path, refs: set[str],
                  required: set[str]) -> tuple[list[str], list[str]]:
    """(the referenced files the store has, the required ones it lacks)."""
    present = [sha for sha in sorted(refs) if blob_path(evidence_dir, sha).exists()]
    missing = sorted(required - set(present))
    return present, missing


@contextlib.contextmanager
def snapshot(database: Database) -> Iterator[Connection]:
    """One read-only transaction over every table: REPEATABLE READ on PostgreSQL; on SQLite an
    explicit BEGIN (pysqlite would otherwise run each SELECT in its own snapshot)."""
    with database.engine.connect() as conn:
        if database.is_sqlite:
            raw: Any = conn.connection.dbapi_connection
            saved = raw.isolation_level
            raw.isolation_level = None
            try:
                conn.exec_driver_sql("BEGIN")
                yield conn
            finally:
                conn.exec_driver_sql("ROLLBACK")
                raw.isolation_level = saved
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin() as txn:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn
                txn.rollback()


def schema_revision(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def content_digest(database: Database) -> str:
    """SHA-256 over every row of every table: equal digests mean equal databases."""
    digest = hashlib.sha256()
    with snapshot(database) as conn:
        for table in reflect(conn):
            digest.update(f"\0{table.name}\0".encode())
            for row in dump_rows(conn, table):
                digest.update(line(row))
    return digest.hexdigest()


# ---- files ----------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """A temporary file beside ``target``, renamed over it only when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def copy_hashed(source: IO[bytes], out: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(1 << 16):
        digest.update(chunk)
        out.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_of(source: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(1 << 16):
        digest.update(chunk)
    return digest.hexdigest()


# ---- results ---------------------------------------------------------------------------------


@dataclass
class TransferResult:
    path: Path
    tables: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    seconds: float = 0.0
    organisation: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "tables": self.tables, "blobs": self.blobs,
                "seconds": round(self.seconds, 3), "organisation": self.organisation,
                "notes": self.notes}


def insert_batch(conn: Connection, table: sa.Table, rows: list[dict[str, Any]],
                  where: Path | str) -> int:
    try:
        conn.execute(sa.insert(table), rows)
    except DBAPIError as exc:
        raise TransferError(f"{where}: writing {table.name} failed, nothing was written: "
                            f"{str(exc.orig).strip().splitlines()[0]}") from None
    except (UnicodeError, ValueError) as exc:  # text the driver cannot encode
        raise TransferError(f"{where}: writing {table.name} failed, nothing was written: "
                            f"{exc}") from None
    return len(rows)
