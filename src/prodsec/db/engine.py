"""Where the workspace lives and how to open it.

Embedded SQLite by default (a file in the user's data directory, or ``--db PATH``), with WAL
and foreign keys on; PostgreSQL when ``PRODSEC_DATABASE_URL`` names one. The schema is managed
by Alembic (``prodsec db upgrade``); opening a database that is not at the newest revision
upgrades it first, so a fresh machine needs no separate step.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from prodsec.db.turnstile import Turnstile
from prodsec.errors import InputError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The server runs sync handlers on AnyIO's worker threads (40 by default). A request's unit of
#: work holds its connection from authentication to commit, across several hops between the
#: event loop and those threads, so the pool must never run dry while a thread waits for it:
#: ``ADMITTED`` units at a time (queued on the event loop, holding no thread) leave the rest of
#: the pool to logins and the web pages' short transactions.
POOL = {"pool_size": 10, "max_overflow": 30, "pool_timeout": 60}
ADMITTED = 32
#: How long SQLite waits for the writer lock held by another process (a CLI run) or by a
#: transaction outside the queue (a web page's); the API's writers queue in-process
#: (``Database.writing``) and do not spin on it.
BUSY_TIMEOUT_MS = 10_000


def data_dir() -> Path:
    explicit = os.environ.get("PRODSEC_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "prodsec"


def resolve_url(db: str | None = None) -> str:
    """``--db`` (a path or URL) first, then ``PRODSEC_DATABASE_URL``, then the default file."""
    if db:
        return db if "://" in db else f"sqlite:///{Path(db).expanduser().resolve()}"
    url = os.environ.get("PRODSEC_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'prodsec.db'}"


def _normalise(url: str) -> str:
    """``postgresql://`` means the psycopg 3 driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass
class Database:
    """An open workspace database: its engine, a session factory, and its evidence store."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    evidence_dir: Path
    #: Units of work in flight (see ``POOL``).
    admission: Turnstile = field(default_factory=lambda: Turnstile(ADMITTED))
    _gates: dict[str | None, Turnstile] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def writer_gate(self, org_id: str | None) -> Turnstile:
        """The queue a writer joins before its write transaction begins.

        SQLite has one writer lock for the whole file, so every writer of this process shares
        one queue; PostgreSQL locks rows, and only writers of one organisation contend (for the
        head of its audit chain), so each organisation has its own. Waiting here costs no worker
        thread: a writer blocked inside the database would hold one, and once every thread waits
        for a lock whose holder needs a thread to commit, the server stalls until timeouts fire
        (the 503s SQLite answered above ~40 concurrent clients).
        """
        key = None if self.is_sqlite else org_id
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates.setdefault(key, Turnstile(1))
        return gate

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        async with self.admission.held():
            yield

    @asynccontextmanager
    async def writing(self, org_id: str | None) -> AsyncIterator[None]:
        """Hold this process's turn to write (for ``org_id``'s organisation)."""
        async with self.writer_gate(org_id).held():
            yield

    def begin_write(self, session: Session) -> None:
        """Start the session's transaction as a writer: SQLite takes its writer lock now, so a
        write never fails half-way on a snapshot another writer made stale."""
        if self.is_sqlite:
            from sqlalchemy import text

            session.execute(text("BEGIN IMMEDIATE"))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back completely on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        else:
            raise_deferred(session)
        finally:
            session.close()

    def ping(self) -> None:
        """Reach the database (``SELECT 1``): the health check's question, asked here so the
        API never writes SQL itself. Raises the driver's error when it cannot."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()


#: Where a post-commit hook (a job run in-process on SQLite, see prodsec.jobs) leaves its error:
#: raising inside SQLAlchemy's commit would leave the session unusable and hide the error.
DEFERRED_ERROR = "prodsec.deferred_error"


def raise_deferred(session: Session) -> None:
    """Raise the error a post-commit hook stored on ``session`` (the commit itself stands)."""
    error = session.info.pop(DEFERRED_ERROR, None)
    if error is not None:
        raise error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


#: The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"


def check_sqlite_file(path: Path, make_folder: bool = True) -> None:
    """Refuse, with a sentence, a path that cannot be an SQLite database (a directory, another
    kind of file, an unwritable folder) before SQLAlchemy fails on it with a traceback.

    ``make_folder``: create a missing folder (the default location, under the data dir);
    for a path the user named, a missing folder is a typo to report, not a workspace to make
    somewhere unexpected."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory; expected an SQLite database file")
    try:
        if path.exists():
            with path.open("rb") as handle:
                head = handle.read(len(SQLITE_HEADER))
            if head and head != SQLITE_HEADER:
                raise InputError(f"{path}: not an SQLite database (expected a file made by "
                                 "prodsec, or a new file name)")
        elif not path.parent.exists():
            if not make_folder:
                raise InputError(f"{path}: the folder {path.parent} does not exist (create it "
                                 "first, or check the path)")
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from None


def open_database(db: str | None = None, upgrade: bool = True) -> Database:
    """Open (and by default migrate) the workspace database."""
    url = _normalise(resolve_url(db))
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        check_sqlite_file(path, make_folder=url == _normalise(resolve_url(None))
                          and not os.environ.get("PRODSEC_DATABASE_URL"))
        evidence = Path(os.environ.get("PRODSEC_EVIDENCE_DIR") or f"{path}.evidence")
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **POOL)
        event.listen(engine, "connect", _sqlite_pragmas)
    elif url.startswith("postgresql"):
        evidence = Path(os.environ.get("PRODSEC_EVIDENCE_DIR") or data_dir() / "evidence")
        engine = create_engine(url, pool_pre_ping=True, **POOL)
    else:
        raise InputError(f"database URL {url!r}: expected a sqlite:/// path or a postgresql:// URL")
    from prodsec.db import guards

    guards.install()
    database = Database(url, engine, sessionmaker(engine, expire_on_commit=False), evidence)
    if upgrade:
        upgrade_schema(database)
    return database


def alembic_config(database: Database) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = database.engine
    return config


def head_revision() -> str:
    """The newest migration, read from the scripts' ``revision``/``down_revision`` lines.

    Reading them directly spares every CLI command the ~200 ms import of Alembic when the
    database is already current; Alembic runs only when there is something to upgrade.
    """
    import re

    revisions: dict[str, str | None] = {}
    for script in (MIGRATIONS / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        rev = re.search(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
        down = re.search(r"^down_revision\s*=\s*(?:['\"]([^'\"]+)['\"]|None)", text, re.M)
        if rev:
            revisions[rev.group(1)] = down.group(1) if down else None
    heads = set(revisions) - {d for d in revisions.values() if d}
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {sorted(heads)}")
    return heads.pop()


def current_revision(database: Database) -> str | None:
    """The stored revision by one query; a missing table (a new database) gives None.

    Asking the inspector first cost every CLI command a reflection round trip."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import DBAPIError

    with database.engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            connection.rollback()
            if not inspect(connection).has_table("alembic_version"):
                return None
            raise


def upgrade_schema(database: Database) -> str:
    """Bring the schema to the newest revision; return it."""
    head = head_revision()
    if current_revision(database) != head:
        from alembic import command

        command.upgrade(alembic_config(database), "head")
    return head
