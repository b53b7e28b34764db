"""The application factory: ``create_app(database, kb)`` wires services to HTTP.

No settings, engine or knowledge base live at module level: everything a request needs hangs
off ``app.state.prodsec`` (an ``AppState``), so tests build as many independent apps as they
like and ``prodsec serve`` builds exactly one.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from prodsec import __version__
from prodsec.api import problems
from prodsec.api.deps import AppState, Settings
from prodsec.api.middleware import BodyLimit, JsonBodyCheck, SecurityHeaders
from prodsec.api.routes import (
    assessments,
    audit,
    auth,
    check,
    compare,
    controls,
    csaf_ingest,
    documents,
    evidence,
    feeds,
    gaps,
    health,
    jobs,
    knowledge,
    notifications,
    products,
    releases,
    sbom_check,
    sbom_parts,
    statuses,
    users,
    vulnerabilities,
)
from prodsec.api.schemas import Problem
from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.workspace import staging
from prodsec.workspace.throttle import LoginLimiter

API_PREFIX = "/api/v1"
DOCS_URL = "/api/docs"
RESOURCES = (auth, products, releases, assessments, statuses, evidence, controls, gaps, audit,
             users, knowledge, check, documents, vulnerabilities, sbom_parts, sbom_check, compare,
             jobs, csaf_ingest, feeds, notifications)
ERRORS = {code: {"model": Problem, "content": {"application/problem+json": {}}}
          for code in (401, 403, 404, 422)}


def create_app(database: Database, kb: KnowledgeBase, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    staging.sweep(database.evidence_dir)  # uploads a killed server left half-received
    app = FastAPI(title="prodsec", version=__version__, openapi_url="/api/openapi.json",
                  docs_url=DOCS_URL, redoc_url=None,
                  description="Product-security regulation navigator and compliance workspace.")
    app.state.prodsec = AppState(database, kb, settings, LoginLimiter(
        database, settings.login_failures, settings.login_backoff_max_seconds,
        first=settings.login_backoff_seconds))
    api = APIRouter(prefix=API_PREFIX, responses=ERRORS)  # type: ignore[arg-type]
    for module in RESOURCES:
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(health.router)
    problems.install(app)
    app.add_middleware(JsonBodyCheck)  # inside BodyLimit: buffers only bounded bodies
    app.add_middleware(BodyLimit, settings=settings)  # before anything reads a body
    app.add_middleware(SecurityHeaders, docs_path=DOCS_URL)  # outermost: also on a 413
    return app
