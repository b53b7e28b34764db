"""Where the workspace lives and how to open it.

Embedded SQLite by default (a file in the user's data directory, or ``--db PATH``), with WAL
and foreign keys on; PostgreSQL when ``PRODSEC_DATABASE_URL`` names one. The schema is managed
by Alembic (``prodsec db upgrade``); opening a database that is not at the newest revision
upgrades it first, so a fresh machine needs no separate step.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from prodsec.errors import InputError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The server runs sync handlers on AnyIO's worker threads (40 by default), each holding one
#: connection for its request: the pool must hold as many, or requests queue for a connection
#: and fail after the pool timeout instead of waiting for a thread.
POOL = {"pool_size": 10, "max_overflow": 30, "pool_timeout": 60}


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

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

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
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_database(db: str | None = None, upgrade: bool = True) -> Database:
    """Open (and by default migrate) the workspace database."""
    url = _normalise(resolve_url(db))
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        evidence = Path(os.environ.get("PRODSEC_EVIDENCE_DIR") or f"{path}.evidence")
        engine = create_engine(url, connect_args={"timeout": 30}, **POOL)
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
    from sqlalchemy import inspect, text

    with database.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_schema(database: Database) -> str:
    """Bring the schema to the newest revision; return it."""
    head = head_revision()
    if current_revision(database) != head:
        from alembic import command

        command.upgrade(alembic_config(database), "head")
    return head
