"""Workspace fixtures: every database test runs on SQLite and, when PRODSEC_TEST_POSTGRES_URL
is set (CI sets it), on a real PostgreSQL too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from prodsec.db.engine import Database, open_database
from prodsec.workspace.context import Actor
from prodsec.workspace.users import create_user, get_or_create_org

POSTGRES = os.environ.get("PRODSEC_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not POSTGRES, reason="PRODSEC_TEST_POSTGRES_URL not set"))]


def reset_postgres(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                           if url.startswith("postgresql://") else url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "evidence"))
    if request.param == "sqlite":
        db = open_database(str(tmp_path / "test.db"))
    else:
        assert POSTGRES
        reset_postgres(POSTGRES)
        db = open_database(POSTGRES)
    yield db
    db.dispose()


def make_actor(db: Database, org: str, role: str, email: str | None = None) -> Actor:
    email = email or f"{role}@{org.lower().replace(' ', '-')}.example"
    with db.transaction() as session:
        organisation = get_or_create_org(session, org)
        user, _ = create_user(session, org, email, role, "amber lantern over quiet fjords")
        return Actor(user.id, user.email, organisation.id, role)


@pytest.fixture
def editor(database: Database) -> Actor:
    return make_actor(database, "Acme", "editor")


@pytest.fixture
def viewer(database: Database) -> Actor:
    return make_actor(database, "Acme", "viewer")


@pytest.fixture
def outsider(database: Database) -> Actor:
    return make_actor(database, "Globex", "admin")
