"""Shared fixtures: the shipped knowledge base, loaded once for the session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from prodsec.core.applicability import Engine
from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.profile import Profile, parse_profile
from prodsec.knowledge.loader import load_data

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "products"
AS_OF = dt.date(2026, 11, 27)
_EXTENDED_LEFT_OUT = pytest.StashKey[int]()  # how many extended tests were deselected

# Property tests judge results, not speed: on a shared 2-core machine a slow example is load,
# not a defect, so neither the per-example deadline nor the "too slow" health check may fail one.
settings.register_profile("prodsec", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("prodsec")


@pytest.fixture(autouse=True)
def server_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed server key, so no test writes a key file into the user's data directory."""
    monkeypatch.setenv("PRODSEC_SECRET_KEY", "test-secret-key-" + "0" * 48)
    monkeypatch.delenv("PRODSEC_SECRET_KEY_FILE", raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``extended`` need the larger data set; without it they are deselected (not
    skipped: a fresh clone runs everything it can, and its skip count stays meaningful)."""
    from tests.realdata import SHARED

    if SHARED.is_dir():
        return
    extended = [item for item in items if item.get_closest_marker("extended")]
    if extended:
        config.hook.pytest_deselected(items=extended)
        items[:] = [item for item in items if not item.get_closest_marker("extended")]
        config.stash[_EXTENDED_LEFT_OUT] = len(extended)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from tests.realdata import SHARED

    left_out = config.stash.get(_EXTENDED_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(
            f"{left_out} extended test{'s' if left_out > 1 else ''} not run: the larger data set {SHARED} is not present "
            "(they rerun checks over the full OSV databases and every example; see tests/data/README.md)",
            yellow=True)


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
