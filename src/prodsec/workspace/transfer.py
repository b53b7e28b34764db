"""Moving workspace data: backup/restore of a whole database, export/import of one organisation.

Both walk the tables that are actually in the database (reflected, in foreign-key order — the
order of ``Base.metadata.sorted_tables``), so tables added by later migrations are carried
without code changes here; only transient state (``TRANSIENT``: recent failed logins) is left
out. Values are written as JSON with dates and times in ISO 8601 (UTC), which is what makes an
archive restorable into either backend.

Backup archive (``prodsec db backup``), a zip, format ``prodsec-backup`` version 1::

    manifest.json          format, format_version, schema_revision, created_at, source_dialect,
                           tables: [{name, file, rows, columns, sha256}],
                           blobs: [{sha256, size, file}], missing_blobs: [sha256...]
    tables/<table>.jsonl   one JSON object per row, every column, ordered by primary key
    evidence/<sha256>      each evidence file a row references (content-addressed)

Organisation export (``prodsec export``), format ``prodsec-organisation-export`` version 1: one
JSON document ``{format, format_version, schema_revision, exported_at, organisation: {id, name,
created_at}, members: [{id, email, name, role, active}], tables: {<table>: [row...]},
blobs: [{sha256, size[, content_base64]}]}``. Written as ``FILE.json`` the blobs are inlined
(base64); written as ``FILE.zip`` the document is ``organisation.json`` and the blobs are
``evidence/<sha256>`` members. ``tables`` holds every table with an ``org_id`` column except
the secrets (API tokens, sessions); members travel by e-mail and role, never with password
hashes: an imported member new to the target workspace has no password until an admin sets one
(or issues a token). Integer counter ids (``audit_events.id``) are workspace-wide and are
reassigned on import.

The export document carries ``signature: {algorithm: "hmac-sha256", key_id, value}``, an HMAC
under the exporting server's secret key (``prodsec.workspace.keys``) over the canonical JSON of
the document without the signature and without the blobs' inline content (each blob is bound by
its SHA-256 instead). An import checks it with this server's key, or with the exporting
server's key when given one (``--export-key-file``): a document edited after export is always
refused; one that is unsigned or signed with an unknown key is refused unless the operator
passes ``--trust-unsigned``, which the ``org.import`` event records, and whose history is then
kept only inside that event. A verified history is re-keyed into the new chain with this
server's key (the ``org.import`` event keeps the source chain's head hash and key id).

An import only creates: every foreign key must point at a row the export itself carries (then
mapped to the id the import gave it), otherwise the import is refused naming the JSON path; a
member whose e-mail already has an account here is not attached to the imported organisation
(an admin adds them), so an export cannot pull an existing account into another organisation.

Archives are read through ``SafeZip``: member count, per-member and total uncompressed size and
the compression ratio are bounded (``ArchiveLimits``), checked from the zip directory and again
while streaming; duplicated, absolute, ``..`` and unexpected member names are refused. Every
value that names a file in the evidence store must be a SHA-256 (64 lowercase hex digits), and
a blob is written to a temporary file inside the store and renamed only once its content
matches its hash, so no import or restore can write outside the store or leave a file behind.

Blobs are staged in ``<evidence>/.staging-*`` and moved into the store only after the database
commit, under a lock the kernel releases if the process dies; ``recover_staging`` (run at the
start of every transfer) publishes staged blobs a committed row references and deletes the
rest. So a killed restore or import leaves neither rows nor orphaned evidence files.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SAWarning
from sqlalchemy.orm import Session

from prodsec.db.engine import Database, alembic_config, upgrade_schema
from prodsec.db.guards import text_problem
from prodsec.errors import InputError, NotFoundError
from prodsec.workspace import audit, keys
from prodsec.workspace.compliance import blob_path, is_sha256
from prodsec.workspace.context import ROLES, Actor
from prodsec.workspace.keys import SecretKey

BACKUP_FORMAT, BACKUP_VERSION = "prodsec-backup", 1
EXPORT_FORMAT, EXPORT_VERSION = "prodsec-organisation-export", 1
EXPORT_MEMBER = "organisation.json"
# Transient state, not workspace data: the login limiter's recent failures. Left out of
# backups, restores, content digests and the empty-target check (a new server's failed logins
# must not block a restore into it).
TRANSIENT = frozenset({"login_failures"})
NOT_DATA = frozenset({"alembic_version"}) | TRANSIENT
# Tables never exported: secrets stay in their workspace; the organisation and its members
# travel in their own sections of the document.
NOT_EXPORTED = frozenset({"api_tokens", "web_sessions", "memberships", "organisations", "users"})
BATCH = 1000
MAX_PROBLEMS = 20
REQUIRED_BLOBS = frozenset({("evidence", "sha256")})
BACKUP_MEMBERS = re.compile(r"manifest\.json|tables/[a-z0-9_]{1,63}\.jsonl|evidence/[0-9a-f]{64}")
EXPORT_MEMBERS = re.compile(re.escape(EXPORT_MEMBER) + r"|evidence/[0-9a-f]{64}")


def _no_checkpoint(stage: str) -> None:
    """Production: nothing."""


#: Test seam, called at a fixed point inside an import's write transaction; a test replaces it
#: (in a child process) to wait there and SIGKILL the process at a known point.
checkpoint: Callable[[str], None] = _no_checkpoint


class TransferError(InputError):
    """A backup, export or target that cannot be used; the message names the file."""


class ArchiveError(TransferError):
    """The archive is not a prodsec backup, is damaged or was tampered with."""


class TargetNotEmpty(TransferError):
    """A restore only goes into an empty database, so nothing is silently merged."""


class OrganisationExists(TransferError):
    """The target already has an organisation of that name."""


class ArchiveTooLarge(ArchiveError):
    """An archive that would expand beyond ``ArchiveLimits`` (a decompression bomb, say)."""


class SignatureError(TransferError):
    """An export whose signature is missing, made with another key, or does not match."""


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
    return [t for t in meta.sorted_tables if t.name not in NOT_DATA]


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


# ---- bounded archives -----------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveLimits:
    """How far an archive (backup, export) may expand. A zip's directory states each member's
    sizes; they are checked before anything is read and enforced again while streaming."""

    max_members: int = 200_000
    max_member_bytes: int = 1 << 30  # one table file or evidence file (evidence: 50 MiB)
    max_total_bytes: int = 8 << 30  # the whole archive, uncompressed
    max_ratio: int = 250  # uncompressed : compressed, per member and overall
    ratio_floor: int = 1 << 20  # below this size a member may compress better (tiny JSON)

    @classmethod
    def from_env(cls) -> ArchiveLimits:
        """``PRODSEC_ARCHIVE_MAX_BYTES`` raises (or lowers) the total for large workspaces."""
        total = os.environ.get("PRODSEC_ARCHIVE_MAX_BYTES")
        return cls(max_total_bytes=int(total)) if total and total.isdigit() else cls()


ZIP_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                   NotImplementedError, RuntimeError, ValueError)


class SafeZip:
    """A zip whose directory was checked against ``ArchiveLimits`` and a pattern of allowed
    member names (no duplicates, nothing absolute, no ``..``), read only through bounded
    streams."""

    def __init__(self, zf: zipfile.ZipFile, source: Path, limits: ArchiveLimits,
                 allowed: re.Pattern[str]) -> None:
        self.zf, self.source, self.limits = zf, source, limits
        self.infos = {info.filename: info for info in zf.infolist()}
        self._check_directory(zf.infolist(), allowed)

    def _check_directory(self, infos: list[zipfile.ZipInfo], allowed: re.Pattern[str]) -> None:
        limits, source = self.limits, self.source
        if len(infos) > limits.max_members:
            raise ArchiveTooLarge(f"{source}: {len(infos)} members, more than the limit of "
                                  f"{limits.max_members}")
        duplicated = sorted(n for n, k in Counter(i.filename for i in infos).items() if k > 1)
        if duplicated:
            raise ArchiveError(f"{source}: member {duplicated[0]} appears more than once "
                               "(which copy is meant is ambiguous); nothing was read")
        total = packed = 0
        for info in infos:
            name = info.filename
            if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") \
                    or "\0" in name:
                raise ArchiveError(f"{source}: member {name!r} has an absolute or '..' path")
            if not allowed.fullmatch(name):
                raise ArchiveError(f"{source}: unexpected member {name!r}")
            if info.file_size > limits.max_member_bytes:
                raise ArchiveTooLarge(f"{source}: {name} expands to {info.file_size} bytes, more "
                                      f"than the limit of {limits.max_member_bytes}")
            if info.file_size > limits.ratio_floor and \
                    info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise ArchiveTooLarge(f"{source}: {name} has a compression ratio above "
                                      f"{limits.max_ratio}:1 ({info.compress_size} bytes expand "
                                      f"to {info.file_size}); refused as a decompression bomb")
            total += info.file_size
            packed += info.compress_size
        if total > limits.max_total_bytes:
            raise ArchiveTooLarge(f"{source}: expands to {total} bytes, more than the limit of "
                                  f"{limits.max_total_bytes} (PRODSEC_ARCHIVE_MAX_BYTES)")
        if total > limits.ratio_floor and total > limits.max_ratio * max(packed, 1):
            raise ArchiveTooLarge(f"{source}: a compression ratio above {limits.max_ratio}:1 "
                                  "overall; refused as a decompression bomb")

    def names(self) -> set[str]:
        return set(self.infos)

    def open(self, name: str) -> IO[bytes]:
        """A stream of one member that fails once it yields more than the directory said."""
        info = self.infos.get(name)
        if info is None:
            raise KeyError(name)
        try:
            inner = self.zf.open(info)
        except ZIP_READ_ERRORS as exc:
            raise ArchiveError(f"{self.source}: {name} cannot be read ({exc})") from None
        return io.BufferedReader(_BoundedMember(inner, f"{self.source}: {name}",
                                                min(info.file_size,
                                                    self.limits.max_member_bytes)))

    def read(self, name: str) -> bytes:
        with self.open(name) as data:
            return data.read()


class _BoundedMember(io.RawIOBase):
    """Counts what a member really expands to; damaged or oversized data is an ArchiveError."""

    def __init__(self, inner: IO[bytes], where: str, limit: int) -> None:
        self.inner, self.where, self.limit, self.seen = inner, where, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.inner.read(len(buffer))
        except ZIP_READ_ERRORS as exc:
            raise ArchiveError(f"{self.where} is damaged ({exc})") from None
        self.seen += len(data)
        if self.seen > self.limit:
            raise ArchiveTooLarge(f"{self.where} expands beyond its declared size or the limit "
                                  f"of {self.limit} bytes; refused")
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


# ---- staged blobs ---------------------------------------------------------------------------


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


# ---- backup ---------------------------------------------------------------------------------


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


# ---- restore --------------------------------------------------------------------------------


def restore(database: Database, source: Path, limits: ArchiveLimits | None = None, *,
            trust_unsigned: bool = False) -> TransferResult:
    """Restore a backup into an empty database of either backend, all or nothing.

    The manifest (which binds every member by its SHA-256) must be signed with this server's
    key, the key the restored audit chain needs anyway; ``trust_unsigned`` accepts an unsigned
    backup or one signed with another key (noted), never an edited one.
    """
    started = time.perf_counter()
    result = TransferResult(source)
    with _open_zip(source, limits or ArchiveLimits.from_env()) as zf:
        manifest = read_manifest(zf, source)
        provenance = verify_signature(
            source, "manifest.json: ", manifest, keys.require_key(), trust_unsigned,
            "set PRODSEC_SECRET_KEY or PRODSEC_SECRET_KEY_FILE to the key of the server that "
            "made it (its audit trail verifies only under that key) or, if you know where the "
            "file comes from, pass --trust-unsigned; nothing was restored")
        if not provenance.verified:
            result.notes.append("signature not verified (--trust-unsigned)")
        verify_archive(zf, manifest, source)
        _refuse_non_empty(database, source)
        migrate_to(database, manifest["schema_revision"], source)
        staging = StagedBlobs(database.evidence_dir)
        try:
            with database.engine.begin() as conn:
                _refuse_non_empty_conn(conn, database, source)
                for blob in manifest["blobs"]:
                    with zf.open(blob["file"]) as data:
                        staging.add(blob["sha256"], data, f"{source}: {blob['file']}")
                result.tables = _insert_archive(conn, zf, manifest, source, result.notes)
                _reset_counters(conn)
        except BaseException:
            staging.discard()
            raise
        staging.publish()
    upgrade_schema(database)
    result.blobs, result.seconds = len(manifest["blobs"]), time.perf_counter() - started
    return result


@contextlib.contextmanager
def _open_zip(source: Path, limits: ArchiveLimits) -> Iterator[SafeZip]:
    try:
        zf = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise TransferError(f"{source}: no such file") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"{source}: not a prodsec backup archive ({exc})") from None
    with zf:
        yield SafeZip(zf, source, limits, BACKUP_MEMBERS)


def read_manifest(zf: SafeZip, source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(zf.read("manifest.json"))
    except KeyError:
        raise ArchiveError(f"{source}: not a prodsec backup (no manifest.json)") from None
    except ValueError as exc:
        raise ArchiveError(f"{source}: manifest.json is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise ArchiveError(f"{source}: manifest.json: $.format: expected {BACKUP_FORMAT!r}")
    if manifest.get("format_version") != BACKUP_VERSION:
        raise ArchiveError(f"{source}: manifest.json: $.format_version: "
                           f"{manifest.get('format_version')!r} is not supported (expected "
                           f"{BACKUP_VERSION})")
    for key in ("schema_revision", "tables", "blobs"):
        if key not in manifest:
            raise ArchiveError(f"{source}: manifest.json: $.{key}: missing")
    _check_manifest_entries(manifest, source)
    return manifest


def _check_manifest_entries(manifest: dict[str, Any], source: Path) -> None:
    """Each table names its own member and columns; each blob's name is its SHA-256."""
    if not isinstance(manifest["tables"], list) or not isinstance(manifest["blobs"], list):
        raise ArchiveError(f"{source}: manifest.json: $.tables and $.blobs must be lists")
    for i, entry in enumerate(manifest["tables"]):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or entry.get("file") != f"tables/{name}.jsonl" \
                or not isinstance(entry.get("columns"), list) \
                or not all(isinstance(c, str) for c in entry["columns"]):
            raise ArchiveError(f"{source}: manifest.json: $.tables[{i}]: expected name, "
                               "file tables/<name>.jsonl and a list of columns")
    for i, blob in enumerate(manifest["blobs"]):
        sha = blob.get("sha256") if isinstance(blob, dict) else None
        if not is_sha256(sha) or blob.get("file") != f"evidence/{sha}":
            raise ArchiveError(f"{source}: manifest.json: $.blobs[{i}]: expected a sha256 of "
                               "64 lowercase hex digits and file evidence/<sha256>")


