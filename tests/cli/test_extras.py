"""A command whose optional dependency is missing names the extra to install: exit 2, one
line, no traceback, nothing written. The missing module is simulated in a real subprocess."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from prodsec.cli.extras import EXTRA_OF_MODULE, missing_extra
from tests.cli.test_cli import EXAMPLES, ROOT, run
from tests.realdata import DATA

# Runs the CLI with the named modules made unimportable (None in sys.modules).
WITHOUT = ("import sys\nfor name in sys.argv[1].split(','):\n    sys.modules[name] = None\n"
           "from prodsec.cli import main\nmain(sys.argv[2:])")
ROUTER = "Fictinet AX3000 Home Router"
SBOM = DATA / "sbom/cyclonedx/SBOM/proton-bridge/proton-bridge-v1.6.3.bom.json"


def run_without(modules: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT, modules, *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "200"}, timeout=120)


def _assert_names_the_extra(result: subprocess.CompletedProcess[str], extra: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"pip install 'prodsec[{extra}]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("modules", "args", "extra"), [
    ("sqlalchemy", ("product", "add", str(EXAMPLES / "router.yaml")), "server"),  # fast path
    ("sqlalchemy", ("status", ROUTER, "uk-psti:schedule-1:1", "--set", "met"), "server"),
    ("sqlalchemy", ("gaps",), "server"),
    ("sqlalchemy", ("db", "upgrade"), "server"),
    ("uvicorn", ("serve", "--port", "1"), "server"),
    ("matplotlib", ("landscape", "--output", "{tmp}/landscape.svg"), "pictures"),
    ("cyclonedx", ("sbom", "validate", str(SBOM)), "vuln"),
    # Was: every Go version "unparseable", 20 of the 58 findings, exit 0.
    ("semver", ("sbom", "scan", str(SBOM), "--advisories", str(DATA / "osv/go"), "--no-cache"),
     "vuln"),
    ("packaging", ("sbom", "scan", str(DATA / "sbom/spdx/spec-examples-2.3/SPDXJSONExample-v2.3.spdx.json"),
                   "--advisories", str(DATA / "osv/pypi"), "--no-cache"), "vuln"),
    ("csaf", ("csaf", "validate", str(DATA / "csaf/examples/csaf/bsi-2022-0001.json")), "vuln"),
])
def test_missing_extra_is_named(tmp_path: Path, modules: str, args: tuple[str, ...],
                                extra: str) -> None:
    db = tmp_path / "w.db"
    argv = [a.format(tmp=tmp_path) for a in args]
    if argv[0] in ("product", "status", "gaps", "db", "serve"):
        argv += ["--db", str(db)]
    _assert_names_the_extra(run_without(modules, *argv), extra)
    assert not db.exists() and list(tmp_path.iterdir()) == []


def test_missing_pdf_extra_leaves_the_workspace_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    assert run("product", "add", str(EXAMPLES / "router.yaml"), "--db", str(db)).returncode == 0
    before = _dump(db)
    result = run_without("weasyprint,pypdfium2", "document", "eu-declaration", ROUTER, "--draft",
                         "--format", "pdf", "--output", str(tmp_path / "doc.pdf"), "--db", str(db))
    _assert_names_the_extra(result, "pdf")
    assert _dump(db) == before and not (tmp_path / "doc.pdf").exists()


def _dump(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return list(connection.iterdump())


def test_every_requirement_of_every_extra_is_mapped() -> None:
    """EXTRA_OF_MODULE names, for each distribution an extra requires, a module it installs."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    modules_of: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(_normal(dist), set()).add(module)
    unmapped = []
    for extra in ("server", "pdf", "pictures", "vuln"):
        for requirement in extras[extra]:
            dist = _normal(re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0])
            if not any(EXTRA_OF_MODULE.get(m) == extra for m in modules_of.get(dist, ())):
                unmapped.append((extra, dist, sorted(modules_of.get(dist, ()))))
    assert unmapped == []


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_a_missing_module_that_is_no_extras_is_not_explained_away() -> None:
    assert missing_extra(ModuleNotFoundError("x", name="prodsec.nope")) is None
    assert missing_extra(ModuleNotFoundError("x", name=None)) is None
    found = missing_extra(ModuleNotFoundError("x", name="sqlalchemy.orm"))
    assert found is not None and (found.extra, found.module) == ("server", "sqlalchemy")
