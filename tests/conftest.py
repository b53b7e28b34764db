"""Shared fixtures: the shipped knowledge base, loaded once for the session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from prodsec.core.applicability import Engine
from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.profile import Profile, parse_profile
from prodsec.knowledge.loader import load_data

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "products"
SHARED = ROOT.parent / "shared"
AS_OF = dt.date(2026, 11, 27)


@pytest.fixture(autouse=True)
def server_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed server key, so no test writes a key file into the user's data directory."""
    monkeypatch.setenv("PRODSEC_SECRET_KEY", "test-secret-key-" + "0" * 48)
    monkeypatch.delenv("PRODSEC_SECRET_KEY_FILE", raising=False)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase(load_data(use_cache=False))


@pytest.fixture(scope="session")
def engine(kb: KnowledgeBase) -> Engine:
    return Engine(kb)


@pytest.fixture(scope="session")
def make_profile(kb: KnowledgeBase):
    def make(**facts: Any) -> Profile:
        raw = {"name": "test product", "markets": ["EU"], "data_connection": True,
               "internet": True, "radio": [], "consumer": True, "personal_data": False}
        raw.update(facts)
        raw = {k: v for k, v in raw.items() if v is not ...}
        return parse_profile(raw, kb.vocabulary)

    return make
