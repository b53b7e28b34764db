"""The real OSV databases, loaded once per session (the slowest fixture of the suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodsec.formats import osv
from prodsec.vuln import AdvisoryIndex

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

if not SHARED.is_dir():
    pytest.skip("shared/data is not present", allow_module_level=True)


@pytest.fixture(scope="session")
def go_db() -> osv.LoadResult:
    return osv.load(SHARED / "osv" / "go")


@pytest.fixture(scope="session")
def pypi_db() -> osv.LoadResult:
    return osv.load(SHARED / "osv" / "pypi")


@pytest.fixture(scope="session")
def index(go_db: osv.LoadResult, pypi_db: osv.LoadResult) -> AdvisoryIndex:
    return AdvisoryIndex(go_db.advisories + pypi_db.advisories)
