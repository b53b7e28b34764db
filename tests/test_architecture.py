"""The layering rules of docs/architecture.md: the map holds for every import (in-function ones
too), there is no import cycle, and the domain core imports no I/O, web, database or CLI module."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import prodsec
from tests.layers import cycles, graph, layer_violations

PACKAGE = Path(prodsec.__file__).resolve().parent
CORE_ALLOWED_PREFIXES = ("prodsec.core", "prodsec.errors")
FORBIDDEN_IN_CORE = {
    "os", "io", "pathlib", "shutil", "tempfile", "subprocess", "socket", "sqlite3", "json",
    "yaml", "marshal", "pickle", "urllib", "http", "requests", "httpx", "sqlalchemy",
    "fastapi", "starlette", "typer", "click", "rich", "jinja2", "matplotlib", "pydantic",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_no_io_or_shell_module() -> None:
    core_files = sorted((PACKAGE / "core").glob("*.py"))
    assert core_files
    for path in core_files:
        for name in _imports(path):
            top = name.split(".")[0]
            assert top not in FORBIDDEN_IN_CORE, f"{path.name} imports {name}"
            if top == "prodsec":
                assert name.startswith(CORE_ALLOWED_PREFIXES), f"{path.name} imports {name}"


def test_services_do_not_import_the_cli() -> None:
    for path in (PACKAGE / "services").glob("*.py"):
        assert not any(n.startswith("prodsec.cli") for n in _imports(path)), path.name


@pytest.mark.parametrize("fmt", ["json", "table", "markdown"])
def test_fast_path_imports_no_heavy_module(fmt: str) -> None:
    """The knowledge queries must not pay for Typer, Rich or pydantic in any format, nor
    ``typing`` (``core.record``) or OpenSSL's ``_hashlib`` (the knowledge cache compares bytes)
    on a warm ``check`` (see bench/startup.py)."""
    import subprocess
    import sys

    code = ("import sys, io, contextlib\n"
            "from prodsec.cli.fast import try_fast\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert try_fast(['regulations', '--format', '{fmt}']) == 0\n"
            "heavy = [m for m in ('typer', 'click', 'rich', 'pydantic', 'yaml', 'matplotlib')\n"
            "         if m in sys.modules]\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"  # a YAML profile needs yaml
            f"    assert try_fast(['check', 'examples/products/camera.yaml', '-f', '{fmt}']) == 0\n"
            "heavy += [m for m in ('typer', 'click', 'rich', 'pydantic', 'typing', '_hashlib')\n"
            "          if m in sys.modules]\n"
            "print(','.join(heavy))\n")
    root = PACKAGE.parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root)
    # pydantic/yaml may load once, when the cache is cold; a warm run must load none.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root)
    assert out.stdout.strip() == ""


def test_every_import_follows_the_layer_map() -> None:
    assert layer_violations(graph(PACKAGE)) == []


def test_no_module_imports_itself_round_a_cycle() -> None:
    assert cycles(graph(PACKAGE)) == []


FACES = ("api", "web", "cli", "__main__.py")
#: Face modules that may import the database layer at runtime, and why. Every other face
#: module calls a service (``prodsec.workspace``) and imports SQLAlchemy or the models only
#: under ``TYPE_CHECKING``, for annotations.
FACE_DATABASE_WIRING = {
    # the request's unit of work: opens the Session every route's service call runs in
    "prodsec.api.deps": {"sqlalchemy.orm"},
    # the one mapping of the database's refusals (DataError, OperationalError) to problems
    "prodsec.api.problems": {"sqlalchemy.exc"},
}


def _runtime_imports(path: Path) -> set[str]:
    """Every module ``path`` imports when it runs: in functions too, not the ones under
    ``if TYPE_CHECKING:``, which only annotate."""
    tree = ast.parse(path.read_text(), str(path))
    skipped = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
               and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
               for stmt in block.body for n in ast.walk(stmt)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def face_queries(package: Path) -> list[str]:
    """Face modules importing SQLAlchemy or ``prodsec.db.models`` at runtime, outside the
    wiring ``FACE_DATABASE_WIRING`` allows: a face that queries bypasses the services'
    tenancy checks (``cli user password`` found any organisation's user by e-mail)."""
    found = []
    for face in FACES:
        for path in sorted([package / face] if face.endswith(".py")
                           else (package / face).rglob("*.py")):
            module = ".".join(("prodsec", *path.relative_to(package).with_suffix("").parts))
            module = module.removesuffix(".__init__")
            allowed = FACE_DATABASE_WIRING.get(module, set())
            for name in sorted(_runtime_imports(path)):
                if (name.split(".")[0] == "sqlalchemy" or name.startswith("prodsec.db.models")) \
                        and not any(name == a or name.startswith(f"{a}.") for a in allowed):
                    found.append(f"{module} imports {name}")
    return found


def test_faces_never_query() -> None:
    assert face_queries(PACKAGE) == []


@pytest.mark.parametrize(("victim", "line"), [
    ("cli/workspace.py", "from sqlalchemy import select"),
    ("web/pages/cases.py", "from prodsec.db.models import utcnow"),
    ("api/routes/products.py", "from prodsec.db import models"),
])
def test_an_injected_face_query_is_caught(tmp_path: Path, victim: str, line: str) -> None:
    copy = tmp_path / "prodsec"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("data", "__pycache__", "*.j2"))
    with (copy / victim).open("a") as f:
        f.write(f"\n\ndef _planted() -> None:\n    {line}\n")
    module = "prodsec." + victim.removesuffix(".py").replace("/", ".")
    found = face_queries(copy)
    assert found and {f.split(" imports ")[0] for f in found} == {module}, found


@pytest.mark.parametrize(("victim", "line", "expected"), [
    ("core/rules.py", "from prodsec.workspace import products", "upward"),
    ("knowledge/validate.py", "import prodsec.services.check", "upward"),
    ("workspace/products.py", "from prodsec.documents.render import build", "upward"),
    ("api/app.py", "from prodsec.web import pages", "one face into another"),
])
def test_an_injected_violation_is_caught(tmp_path: Path, victim: str, line: str,
                                         expected: str) -> None:
    """The checker is only worth something if it fails: plant a violation, inside a function
    as the lazy imports are, in a copy of the package."""
    copy = tmp_path / "prodsec"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("data", "__pycache__", "*.j2"))
    with (copy / victim).open("a") as f:
        f.write(f"\n\ndef _planted() -> None:\n    {line}\n")
    found = set(layer_violations(graph(copy))) - set(layer_violations(graph(PACKAGE)))
    assert len(found) == 1 and expected in found.pop(), found


def test_an_injected_cycle_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "prodsec"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("data", "__pycache__", "*.j2"))
    assert "prodsec.workspace.scope" in graph(copy)["prodsec.workspace.products"]
    with (copy / "workspace/scope.py").open("a") as f:
        f.write("\n\ndef _planted() -> None:\n    from prodsec.workspace import products\n")
    assert ["prodsec.workspace.products", "prodsec.workspace.scope"] in cycles(graph(copy))
