"""Web UI fixtures: a workspace with two organisations, an app, a signed-in client."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database, open_database
from prodsec.workspace.users import create_user

PASSWORD = "amber lantern over quiet fjords"
USERS = {"admin@acme.example": ("Acme", "admin"), "editor@acme.example": ("Acme", "editor"),
         "viewer@acme.example": ("Acme", "viewer"), "admin@globex.example": ("Globex", "admin")}


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once, with the users (argon2 hashing is deliberately slow); copied per test.
    Its audit events are keyed with the tests' server key (the autouse fixture that sets it is
    per test, so it is set here too: otherwise the chain is keyed with a key file and no
    test's verification passes)."""
    path = tmp_path_factory.mktemp("template") / "web.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRODSEC_SECRET_KEY", "test-secret-key-" + "0" * 48)  # tests/conftest.py
        patch.delenv("PRODSEC_SECRET_KEY_FILE", raising=False)
        db = open_database(str(path))
        with db.transaction() as session:
            for email, (org, role) in USERS.items():
                create_user(session, org, email, role, PASSWORD)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def web_db(template_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "evidence"))
    target = tmp_path / "web.db"
    shutil.copyfile(template_db, target)
    db = open_database(str(target))
    yield db
    db.dispose()


def build_app(db: Database, kb: KnowledgeBase) -> Any:
    """The full server application when the API is there, with the web UI mounted."""
    from prodsec import web

    try:
        from prodsec.api import create_app

        app = create_app(db, kb)
    except ImportError:
        app = FastAPI()
    if not hasattr(app.state, "web"):
        web.mount(app, db, kb)
    return app


@pytest.fixture
def app(web_db: Database, kb: KnowledgeBase) -> Any:
    return build_app(web_db, kb)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def post_login(client: Any, data: dict[str, str], **kwargs: Any) -> Any:
    """Sign in as a browser does: the form first (it carries the pre-session CSRF token in a
    field and a cookie), then the post."""
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf_token": token, **data}, **kwargs)


def sign_in(client: Any, email: str) -> str:
    response = post_login(client, {"email": email, "password": PASSWORD, "next": "/portfolio"},
                          follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/products/new").text)


def count_queries(db: Any, client: Any, path: str) -> tuple[int, str]:
    """GET ``path`` and count the SQL statements it ran (the query-count tests of #17): the
    number, and the page's text."""
    from sqlalchemy import event

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.text
    return len(statements), response.text
