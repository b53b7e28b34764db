"""Workspace changes on the fast path: which calls it takes, that it leaves Typer, Rich and
pydantic unimported, and that it answers exactly as the Typer command does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from prodsec.cli.spec import recognise

ROOT = Path(__file__).resolve().parents[2]
ROUTER = "Fictinet AX3000 Home Router"


@pytest.mark.parametrize(("args", "expected"), [
    (["status", "P", "R", "--set", "met"], {"product": "P", "requirement": "R", "set_to": "met"}),
    (["status", "P", "R", "--set=met", "--evidence", "a", "--evidence", "b"],
     {"set_to": "met", "evidence": [Path("a"), Path("b")]}),
    (["status", "--file", "c.csv", "--db", "x.db"],
     {"product": None, "file": Path("c.csv"), "db": "x.db", "evidence": []}),
    (["product", "add", "p.yaml"], {"profile": Path("p.yaml"), "org": "default", "db": None}),
    (["product", "release", "P", "1.0", "--placed-on-market", "2026-01-01"],
     {"product": "P", "version_label": "1.0", "placed_on_market": "2026-01-01", "rationale": ""}),
])
def test_recognised_forms(args: list[str], expected: dict[str, object]) -> None:
    recognised = recognise(args)
    assert recognised is not None
    cmd, kwargs = recognised
    assert cmd.words == tuple(args[:len(cmd.words)]) and cmd.writes
    assert {k: kwargs[k] for k in expected} == expected


@pytest.mark.parametrize("args", [
    ["status", "--help"], ["status", "P", "R", "--set", "met", "--set", "done"],
    ["status", "P", "R", "--set"], ["status", "P", "R", "--colour", "x"],
    ["product", "add"], ["product", "add", "a", "b"], ["product", "list", "extra"],
    ["product", "add", "-h"], ["gaps", "P", "Q"], ["gaps", "--expiring-days", "-1"],
])
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert recognise(args) is None


def _run(code: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                      "PRODSEC_DATA_DIR": str(tmp)})


def _assessed(tmp_path: Path) -> str:
    db = str(tmp_path / "ws.db")
    for args in (["product", "add", "examples/products/router.yaml"],
                 ["assess", ROUTER, "--as-of", "2026-11-27"]):
        subprocess.run([sys.executable, "-m", "prodsec", *args, "--db", db], check=True,
                       capture_output=True, cwd=ROOT, timeout=120)
    return db


def test_a_status_change_imports_neither_typer_nor_pydantic(tmp_path: Path) -> None:
    db = _assessed(tmp_path)
    result = _run(
        "import sys\nfrom prodsec.cli import main\ntry:\n"
        f"    main(['status', {ROUTER!r}, 'uk-psti:schedule-1:1', '--set', 'met', '--db', {db!r}])\n"
        "except SystemExit as exc:\n    print('exit', exc.code)\n"
        "print(sorted(m for m in ('typer', 'rich', 'pydantic', 'alembic') if m in sys.modules))",
        tmp_path)
    assert result.stdout.splitlines() == [f"uk-psti:schedule-1:1 of {ROUTER}: met", "exit 0", "[]"], \
        result.stderr


def test_the_workspace_reads_import_neither_typer_nor_pydantic(tmp_path: Path) -> None:
    """``product list`` and ``gaps`` were Typer commands: Typer, Rich and pydantic cost them
    ~20x ``python -c pass`` more than a status change."""
    db = _assessed(tmp_path)
    result = _run(
        "import sys\nfrom prodsec.cli import main\nfor args in (['product', 'list'], "
        f"['gaps', {ROUTER!r}, '--as-of', '2026-11-27']):\n    try:\n"
        f"        main([*args, '--format', 'json', '--db', {db!r}])\n"
        "    except SystemExit as exc:\n        print('exit', exc.code)\n"
        "print(sorted(m for m in ('typer', 'rich', 'pydantic', 'alembic') if m in sys.modules))",
        tmp_path)
    lines = result.stdout.splitlines()
    assert lines.count("exit 0") == 2 and lines[-1] == "[]", result.stderr
    assert f'"product": "{ROUTER}"' in result.stdout


def test_fast_and_typer_paths_answer_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bad call through both paths: same message, same exit code."""
    from prodsec.cli import fast
    from prodsec.cli.app import run

    db = str(tmp_path / "ws.db")
    args = ["product", "release", "Nothing", "1.0", "--support-end", "soon", "--db", db]
    assert fast.try_fast(args) == 2
    fast_err = capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        run(args)
    assert exited.value.code == 2
    assert capsys.readouterr().err == fast_err == \
        "error: --support-end: expected an ISO 8601 date YYYY-MM-DD, got 'soon'\n"


@pytest.mark.parametrize(("args", "code"), [
    (["regulations", "--format", "json"], 0),
    (["check", "no-such-profile.yaml", "--format", "json"], 2),
])
def test_the_program_ends_without_teardown_as_it_would_with_it(
        tmp_path: Path, args: list[str], code: int) -> None:
    """``main()`` run as the program ends a fast command with ``os._exit``: the output is
    complete, the exit code kept and the atexit handlers run (a caller passing ``argv``, as
    these tests do elsewhere, gets SystemExit instead)."""
    import json

    result = _run("import atexit, sys\n"
                  "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
                  f"sys.argv = ['prodsec', *{args!r}]\n"
                  "from prodsec.cli import main\nmain()\nprint('not reached')", tmp_path)
    assert result.returncode == code and "not reached" not in result.stdout
    assert result.stderr.endswith("atexit ran\n")
    if code == 0:
        assert len(json.loads(result.stdout)) == 11  # the whole answer, flushed
    else:
        assert result.stderr.startswith("error: no-such-profile.yaml: no such file")
