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
import shutil
import tempfile
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SAWarning
from sqlalchemy.orm import Session

from prodsec.db.engine import Database, alembic_config, upgrade_schema
from prodsec.errors import InputError, NotFoundError
from prodsec.workspace import audit
from prodsec.workspace.compliance import blob_path
from prodsec.workspace.context import ROLES, Actor

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
PAUSE_ENV = "PRODSEC_TRANSFER_PAUSE_FILE"  # test hook: see _pause_for_tests


class TransferError(InputError):
    """A backup, export or target that cannot be used; the message names the file."""


class ArchiveError(TransferError):
    """The archive is not a prodsec backup, is damaged or was tampered with."""


class TargetNotEmpty(TransferError):
    """A restore only goes into an empty database, so nothing is silently merged."""


class OrganisationExists(TransferError):
    """The target already has an organisation of that name."""


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
    """SHA-256s of files in the evidence store that a row names."""
    for name in blob_columns(table, required_only):
        value = row.get(name)
        if isinstance(value, str) and len(value) == 64:
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
        """Copy a blob in, verifying its hash; skip it if the store already has it."""
        if blob_path(self.evidence_dir, sha256).exists() or sha256 in self.staged:
            return
        with (self.dir / sha256).open("wb") as out:
            actual, _size = copy_hashed(source, out)
        if actual != sha256:
            raise ArchiveError(f"{where}: content does not match its SHA-256 (damaged or edited)")
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
        if path.name.startswith(".") or (keep is not None and path.name not in keep):
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


def _pause_for_tests(stage: str) -> None:
    """Test hook: with PRODSEC_TRANSFER_PAUSE_FILE set, write that file mid-transaction and
    sleep, so a test can SIGKILL the process at a known point and check nothing was written."""
    marker = os.environ.get(PAUSE_ENV)
    if marker:
        Path(marker).write_text(stage)
        time.sleep(60)


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


def restore(database: Database, source: Path) -> TransferResult:
    """Restore a backup into an empty database of either backend, all or nothing."""
    started = time.perf_counter()
    result = TransferResult(source)
    with _open_zip(source) as zf:
        manifest = read_manifest(zf, source)
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
                result.tables = _insert_archive(conn, zf, manifest, source)
                _reset_counters(conn)
        except BaseException:
            staging.discard()
            raise
        staging.publish()
    upgrade_schema(database)
    result.blobs, result.seconds = len(manifest["blobs"]), time.perf_counter() - started
    return result


@contextlib.contextmanager
def _open_zip(source: Path) -> Iterator[zipfile.ZipFile]:
    try:
        zf = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise TransferError(f"{source}: no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{source}: not a prodsec backup archive ({exc})") from None
    with zf:
        yield zf


def read_manifest(zf: zipfile.ZipFile, source: Path) -> dict[str, Any]:
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
    return manifest


def verify_archive(zf: zipfile.ZipFile, manifest: dict[str, Any], source: Path) -> None:
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


def _insert_archive(conn: Connection, zf: zipfile.ZipFile, manifest: dict[str, Any],
                    source: Path) -> dict[str, int]:
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
                counts[name] = _insert_lines(conn, table, entry["columns"], data, source)
    return counts


def _insert_lines(conn: Connection, table: sa.Table, columns: list[str], data: IO[bytes],
                  source: Path) -> int:
    missing = [c for c in columns if c not in table.c]
    if missing:
        raise ArchiveError(f"{source}: {table.name}.{missing[0]} does not exist in the target")
    timed = [table.c[c] for c in columns
             if isinstance(table.c[c].type, (sa.Date, sa.DateTime))]
    count, batch = 0, []
    for raw in data:
        row = json.loads(raw)
        for column in timed:
            row[column.name] = from_json(column, row.get(column.name))
        batch.append({c: row.get(c) for c in columns})
        if len(batch) >= BATCH:
            count += _insert_batch(conn, table, batch, source)
            batch = []
    if batch:
        count += _insert_batch(conn, table, batch, source)
    return count


def _insert_batch(conn: Connection, table: sa.Table, rows: list[dict[str, Any]],
                  where: Path | str) -> int:
    try:
        conn.execute(sa.insert(table), rows)
    except DBAPIError as exc:
        raise TransferError(f"{where}: writing {table.name} failed, nothing was written: "
                            f"{str(exc.orig).strip().splitlines()[0]}") from None
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


def export_org(database: Database, org_ref: str, target: Path) -> TransferResult:
    """Write one organisation's data as JSON (blobs inlined) or as a zip (blobs as members)."""
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
            _write_export_zip(tmp, document, database.evidence_dir)
        else:
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


def _write_export_zip(tmp: Path, document: dict[str, Any], evidence_dir: Path) -> None:
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for blob in document["blobs"]:
            path = blob_path(evidence_dir, blob["sha256"])
            with path.open("rb") as source, zf.open(f"evidence/{blob['sha256']}", "w",
                                                    force_zip64=True) as out:
                _sha, blob["size"] = copy_hashed(source, out)
        zf.writestr(EXPORT_MEMBER, json.dumps(document, indent=1, ensure_ascii=False))


