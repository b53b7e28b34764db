"""API fixtures: one app per backend (SQLite, and PostgreSQL when PRODSEC_TEST_POSTGRES_URL is
set), two organisations with an admin, an editor and a viewer each, and Acme's objects of every
kind (product, release, assessment, status, evidence, control, user, token) made through the API.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from tests.workspace.conftest import BACKENDS, POSTGRES

from prodsec.api import Settings, create_app
from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database, open_database
from prodsec.workspace import users
from prodsec.workspace.users import actor_for, create_token, create_user

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient as TestClient

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
CAMERA = yaml.safe_load((ROOT / "examples/products/camera.yaml").read_text())
AS_OF = "2026-11-27"
PASSWORD = "amber lantern over quiet fjords"
ROLES = ("admin", "editor", "viewer")
SCHEMA = "prodsec_api_tests"
TEST_SETTINGS = Settings(max_upload_bytes=4096, login_failures=5)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its lowest cost: the tests check the flow, not the hash's strength."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(1, 8, 1))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating takes a second)."""
    path = tmp_path_factory.mktemp("template") / "api.db"
    open_database(str(path)).dispose()
    return path


def own_schema(url: str) -> str:
    """The API tests' own PostgreSQL schema, so a concurrent run that resets ``public`` (the
    workspace tests do) cannot pull the tables from under them."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{SCHEMA}"


def empty_postgres(url: str) -> None:
    """Empty every table (keeping the schema, so no migration per test)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        tables = list(conn.scalars(text(
            f"SELECT tablename FROM pg_tables WHERE schemaname = '{SCHEMA}' "
            "AND tablename != 'alembic_version'")))
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def drop_schema(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "evidence"))
    if request.param == "sqlite":
        shutil.copy(sqlite_template, tmp_path / "api.db")
        db = open_database(str(tmp_path / "api.db"))
    else:
        assert POSTGRES
        url = own_schema(POSTGRES)
        try:
            empty_postgres(url)
            db = open_database(url)
        except Exception:  # a schema left behind by an older run: start afresh
            drop_schema(url)
            db = open_database(url)
    yield db
    db.dispose()


@pytest.fixture
def client(database: Database, kb: KnowledgeBase) -> Iterator[TestClient]:
    with TestClient(create_app(database, kb, TEST_SETTINGS)) as test_client:
        yield test_client


def add_member(db: Database, org: str, role: str, password: str | None = None) -> dict[str, str]:
    """A user with a role and a bearer token; returns the auth header and who it is."""
    email = f"{role}@{org.lower()}.example"
    with db.transaction() as session:
        user, _ = create_user(session, org, email, role, password)
        secret, _ = create_token(session, actor_for(session, user), email, "tests")
    return {"Authorization": f"Bearer {secret}", "email": email, "user_id": user.id}


@dataclass
class World:
    """Two organisations × three roles, and Acme's objects of every kind, by kind."""

    client: TestClient
    members: dict[tuple[str, str], dict[str, str]]
    ids: dict[str, str] = field(default_factory=dict)

    def headers(self, org: str, role: str) -> dict[str, str]:
        return {"Authorization": self.members[(org, role)]["Authorization"]}

    def call(self, method: str, url: str, org: str = "Acme", role: str = "editor",
             **kwargs: Any) -> Any:
        headers = {**self.headers(org, role), **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)