def verify_archive(zf: SafeZip, manifest: dict[str, Any], source: Path) -> None:
    """Check every member against the manifest before the database is touched."""
    members = [(e["file"], e["sha256"]) for e in manifest["tables"]]
    members += [(b["file"], b["sha256"]) for b in manifest["blobs"]]
    for member, expected in members:
        try:
            with zf.open(member) as data:
                actual = sha256_of(data)
        except KeyError:
            raise ArchiveError(f"{source}: {member} is listed in the manifest but missing") from None
        except (zipfile.BadZipFile, OSError) as exc:  # zip's own CRC check
            raise ArchiveError(f"{source}: {member} is damaged ({exc})") from None
        if actual != expected:
            raise ArchiveError(f"{source}: {member} does not match the SHA-256 in the manifest "
                               "(the archive was damaged or edited); nothing was restored")


def _refuse_non_empty(database: Database, source: Path) -> None:
    with database.engine.connect() as conn:
        _refuse_non_empty_conn(conn, database, source)


def _refuse_non_empty_conn(conn: Connection, database: Database, source: Path) -> None:
    filled = [t.name for t in reflect(conn)
              if conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first()]
    if filled:
        raise TargetNotEmpty(f"cannot restore {source} into {database.url}: the database is not "
                             f"empty (rows in {', '.join(filled)}); restore into a new database")


