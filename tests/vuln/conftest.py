"""The OSV databases, loaded once per session: the shipped slice (tests/data/osv), and for the
``extended`` tests the full databases of the larger set (../shared/data/osv)."""

from __future__ import annotations

import pytest

from prodsec.formats import osv
from prodsec.vuln import AdvisoryIndex
from tests.realdata import DATA, SHARED


@pytest.fixture(scope="session")
def go_db() -> osv.LoadResult:
    return osv.load(DATA / "osv" / "go")


@pytest.fixture(scope="session")
def pypi_db() -> osv.LoadResult:
    return osv.load(DATA / "osv" / "pypi")


@pytest.fixture(scope="session")
def index(go_db: osv.LoadResult, pypi_db: osv.LoadResult) -> AdvisoryIndex:
    return AdvisoryIndex(go_db.advisories + pypi_db.advisories)


@pytest.fixture(scope="session")
def full_go_db() -> osv.LoadResult:
    return osv.load(SHARED / "osv" / "go")


@pytest.fixture(scope="session")
def full_pypi_db() -> osv.LoadResult:
    return osv.load(SHARED / "osv" / "pypi")


@pytest.fixture(scope="session")
def full_index(full_go_db: osv.LoadResult, full_pypi_db: osv.LoadResult) -> AdvisoryIndex:
    return AdvisoryIndex(full_go_db.advisories + full_pypi_db.advisories)
