"""Document fixtures: a deterministic workspace (example products, fixed dates) on SQLite and,
when PRODSEC_TEST_POSTGRES_URL is set, PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.workspace.context import Actor
from tests.documents.workspace_setup import build_workspace
from tests.workspace.conftest import database, editor, make_actor, outsider, viewer

__all__ = ["database", "editor", "outsider", "viewer"]


@pytest.fixture
def admin(database: Database) -> Actor:
    return make_actor(database, "Example", "admin")


@pytest.fixture
def workspace(database: Database, admin: Actor, kb: KnowledgeBase) -> Iterator[tuple[Database, Actor]]:
    """The camera (CRA, RED, PSTI) and the SaaS (CISA pledge), everything entered and met."""
    build_workspace(database, admin, kb)
    yield database, admin