def migrate_to(database: Database, revision: str, source: Path) -> None:
    """Bring the (empty) target to the archive's schema revision, up or down."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    config = alembic_config(database)
    script = ScriptDirectory.from_config(config)
    try:
        script.get_revision(revision)
    except CommandError:
        raise ArchiveError(f"{source}: schema revision {revision!r} is unknown to this prodsec "
                           "(made by a newer version? upgrade prodsec first)") from None
    with database.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == revision:
        return
    below = {r.revision for r in script.iterate_revisions(current, "base")} if current else set()
    if revision in below:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


def _insert_archive(conn: Connection, zf: SafeZip, manifest: dict[str, Any],
                    source: Path, notes: list[str]) -> dict[str, int]:
    by_name = {e["name"]: e for e in manifest["tables"]}
    tables = {t.name: t for t in reflect(conn)}
    unknown = sorted(set(by_name) - set(tables))
    if unknown:
        raise ArchiveError(f"{source}: tables {', '.join(unknown)} do not exist at schema "
                           f"revision {manifest['schema_revision']}")
    counts = {}
    for name, table in tables.items():
        if name in by_name:
            entry = by_name[name]
            with zf.open(entry["file"]) as data:
                counts[name] = _insert_lines(conn, table, entry["columns"], data,
                                             f"{source}: {entry['file']}", notes)
    return counts


def _insert_lines(conn: Connection, table: sa.Table, columns: list[str], data: IO[bytes],
                  where: str, notes: list[str]) -> int:
    missing = [c for c in columns if c not in table.c]
    if missing:
        raise ArchiveError(f"{where}: {table.name}.{missing[0]} does not exist in the target")
    timed = [table.c[c] for c in columns
             if isinstance(table.c[c].type, (sa.Date, sa.DateTime))]
    texts = [c for c in columns if isinstance(table.c[c].type, sa.String)]
    blob_names = [c for c in blob_columns(table) if c in columns]
    to_postgresql = conn.dialect.name == "postgresql"
    count, batch = 0, []
    for number, raw in enumerate(data, start=1):
        try:
            row = json.loads(raw)
            for column in timed:
                row[column.name] = from_json(column, row.get(column.name))
        except (ValueError, TypeError) as exc:
            raise ArchiveError(f"{where} line {number}: not a valid row ({exc})") from None
        for name in blob_names:
            if row.get(name) is not None and not is_sha256(row[name]):
                raise ArchiveError(f"{where} line {number}: {name}: not a SHA-256 (64 "
                                   "lowercase hex digits)")
        for name in texts:
            if isinstance(row.get(name), str) and text_problem(row[name]):
                row[name] = _storable(row[name], to_postgresql, f"{where} line {number}: "
                                      f"{name}", notes)
        batch.append({c: row.get(c) for c in columns})
        if len(batch) >= BATCH:
            count += _insert_batch(conn, table, batch, where)
            batch = []
    if batch:
        count += _insert_batch(conn, table, batch, where)
    return count


def _storable(value: str, to_postgresql: bool, where: str, notes: list[str]) -> str:
    """Text a backup holds but the target cannot store. A NUL (SQLite keeps it, PostgreSQL
    cannot) becomes U+FFFD on PostgreSQL, noted, so every backup restores into both backends;
    a lone surrogate cannot come from a database at all: the archive is refused."""
    if re.search("[\ud800-\udfff]", value):
        raise ArchiveError(f"{where}: contains a lone surrogate (not valid Unicode text)")
    if not to_postgresql:
        return value
    if len(notes) < MAX_PROBLEMS:
        notes.append(f"{where}: NUL characters replaced by U+FFFD (PostgreSQL cannot store NUL)")
    return value.replace("\0", "\ufffd")


def _insert_batch(conn: Connection, table: sa.Table, rows: list[dict[str, Any]],
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


def _reset_counters(conn: Connection) -> None:
    """PostgreSQL sequences do not follow explicit ids; move each past the restored maximum."""
    if conn.dialect.name != "postgresql":
        return
    quote = conn.dialect.identifier_preparer.quote
    for table in reflect(conn):
        column = counter_pk(table)
        if column is None:
            continue
        sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                {"t": table.name, "c": column}).scalar()
        if sequence:
            conn.execute(sa.text(f"SELECT setval(:s, (SELECT COALESCE(MAX({quote(column)}), 0) "
                                 f"+ 1 FROM {quote(table.name)}), false)"), {"s": sequence})


# ---- export ---------------------------------------------------------------------------------


def export_tables(tables: Iterable[sa.Table]) -> list[sa.Table]:
    """Tables an organisation owns (an ``org_id`` column), minus secrets and the org itself."""
    return [t for t in tables if "org_id" in t.c and t.name not in NOT_EXPORTED]


def export_org(database: Database, org_ref: str, target: Path,
               key: SecretKey | None = None) -> TransferResult:
    """Write one organisation's data as JSON (blobs inlined) or as a zip (blobs as members),
    signed with ``key`` (the server's key by default)."""
    key = key or keys.require_key()
    started = time.perf_counter()
    recover_staging(database)
    with snapshot(database) as conn:
        document, refs, required = _export_document(conn, org_ref)
    present, missing = present_blobs(database.evidence_dir, refs, required)
    document["blobs"] = [{"sha256": sha} for sha in present]
    result = TransferResult(target, {k: len(v) for k, v in document["tables"].items()},
                            len(document["blobs"]), organisation=document["organisation"]["name"])
    as_zip = target.suffix.lower() == ".zip"
    with atomic_file(target) as tmp:
        if as_zip:
            _write_export_zip(tmp, document, database.evidence_dir, key)
        else:
            sign_document(document, key)
            for blob in document["blobs"]:
                path = blob_path(database.evidence_dir, blob["sha256"])
                blob["content_base64"] = base64.b64encode(path.read_bytes()).decode("ascii")
            tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    result.notes = [f"evidence file {sha} is referenced but missing from the store"
                    for sha in missing]
    result.seconds = time.perf_counter() - started
    return result


def _export_document(conn: Connection, org_ref: str
                     ) -> tuple[dict[str, Any], set[str], set[str]]:
    """The document without its blobs, and the files it references (all, required)."""
    tables = {t.name: t for t in reflect(conn)}
    orgs = tables["organisations"]
    org = conn.execute(sa.select(orgs).where((orgs.c.id == org_ref) | (orgs.c.name == org_ref))
                       ).mappings().first()
    if org is None:
        names = conn.execute(sa.select(orgs.c.name)).scalars()
        raise NotFoundError("organisation", org_ref, list(names))
    data: dict[str, list[dict[str, Any]]] = {}
    refs: set[str] = set()
    required: set[str] = set()
    for table in export_tables(tables.values()):
        counter = counter_pk(table)
        rows = [{k: v for k, v in row.items() if k != counter}
                for row in dump_rows(conn, table, table.c.org_id == org["id"])]
        for row in rows:
            refs.update(blob_refs(table, row))
            required.update(blob_refs(table, row, required_only=True))
        data[table.name] = rows
    document = {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION,
                "schema_revision": schema_revision(conn),
                "exported_at": to_json(dt.datetime.now(dt.UTC)),
                "organisation": {k: to_json(v) for k, v in org.items()},
                "members": _members(conn, tables, org["id"]), "tables": data, "blobs": []}
    return document, refs, required


def _members(conn: Connection, tables: dict[str, sa.Table], org_id: str) -> list[dict[str, Any]]:
    users, memberships = tables["users"], tables["memberships"]
    query = (sa.select(users.c.id, users.c.email, users.c.name, users.c.active,
                       memberships.c.role)
             .join(memberships, memberships.c.user_id == users.c.id)
             .where(memberships.c.org_id == org_id).order_by(users.c.email))
    return [dict(row) for row in conn.execute(query).mappings()]


def _write_export_zip(tmp: Path, document: dict[str, Any], evidence_dir: Path,
                      key: SecretKey) -> None:
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for blob in document["blobs"]:
            path = blob_path(evidence_dir, blob["sha256"])
            with path.open("rb") as source, zf.open(f"evidence/{blob['sha256']}", "w",
                                                    force_zip64=True) as out:
                _sha, blob["size"] = copy_hashed(source, out)
        sign_document(document, key)
        zf.writestr(EXPORT_MEMBER, json.dumps(document, indent=1, ensure_ascii=False))


def signed_content(document: dict[str, Any]) -> bytes:
    """What the signature covers: the canonical JSON of the document without the signature and
    without inline blob content (each blob is bound by its SHA-256, checked on import)."""
    body = {k: v for k, v in document.items() if k != "signature"}
    if isinstance(body.get("blobs"), list):
        body["blobs"] = [{k: v for k, v in blob.items() if k != "content_base64"}
                         if isinstance(blob, dict) else blob for blob in body["blobs"]]
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii")


def sign_document(document: dict[str, Any], key: SecretKey) -> None:
    document.pop("signature", None)
    document["signature"] = {"algorithm": keys.ALGORITHM, "key_id": key.key_id,
                             "value": key.mac(signed_content(document))}


# ---- import ---------------------------------------------------------------------------------


@dataclass
class ExportFile:
    """A parsed export and where its blobs come from (inline base64 or zip members)."""

    path: Path
    document: Any
    zf: SafeZip | None

    def blob(self, index: int) -> IO[bytes]:
        entry = self.document["blobs"][index]
        if self.zf is not None:
            return self.zf.open(f"evidence/{entry['sha256']}")
        try:
            return io.BytesIO(base64.b64decode(entry["content_base64"], validate=True))
        except ValueError:
            raise ExportFormatError(self.path, [(f"$.blobs[{index}].content_base64",
                                                 "not base64")]) from None


@contextlib.contextmanager
def read_export(path: Path, limits: ArchiveLimits | None = None) -> Iterator[ExportFile]:
    """Open a JSON or zip export; anything unreadable is an ExportFormatError naming the file."""
    limits = limits or ArchiveLimits.from_env()
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
        size = path.stat().st_size
    except OSError as exc:
        raise TransferError(f"{path}: cannot read: {exc.strerror}") from None
    zf = None
    try:
        if head == b"PK\x03\x04":
            zf = SafeZip(zipfile.ZipFile(path), path, limits, EXPORT_MEMBERS)
            raw = zf.read(EXPORT_MEMBER)
        else:
            if size > limits.max_member_bytes:
                raise ArchiveTooLarge(f"{path}: {size} bytes, more than the limit of "
                                      f"{limits.max_member_bytes} for one document")
            raw = path.read_bytes()
        document = json.loads(raw)
    except KeyError:
        raise ExportFormatError(path, [("$", f"the zip has no {EXPORT_MEMBER}")]) from None
    except (zipfile.BadZipFile, ValueError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise ExportFormatError(path, [("$", f"not JSON: {exc.msg} at line {exc.lineno} "
                                                 f"column {exc.colno}")]) from None
        if isinstance(exc, UnicodeDecodeError):
            raise ExportFormatError(path, [("$", "not JSON (not UTF-8 text)")]) from None
        raise ExportFormatError(path, [("$", f"not a readable zip ({exc})")]) from None
    except BaseException:
        if zf is not None:
            zf.zf.close()
        raise
    try:
        yield ExportFile(path, document, zf)
    finally:
        if zf is not None:
            zf.zf.close()


@dataclass(frozen=True)
class Provenance:
    """What the import could establish about where the document came from."""

    verified: bool  # the signature matched under the key used
    key_id: str | None  # the key id the document claims to be signed with
    trust_unsigned: bool

    def to_dict(self) -> dict[str, Any]:
        return {"verified": self.verified, "key_id": self.key_id,
                "trust_unsigned": self.trust_unsigned}


def import_org(database: Database, source: Path, org_name: str | None, actor_email: str, *,
               export_key: SecretKey | None = None, trust_unsigned: bool = False,
               limits: ArchiveLimits | None = None) -> TransferResult:
    """Create an organisation from an export, in one transaction, keeping ids when it can.

    The signature is checked first with ``export_key`` (the exporting server's key) or this
    server's key. If none of the export's ids exist in the target, rows keep their ids and a
    verified history is re-keyed into the new chain, followed by an ``org.import`` event.
    Otherwise every id is replaced by a fresh one, and the history is kept verbatim inside the
    new chain's first event, ``org.import`` (``after.history``, with ``after.id_map``); so is an
    unverified history (``trust_unsigned``).
    """
    started = time.perf_counter()
    recover_staging(database)
    local_key = keys.require_key()
    with read_export(source, limits) as export:
        with database.engine.connect() as conn:
            tables = {t.name: t for t in reflect(conn)}
        problems = validate_export(export, tables)
        if problems:
            raise ExportFormatError(source, problems)
        provenance = check_signature(export, export_key or local_key, trust_unsigned)
        problems = _check_chain(export.document["tables"].get("audit_events", []),
                                export_key or local_key, provenance)
        if problems:
            raise ExportFormatError(source, problems)
        result = _import_validated(database, export, tables, org_name, actor_email,
                                   provenance, local_key)
    result.seconds = time.perf_counter() - started
    return result


def check_signature(export: ExportFile, key: SecretKey, trust_unsigned: bool) -> Provenance:
    return verify_signature(
        export.path, "", export.document, key, trust_unsigned,
        "give the exporting server's key (--export-key-file) or, if you know where the file "
        "comes from, pass --trust-unsigned (recorded in the audit trail); nothing was imported")


def verify_signature(path: Path, member: str, document: dict[str, Any], key: SecretKey,
                     trust_unsigned: bool, hint: str) -> Provenance:
    """A document edited after it was signed is always refused; one that is unsigned or signed
    with a key we do not have only with ``trust_unsigned``."""
    signature, where = document.get("signature"), f"{path}: {member}"
    if not (isinstance(signature, dict) and signature.get("algorithm") == keys.ALGORITHM
            and isinstance(signature.get("key_id"), str)
            and isinstance(signature.get("value"), str)):
        if trust_unsigned:
            return Provenance(False, None, True)
        raise SignatureError(f"{where}$.signature: not signed with {keys.ALGORITHM}; {hint}")
    if signature["key_id"] != key.key_id:
        if trust_unsigned:
            return Provenance(False, signature["key_id"], True)
        raise SignatureError(f"{where}$.signature: signed with key id {signature['key_id']}, "
                             f"but the key in use ({key.source}) has id {key.key_id}; {hint}")
    if not key.verify(signed_content(document), signature["value"]):
        raise SignatureError(f"{where}$.signature: does not match the content: the file was "
                             "edited or damaged after it was signed; nothing was written")
    return Provenance(True, key.key_id, trust_unsigned)


def _import_validated(database: Database, export: ExportFile, tables: dict[str, sa.Table],
                      org_name: str | None, actor_email: str, provenance: Provenance,
                      local_key: SecretKey) -> TransferResult:
    doc = export.document
    name = (org_name or doc["organisation"]["name"]).strip()
    result = TransferResult(export.path, organisation=name)
    staging = StagedBlobs(database.evidence_dir)
    try:
        with database.transaction() as session:
            conn = session.connection()
            _refuse_existing_org(conn, tables, name, export.path)
            for index, blob in enumerate(doc["blobs"]):
                with export.blob(index) as data:
                    staging.add(blob["sha256"], data, f"{export.path}: $.blobs[{index}]")
            ids = IdMap(conn, doc, tables, export.path)
            history_in_chain = ids.verbatim and provenance.verified
            org_id = ids.org(doc["organisation"]["id"])
            _insert_org(conn, tables, doc, org_id, name)
            result.notes += _insert_members(conn, tables, doc, ids, org_id)
            result.tables = _insert_org_tables(conn, tables, doc, ids, export.path,
                                               local_key if history_in_chain else None)
            _record_import(session, doc, ids, Actor("import", actor_email, org_id, "admin"),
                           export.path, provenance, history_in_chain)
            result.notes.append("ids kept" if ids.verbatim else "ids remapped (they exist here)")
            if not provenance.verified:
                result.notes.append("signature not verified (--trust-unsigned): the history is "
                                    "kept inside the org.import event")
    except BaseException:
        staging.discard()
        raise
    staging.publish()
    result.blobs = len(doc["blobs"])
    return result


def _refuse_existing_org(conn: Connection, tables: dict[str, sa.Table], name: str,
                         source: Path) -> None:
    orgs = tables["organisations"]
    if conn.execute(sa.select(orgs.c.id).where(orgs.c.name == name)).first():
        raise OrganisationExists(f"cannot import {source}: organisation {name!r} already exists "
                                 "here; use --org NEW_NAME to import it under another name")


class IdMap:
    """Old id → id in the target, only for rows the import itself creates: the same ids when
    none collide, otherwise all fresh. Any other id is refused, so no imported row can point
    at a row of another organisation."""

    def __init__(self, conn: Connection, doc: dict[str, Any], tables: dict[str, sa.Table],
                 source: Path) -> None:
        self.tables, self.source = tables, source
        self.created: dict[str, set[str]] = {"organisations": {doc["organisation"]["id"]}}
        for name, rows in doc["tables"].items():
            if counter_pk(tables[name]) is None and "id" in tables[name].c:
                self.created[name] = {row["id"] for row in rows}
        self.verbatim = not _any_id_taken(conn, doc, tables)
        self.maps: dict[str, dict[str, str]] = {}
        self._plans: dict[str, list[tuple[sa.Column[Any], str | None]]] = {}

    def get(self, table: str, old: str, where: str = "") -> str:
        if old not in self.created.get(table, ()):
            raise TransferError(f"{self.source}: {where or table}: refers to {table} {old!r}, "
                                "which the export does not contain; nothing was imported")
        if self.verbatim:
            return old
        return self.maps.setdefault(table, {}).setdefault(old, uuid.uuid4().hex)

    def org(self, old: str) -> str:
        return self.get("organisations", old)

    def plan(self, table: sa.Table) -> list[tuple[sa.Column[Any], str | None]]:
        """Each column with the table whose ids it holds (worked out once per table)."""
        if table.name not in self._plans:
            self._plans[table.name] = [(c, _points_to(table, c)) for c in table.columns]
        return self._plans[table.name]


def _any_id_taken(conn: Connection, doc: dict[str, Any], tables: dict[str, sa.Table]) -> bool:
    wanted = {"organisations": [doc["organisation"]["id"]]}
    for name, rows in doc["tables"].items():
        if counter_pk(tables[name]) is None and "id" in tables[name].c:
            wanted[name] = [row["id"] for row in rows]
    for name, ids in wanted.items():
        column = tables[name].c.id
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            if conn.execute(sa.select(column).where(column.in_(chunk)).limit(1)).first():
                return True
    return False


def _insert_org(conn: Connection, tables: dict[str, sa.Table], doc: dict[str, Any],
                org_id: str, name: str) -> None:
    orgs = tables["organisations"]
    row = {**doc["organisation"], "id": org_id, "name": name}
    conn.execute(sa.insert(orgs), [{c.name: from_json(c, row.get(c.name))
                                    for c in orgs.columns if c.name in row}])


def _insert_members(conn: Connection, tables: dict[str, sa.Table], doc: dict[str, Any],
                    ids: IdMap, org_id: str) -> list[str]:
    """Members by e-mail, each as a new account without a password. An e-mail that already
    has an account here is not attached (an export must not pull an existing account, maybe of
    another organisation, into the one it creates): returned as a note for an admin."""
    users, memberships = tables["users"], tables["memberships"]
    notes = []
    for member in doc["members"]:
        email = member["email"].strip().lower()
        if conn.execute(sa.select(users.c.id).where(users.c.email == email)).first():
            notes.append(f"member {email} not added: an account with that e-mail exists here "
                         "and an import never attaches an existing account; an admin can add "
                         "it to the organisation")
            continue
        user_id = uuid.uuid4().hex
        conn.execute(sa.insert(users), [{
            "id": user_id, "email": email, "name": member.get("name", ""),
            "password_hash": None, "active": member.get("active", True),
            "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0)}])
        ids.maps.setdefault("users", {})[member["id"]] = user_id
        conn.execute(sa.insert(memberships), [{"id": uuid.uuid4().hex, "user_id": user_id,
                                               "org_id": org_id, "role": member["role"]}])
    return notes


def _insert_org_tables(conn: Connection, tables: dict[str, sa.Table], doc: dict[str, Any],
                       ids: IdMap, source: Path, rekey: SecretKey | None) -> dict[str, int]:
    """Rows of every exported table, ids mapped. The history goes into the chain only when
    ``rekey`` is given (ids kept and signature verified), re-hashed under this server's key."""
    counts: dict[str, int] = {}
    ordered = [t for t in tables.values() if t.name in doc["tables"]]
    for position, table in enumerate(ordered):
        if position == len(ordered) // 2:
            checkpoint(f"inserting {table.name}")
        rows = doc["tables"][table.name]
        if table.name == "audit_events" and rekey is None:
            counts[table.name] = 0  # kept inside the org.import event instead
            continue
        remapped = [_remap_row(table, row, ids, f"$.tables.{table.name}[{i}]")
                    for i, row in enumerate(rows)]
        if table.name == "audit_events" and rekey is not None:
            remapped = _rekeyed(remapped, rekey)
        for start in range(0, len(remapped), BATCH):
            _insert_batch(conn, table, remapped[start:start + BATCH], source)
        counts[table.name] = len(rows)
    return counts


def _rekeyed(events: list[dict[str, Any]], key: SecretKey) -> list[dict[str, Any]]:
    """A verified history, chained again under this server's key (same content and order)."""
    prev, out = audit.GENESIS, []
    for event in sorted(events, key=lambda e: e["seq"]):
        fields = audit.hashed_fields(event)
        digest = audit.event_hash(prev, fields, key)
        out.append({**event, "prev_hash": prev, "hash": digest, "key_id": key.key_id})
        prev = digest
    return out


def _remap_row(table: sa.Table, row: dict[str, Any], ids: IdMap, where: str) -> dict[str, Any]:
    out = {}
    for column, target in ids.plan(table):
        if column.name not in row:
            continue
        value = row[column.name]
        if value is not None and target == "users":
            mapped = ids.maps.get("users", {}).get(value)
            if mapped is None:
                raise TransferError(f"{ids.source}: {where}.{column.name}: refers to a user "
                                    "the import did not create; nothing was imported")
            value = mapped
        elif value is not None and target is not None:
            value = ids.get(target, value, f"{where}.{column.name}")
        out[column.name] = from_json(column, value)
    return out


def _points_to(table: sa.Table, column: sa.Column[Any]) -> str | None:
    """Which table's ids this column holds: its own (primary key), a foreign key's, or the
    organisation's (``org_id`` without a foreign key, as in the audit trail)."""
    if column.primary_key and counter_pk(table) is None:
        return table.name
    for fk in column.foreign_keys:
        return str(fk.column.table.name)
    return "organisations" if column.name == "org_id" else None


def _record_import(session: Session, doc: dict[str, Any], ids: IdMap, actor: Actor,
                   source: Path, provenance: Provenance, history_in_chain: bool) -> None:
    events = sorted(doc["tables"].get("audit_events", []), key=lambda e: e["seq"])
    after: dict[str, Any] = {
        "source_file": source.name, "source_org_id": doc["organisation"]["id"],
        "source_org_name": doc["organisation"]["name"], "exported_at": doc.get("exported_at"),
        "ids": "kept" if ids.verbatim else "remapped",
        "signature": provenance.to_dict(),
        "source_chain_head": events[-1]["hash"] if events else None,
        "rows": {name: len(rows) for name, rows in doc["tables"].items()}}
    if not history_in_chain:
        after["history"] = events
    if not ids.verbatim:
        after["id_map"] = ids.maps
    audit.record(session, actor, "org.import", "organisation", actor.org_id, None, after)


# ---- validation -----------------------------------------------------------------------------


def validate_export(export: ExportFile, tables: dict[str, sa.Table]) -> list[tuple[str, str]]:
    """Every problem in the document, each with its JSON path, before anything is written."""
    doc, problems = export.document, []
    if not isinstance(doc, dict):
        return [("$", "expected a JSON object")]
    if doc.get("format") != EXPORT_FORMAT:
        return [("$.format", f"expected {EXPORT_FORMAT!r}, got {doc.get('format')!r}")]
    if doc.get("format_version") != EXPORT_VERSION:
        return [("$.format_version", f"{doc.get('format_version')!r} is not supported "
                                     f"(this prodsec reads {EXPORT_VERSION})")]
    for key, kind in (("organisation", dict), ("members", list), ("tables", dict),
                      ("blobs", list)):
        if not isinstance(doc.get(key), kind):
            problems.append((f"$.{key}", "missing" if key not in doc
                             else f"expected a{'n object' if kind is dict else ' list'}"))
    if problems:
        return problems
    problems += _check_row("$.organisation", tables["organisations"], doc["organisation"])
    problems += _check_members(doc["members"])
    problems += _check_tables(doc, tables)
    problems += _check_blobs(export, doc, tables)
    return problems


def _check_members(members: list[Any]) -> list[tuple[str, str]]:
    problems = []
    seen_ids, seen_emails = set(), set()
    for i, member in enumerate(members):
        path = f"$.members[{i}]"
        if not isinstance(member, dict):
            problems.append((path, "expected an object"))
            continue
        for key in ("id", "email"):
            if not isinstance(member.get(key), str):
                problems.append((f"{path}.{key}", "missing" if key not in member
                                 else "expected a string"))
            elif text_problem(member[key]):
                problems.append((f"{path}.{key}", str(text_problem(member[key]))))
        if isinstance(member.get("email"), str):
            email = member["email"].strip().lower()
            if "@" not in email or len(email) > 320:
                problems.append((f"{path}.email", "expected an e-mail address"))
            elif email in seen_emails:
                problems.append((f"{path}.email", "appears twice in $.members"))
            seen_emails.add(email)
        if member.get("id") in seen_ids:
            problems.append((f"{path}.id", "appears twice in $.members"))
        seen_ids.add(member.get("id") if isinstance(member.get("id"), str) else None)
        if member.get("role") not in ROLES:
            problems.append((f"{path}.role", f"expected one of {', '.join(ROLES)}"))
        if not isinstance(member.get("name", ""), str) or text_problem(member.get("name") or ""):
            problems.append((f"{path}.name", "expected text"))
    return problems


def _check_tables(doc: dict[str, Any], tables: dict[str, sa.Table]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    allowed = {t.name for t in export_tables(tables.values())}
    org_id = doc["organisation"].get("id")
    # Every table a row may point at, with the ids this export creates in it (possibly none):
    # a reference to anything else is refused, whatever the table.
    known_ids: dict[str, set[Any]] = {name: set() for name in allowed}
    for name, rows in doc["tables"].items():
        if name in allowed and isinstance(rows, list):
            known_ids[name] = {r.get("id") for r in rows if isinstance(r, dict)}
    known_ids["organisations"] = {org_id}
    known_ids["users"] = {m.get("id") for m in doc["members"] if isinstance(m, dict)}
    for name, rows in doc["tables"].items():
        path = f"$.tables.{name}"
        if name not in allowed:
            problems.append((path, f"unknown table (expected some of {', '.join(sorted(allowed))})"))
        elif not isinstance(rows, list):
            problems.append((path, "expected a list"))
        else:
            seen: set[Any] = set()
            for i, row in enumerate(rows):
                problems += _check_row(f"{path}[{i}]", tables[name], row, known_ids)
                row_id = row.get("id") if isinstance(row, dict) else None
                if row_id is not None and counter_pk(tables[name]) is None:
                    if row_id in seen:
                        problems.append((f"{path}[{i}].id", "appears twice"))
                    seen.add(row_id)
    return problems


def _check_row(path: str, table: sa.Table, row: Any,
               known_ids: dict[str, set[Any]] | None = None) -> list[tuple[str, str]]:
    if not isinstance(row, dict):
        return [(path, "expected an object")]
    problems = [(f"{path}.{key}", f"unknown field (not a column of {table.name})")
                for key in row if key not in table.c]
    counter = counter_pk(table)
    blob_names = set(blob_columns(table))
    for column in table.columns:
        if column.name == counter:
            continue
        if column.name not in row:
            if not column.nullable and column.server_default is None:
                problems.append((f"{path}.{column.name}", "missing"))
            continue
        message = _check_value(column, row[column.name])
        if message is None and column.name in blob_names and row[column.name] is not None \
                and not is_sha256(row[column.name]):
            message = "expected a SHA-256 (64 lowercase hex digits)"
        if message is None and known_ids is not None:
            message = _check_reference(column, row[column.name], known_ids)
        if message:
            problems.append((f"{path}.{column.name}", message))
    return problems


def _check_value(column: sa.Column[Any], value: Any) -> str | None:
    """None when ``value`` fits the column's type (and length), else what was expected."""
    if value is None:
        return None if column.nullable else "must not be null"
    kind = column.type
    for type_, ok, expected in VALUE_CHECKS:
        if isinstance(kind, type_) and not ok(value):
            return f"expected {expected}, got {json.dumps(value)[:60]}"
    length = getattr(kind, "length", None)
    if isinstance(value, str) and length and len(value) > length:
        return f"longer than {length} characters"
    if isinstance(value, str) and isinstance(kind, sa.String):
        return text_problem(value)
    return None


def _is_datetime(value: Any) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_date(value: Any) -> bool:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


VALUE_CHECKS: list[tuple[type[Any], Callable[[Any], bool], str]] = [
    (sa.Boolean, lambda v: isinstance(v, bool), "true or false"),
    (sa.Integer, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    (sa.DateTime, _is_datetime, "an ISO 8601 date-time"),
    (sa.Date, _is_date, "an ISO 8601 date (YYYY-MM-DD)"),
    (sa.String, lambda v: isinstance(v, str), "a string"),
]


def _check_reference(column: sa.Column[Any], value: Any,
                     known_ids: dict[str, set[Any]]) -> str | None:
    if column.name == "org_id" and value not in known_ids["organisations"]:
        return "does not match $.organisation.id"
    for fk in column.foreign_keys:
        target = fk.column.table.name
        if value is None:
            continue
        if target not in known_ids:
            return f"refers to {target}, which an export cannot reference"
        if value not in known_ids[target]:
            return f"refers to a {target} row that is not in the export"
    return None


def _check_blobs(export: ExportFile, doc: dict[str, Any],
                 tables: dict[str, sa.Table]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    listed = set()
    names = export.zf.names() if export.zf is not None else set()
    for i, blob in enumerate(doc["blobs"]):
        path = f"$.blobs[{i}]"
        sha = blob.get("sha256") if isinstance(blob, dict) else None
        if not is_sha256(sha):
            problems.append((f"{path}.sha256", "expected a SHA-256 (64 lowercase hex digits)"))
            continue
        listed.add(sha)
        if export.zf is not None and f"evidence/{sha}" not in names:
            problems.append((path, f"the zip has no member evidence/{sha}"))
        elif export.zf is None and not isinstance(blob.get("content_base64"), str):
            problems.append((f"{path}.content_base64", "missing"))
    for name, rows in doc["tables"].items():
        if name in tables and isinstance(rows, list):
            for i, row in enumerate(rows):
                refs = blob_refs(tables[name], row, True) if isinstance(row, dict) else ()
                for sha in refs:
                    if sha not in listed:
                        problems.append((f"$.tables.{name}[{i}]",
                                         f"evidence file {sha} is not in $.blobs"))
    return problems


def _check_chain(events: list[dict[str, Any]], key: SecretKey,
                 provenance: Provenance) -> list[tuple[str, str]]:
    """The history must verify as exported, or importing it would plant a broken chain.

    Keyed events are checked with ``key`` (the exporting server's); an unverified document's
    keyed events cannot be (its history is then kept only inside the org.import event).
    """
    check, problems = audit.ChainCheck(key if provenance.verified else None), []
    for i in sorted(range(len(events)), key=lambda i: events[i]["seq"]):
        event, before = events[i], len(check.problems)
        check.add(event["seq"], event["prev_hash"], event["hash"], event.get("key_id"),
                  audit.hashed_fields(event))
        problems += [(f"$.tables.audit_events[{i}]", p) for p in check.problems[before:]]
    if provenance.verified and check.key_problem():
        problems.append(("$.tables.audit_events", str(check.key_problem())))
    return problems