def seed(world: World) -> None:
    """Acme's product, release, assessment, status, evidence, control, extra user and token."""
    ok = _ok(world)
    product = ok("POST", "/api/v1/products", json={"profile": ROUTER})
    world.ids["product_id"] = product["id"]
    world.ids["release_id"] = ok("POST", f"/api/v1/products/{product['id']}/releases",
                                 json={"version_label": "1.0"})["id"]
    assessments = ok("POST", f"/api/v1/products/{product['id']}/assessments",
                     json={"as_of": AS_OF})
    world.ids["assessment_id"] = assessments[0]["id"]
    statuses = ok("GET", "/api/v1/statuses", params={"product_id": product["id"], "limit": 1})
    world.ids["status_id"] = statuses["items"][0]["id"]
    world.ids["evidence_id"] = ok("POST", "/api/v1/evidence/files", params={"title": "report"},
                                  content=b"pentest report")["id"]
    world.ids["control_id"] = ok("POST", "/api/v1/controls", json={
        "name": "Unique passwords", "requirements": ["uk-psti:schedule-1:1"]})["id"]
    world.ids["user_id"] = world.members[("Acme", "viewer")]["user_id"]
    world.ids["token_id"] = ok("POST", "/api/v1/tokens", role="admin",
                               json={"email": "editor@acme.example", "name": "ci"})["id"]
    world.ids["invitation_id"] = ok("POST", "/api/v1/users", role="admin", json={
        "email": "invited@acme.example", "role": "viewer", "password": PASSWORD})["id"]
    world.ids["case_id"] = ok("POST", f"/api/v1/products/{product['id']}/cases", json={
        "kind": "incident", "title": "outage", "aware_at": "2026-11-27T08:00:00Z"})["id"]
    world.ids["subscription_id"] = ok("POST", "/api/v1/notifications/subscriptions",
                                      role="admin", json={
        "channel": "email", "address": "psirt@acme.example", "kinds": ["support.ending"]})["id"]
    world.ids["requirement_id"] = "uk-psti:schedule-1:1"
    world.ids["regulation_id"] = "eu-cra"
    generated = world.call("POST", f"/api/v1/products/{product['id']}/documents", role="editor",
                           json={"kind": "technical-file", "format": "md", "draft": True})
    assert generated.status_code == 200, generated.text
    world.ids["document_id"] = generated.headers["X-Document-Id"]


# One advisory and a one-component SBOM: enough for a finding, a VEX decision and a CSAF advisory.
ADVISORY = {"schema_version": "1.6.0", "id": "PYSEC-2018-28", "modified": "2024-01-01T00:00:00Z",
            "aliases": ["CVE-2018-18074"], "summary": "Authorization header sent after redirect",
            "affected": [{"package": {"name": "requests", "ecosystem": "PyPI"}, "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}]}
BOM = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
       "metadata": {"timestamp": "2026-11-27T00:00:00Z",
                    "component": {"type": "firmware", "name": "router-fw", "version": "1.0"}},
       "components": [{"type": "library", "name": "requests", "version": "2.19.0",
                       "purl": "pkg:pypi/requests@2.19.0", "bom-ref": "requests"}]}


def seed_vulnerabilities(world: World, database: Database, tmp_path: Path) -> None:
    """Release 1.0's SBOM, a finding, its triage and an authored CSAF advisory (``doc_id``);
    the advisory is imported with a library call (``POST /api/v1/advisories`` is tested on its own)."""
    import json

    from prodsec.db.models import User
    from prodsec.workspace.vulnerabilities import import_advisories

    ok = _ok(world)
    osv = tmp_path / "osv"
    osv.mkdir()
    (osv / "PYSEC-2018-28.json").write_text(json.dumps(ADVISORY))
    with database.transaction() as session:
        user = session.get(User, world.members[("Acme", "editor")]["user_id"])
        assert user is not None
        import_advisories(session, actor_for(session, user), osv)
    pid = world.ids["product_id"]
    ok("POST", f"/api/v1/products/{pid}/releases/1.0/sbom", content=json.dumps(BOM).encode(),
       params={"part": "seedpart"})
    ok("POST", f"/api/v1/products/{pid}/vex", json={
        "vulnerability": "PYSEC-2018-28", "state": "exploitable", "responses": ["update"]})
    from tests.workspace.feed_data import euvd_exploited

    world.ids["proposal_id"] = ok("POST", "/api/v1/feeds", params={"filename": "euvd.json"},
                                  content=euvd_exploited("CVE-2018-18074"))["proposals"][0][
                                      "proposal_id"]
    world.ids["release"] = "1.0"
    world.ids["part"] = "seedpart"  # the SBOM above is the release's one part (a name no
    # answer contains by chance: the isolation test masks ids in answers by their names)
    world.ids["doc_id"] = ok("POST", f"/api/v1/products/{pid}/releases/1.0/csaf",
                             json={"tracking_id": "ACME-SEED-1", "cvss": {
                                 "PYSEC-2018-28": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"}})["id"]


def _ok(world: World) -> Any:
    def ok(method: str, url: str, role: str = "editor", **kwargs: Any) -> Any:
        response = world.call(method, url, role=role, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()
    return ok


@pytest.fixture
def world(database: Database, client: TestClient, tmp_path: Path) -> World:
    members = {(org, role): add_member(database, org, role)
               for org in ("Acme", "Globex") for role in ROLES}
    made = World(client, members)
    seed(made)
    seed_vulnerabilities(made, database, tmp_path)
    return made