# ---- import ---------------------------------------------------------------------------------


@dataclass
class ExportFile:
    """A parsed export and where its blobs come from (inline base64 or zip members)."""

    path: Path
    document: Any
    zf: zipfile.ZipFile | None

    def blob(self, index: int) -> IO[bytes]:
        entry = self.document["blobs"][index]
        if self.zf is not None:
            return self.zf.open(f"evidence/{entry['sha256']}")
        return io.BytesIO(base64.b64decode(entry["content_base64"]))


@contextlib.contextmanager
def read_export(path: Path) -> Iterator[ExportFile]:
    """Open a JSON or zip export; anything unreadable is an ExportFormatError naming the file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise TransferError(f"{path}: cannot read: {exc.strerror}") from None
    zf = None
    try:
        if head == b"PK\x03\x04":
            zf = zipfile.ZipFile(path)
            raw = zf.read(EXPORT_MEMBER)
        else:
            raw = path.read_bytes()
        document = json.loads(raw)
    except KeyError:
        raise ExportFormatError(path, [("$", f"the zip has no {EXPORT_MEMBER}")]) from None
    except zipfile.BadZipFile as exc:
        raise ExportFormatError(path, [("$", f"not a readable zip ({exc})")]) from None
    except UnicodeDecodeError:
        raise ExportFormatError(path, [("$", "not JSON (not UTF-8 text)")]) from None
    except json.JSONDecodeError as exc:
        raise ExportFormatError(path, [("$", f"not JSON: {exc.msg} at line {exc.lineno} "
                                             f"column {exc.colno}")]) from None
    try:
        yield ExportFile(path, document, zf)
    finally:
        if zf is not None:
            zf.close()


def import_org(database: Database, source: Path, org_name: str | None,
               actor_email: str) -> TransferResult:
    """Create an organisation from an export, in one transaction, keeping ids when it can.

    If none of the export's ids exist in the target, rows keep their ids and the audit history
    is inserted as it was (its hashes cover the org id, so it still verifies) and an
    ``org.import`` event is chained after it. Otherwise every id is replaced by a fresh one,
    and the history — which can no longer verify under a new org id — is kept verbatim inside
    the new chain's first event, ``org.import`` (``after.history``, with ``after.id_map``).
    """
    started = time.perf_counter()
    recover_staging(database)
    with read_export(source) as export:
        with database.engine.connect() as conn:
            tables = {t.name: t for t in reflect(conn)}
        problems = validate_export(export, tables)
        if problems:
            raise ExportFormatError(source, problems)
        result = _import_validated(database, export, tables, org_name, actor_email)
    result.seconds = time.perf_counter() - started
    return result


def _import_validated(database: Database, export: ExportFile, tables: dict[str, sa.Table],
                      org_name: str | None, actor_email: str) -> TransferResult:
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
            ids = IdMap(conn, doc, tables)
            org_id = ids.org(doc["organisation"]["id"])
            _insert_org(conn, tables, doc, org_id, name)
            _insert_members(conn, tables, doc, ids, org_id)
            result.tables = _insert_org_tables(conn, tables, doc, ids, export.path)
            _record_import(session, doc, ids, Actor("import", actor_email, org_id, "admin"),
                           export.path)
            result.notes.append("ids kept" if ids.verbatim else "ids remapped (they exist here)")
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
    """Old id → id in the target: the same ids when none collide, otherwise all fresh."""

    def __init__(self, conn: Connection, doc: dict[str, Any], tables: dict[str, sa.Table]):
        self.tables = tables
        self.verbatim = not _any_id_taken(conn, doc, tables)
        self.maps: dict[str, dict[str, str]] = {}
        self._plans: dict[str, list[tuple[sa.Column[Any], str | None]]] = {}

    def get(self, table: str, old: str) -> str:
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
                    ids: IdMap, org_id: str) -> None:
    """Members by e-mail: an existing account is reused, a new one gets no password."""
    users, memberships = tables["users"], tables["memberships"]
    for member in doc["members"]:
        email = member["email"].lower()
        user_id = conn.execute(sa.select(users.c.id).where(users.c.email == email)).scalar()
        if user_id is None:
            user_id = uuid.uuid4().hex
            conn.execute(sa.insert(users), [{
                "id": user_id, "email": email, "name": member.get("name", ""),
                "password_hash": None, "active": member.get("active", True),
                "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0)}])
        ids.maps.setdefault("users", {})[member["id"]] = user_id
        conn.execute(sa.insert(memberships), [{"id": uuid.uuid4().hex, "user_id": user_id,
                                               "org_id": org_id, "role": member["role"]}])


def _insert_org_tables(conn: Connection, tables: dict[str, sa.Table], doc: dict[str, Any],
                       ids: IdMap, source: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    ordered = [t for t in tables.values() if t.name in doc["tables"]]
    for position, table in enumerate(ordered):
        if position == len(ordered) // 2:
            _pause_for_tests(f"inserting {table.name}")
        rows = doc["tables"][table.name]
        if table.name == "audit_events" and not ids.verbatim:
            counts[table.name] = 0  # kept inside the org.import event instead
            continue
        remapped = [_remap_row(table, row, ids) for row in rows]
        for start in range(0, len(remapped), BATCH):
            _insert_batch(conn, table, remapped[start:start + BATCH], source)
        counts[table.name] = len(rows)
    return counts


def _remap_row(table: sa.Table, row: dict[str, Any], ids: IdMap) -> dict[str, Any]:
    out = {}
    for column, target in ids.plan(table):
        if column.name not in row:
            continue
        value = row[column.name]
        if value is not None and target == "users":
            value = ids.maps.get("users", {}).get(value, value)
        elif value is not None and target is not None:
            value = ids.get(target, value)
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
                   source: Path) -> None:
    after: dict[str, Any] = {
        "source_file": source.name, "source_org_id": doc["organisation"]["id"],
        "source_org_name": doc["organisation"]["name"], "exported_at": doc.get("exported_at"),
        "ids": "kept" if ids.verbatim else "remapped",
        "rows": {name: len(rows) for name, rows in doc["tables"].items()}}
    if not ids.verbatim:
        after["history"] = doc["tables"].get("audit_events", [])
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
    if not problems:
        problems += _check_chain(doc["tables"].get("audit_events", []))
    return problems


def _check_members(members: list[Any]) -> list[tuple[str, str]]:
    problems = []
    for i, member in enumerate(members):
        path = f"$.members[{i}]"
        if not isinstance(member, dict):
            problems.append((path, "expected an object"))
            continue
        for key in ("id", "email"):
            if not isinstance(member.get(key), str):
                problems.append((f"{path}.{key}", "missing" if key not in member
                                 else "expected a string"))
        if isinstance(member.get("email"), str) and "@" not in member["email"]:
            problems.append((f"{path}.email", "expected an e-mail address"))
        if member.get("role") not in ROLES:
            problems.append((f"{path}.role", f"expected one of {', '.join(ROLES)}"))
    return problems


def _check_tables(doc: dict[str, Any], tables: dict[str, sa.Table]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    allowed = {t.name for t in export_tables(tables.values())}
    org_id = doc["organisation"].get("id")
    known_ids = {name: {r.get("id") for r in rows if isinstance(r, dict)}
                 for name, rows in doc["tables"].items() if isinstance(rows, list)}
    known_ids["organisations"] = {org_id}
    known_ids["users"] = {m.get("id") for m in doc["members"] if isinstance(m, dict)}
    for name, rows in doc["tables"].items():
        path = f"$.tables.{name}"
        if name not in allowed:
            problems.append((path, f"unknown table (expected some of {', '.join(sorted(allowed))})"))
        elif not isinstance(rows, list):
            problems.append((path, "expected a list"))
        else:
            for i, row in enumerate(rows):
                problems += _check_row(f"{path}[{i}]", tables[name], row, known_ids)
    return problems


def _check_row(path: str, table: sa.Table, row: Any,
               known_ids: dict[str, set[Any]] | None = None) -> list[tuple[str, str]]:
    if not isinstance(row, dict):
        return [(path, "expected an object")]
    problems = [(f"{path}.{key}", f"unknown field (not a column of {table.name})")
                for key in row if key not in table.c]
    counter = counter_pk(table)
    for column in table.columns:
        if column.name == counter:
            continue
        if column.name not in row:
            if not column.nullable and column.server_default is None:
                problems.append((f"{path}.{column.name}", "missing"))
            continue
        message = _check_value(column, row[column.name])
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
        if value is not None and target in known_ids and value not in known_ids[target]:
            return f"refers to a {target} row that is not in the export"
    return None


def _check_blobs(export: ExportFile, doc: dict[str, Any],
                 tables: dict[str, sa.Table]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    listed = set()
    names = set(export.zf.namelist()) if export.zf is not None else set()
    for i, blob in enumerate(doc["blobs"]):
        path = f"$.blobs[{i}]"
        sha = blob.get("sha256") if isinstance(blob, dict) else None
        if not isinstance(sha, str) or len(sha) != 64:
            problems.append((f"{path}.sha256", "expected a SHA-256 (64 hex digits)"))
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


def _check_chain(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The history must verify as exported, or importing it would plant a broken chain."""
    prev, problems = audit.GENESIS, []
    order = sorted(range(len(events)), key=lambda i: events[i]["seq"])
    for expected, i in enumerate(order, start=1):
        event = events[i]
        path = f"$.tables.audit_events[{i}]"
        if event["seq"] != expected or event["prev_hash"] != prev:
            problems.append((path, f"event {event['seq']}: the chain is broken here"))
        fields = {k: event.get(k) for k in audit.HASHED}
        if audit.event_hash(event["prev_hash"], fields) != event["hash"]:
            problems.append((path, f"event {event['seq']}: content does not match its hash"))
        prev = event["hash"]
    return problems
