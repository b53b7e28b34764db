"""Both paths of every spec'd command answer alike: calls generated from ``prodsec.cli.spec``
— successes and errors (unknown options, missing or extra arguments, missing values, bad types,
out-of-range numbers, bad choices) — run through the real entry point (fast path first) and
through Typer alone; exit code, stdout and the first line of stderr must be the same.

A command added to the spec gets its cases here without editing this file, except for a sample
value when it has a new required argument (the KeyError says which).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from prodsec.cli import spec
from prodsec.cli.spec import Arg, Command, Opt
from prodsec.core.limits import MAPPING_DEPTH

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "products"
ROUTER = "Fictinet AX3000 Home Router"

#: A valid value per parameter name ({db}/{tmp} are filled in per test).
SAMPLES = {
    "regulation_id": "eu-cra", "requirement_id": "uk-psti:schedule-1:1",
    "profiles": str(EXAMPLES / "camera.yaml"), "profile": str(EXAMPLES / "camera.yaml"),
    "category": "handling", "as_of": "2026-11-27", "output": "{tmp}/report.html",
    "product": ROUTER, "version_label": "2.0", "placed_on_market": "2026-01-15",
    "support_end": "2031-01-15", "rationale": "five years", "requirement": "uk-psti:schedule-1:1",
    "set_to": "met", "justification": "done", "evidence": str(EXAMPLES / "router.yaml"),
    "expires": "2027-01-01", "file": "{tmp}/changes.csv", "org": "default", "db": "{db}",
}
#: Values the service refuses (not the parser): both paths must print the same error.
BAD = {"as_of": "soon", "placed_on_market": "31.12.2026", "support_end": "later",
       "expires": "tomorrow", "category": "everything", "set_to": "done"}
#: Options a success case leaves out: they need others or a prepared file.
SOLO = {"file", "expires", "justification", "output"}


def _required(cmd: Command) -> list[str]:
    args = [SAMPLES[a.name] for a in cmd.args if a.required]
    if any(opt.name == "db" for opt in cmd.opts):  # the prepared workspace, not an empty one
        args += ["--db", "{db}"]
    if cmd.words == ("status",):
        args = [ROUTER, SAMPLES["requirement"], "--set", "met", "--db", "{db}"]
    return args


def _with(cmd: Command, opt: Opt, value: str) -> list[str]:
    base = [a for a in _required(cmd) if not (opt.name == "db" and a in ("--db", "{db}"))]
    if opt.name == "set_to" and cmd.words == ("status",):
        base = [ROUTER, SAMPLES["requirement"], "--db", "{db}"]
    return [*cmd.words, *base, opt.flags[0], value]


def cases() -> Iterator[tuple[str, list[str]]]:
    for cmd in spec.COMMANDS:
        words, required = list(cmd.words), _required(cmd)
        yield "ok", [*words, *required]
        yield "help", [*words, "--help"]
        yield "unknown option", [*words, *required, "--no-such-option", "x"]
        if any(a.required for a in cmd.args):
            yield "missing argument", [*words, *[a for a in required if a.startswith("-")
                                                 or a == "{db}" or a == "met"]]
        if not any(a.many for a in cmd.args):
            yield "extra argument", [*words, *required, "surplus"]
        for opt in cmd.opts:
            yield f"{opt.flags[0]} without value", [*words, *required, opt.flags[0]]
            if opt.choices:
                for choice in opt.choices:
                    yield f"{opt.flags[0]} {choice}", _with(cmd, opt, choice)
                yield f"{opt.flags[0]} bad choice", _with(cmd, opt, "xml")
            elif opt.type is int:
                for n in {opt.min, opt.max} - {None}:
                    yield f"{opt.flags[0]} {n}", _with(cmd, opt, str(n))
                yield f"{opt.flags[0]} not a number", _with(cmd, opt, "two")
                if opt.min is not None:
                    yield f"{opt.flags[0]} below", _with(cmd, opt, str(opt.min - 1))
                if opt.max is not None:
                    yield f"{opt.flags[0]} above", _with(cmd, opt, str(opt.max + 1))
                    yield f"{opt.flags[0]} far above", _with(cmd, opt, str(opt.max * 1000))
            elif opt.name not in SOLO and opt.name != "db":
                yield f"{opt.flags[0]} given", _with(cmd, opt, SAMPLES[opt.name])
            if opt.name in BAD:
                yield f"{opt.flags[0]} refused", _with(cmd, opt, BAD[opt.name])
            if not opt.repeat:
                yield f"{opt.flags[0]} twice", [*words, *required, opt.flags[0],
                                                SAMPLES.get(opt.name, "1"), opt.flags[0],
                                                SAMPLES.get(opt.name, "1")]


CASES = [pytest.param(args, id=f"{' '.join(args[:2])}: {why}") for why, args in cases()]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the router assessed, copied for each path of each case."""
    db = tmp_path_factory.mktemp("ws") / "ws.db"
    for args in (["product", "add", str(EXAMPLES / "router.yaml")],
                 ["assess", ROUTER, "--as-of", "2026-11-27"]):
        subprocess.run([sys.executable, "-m", "prodsec", *args, "--db", str(db)], check=True,
                       capture_output=True, cwd=ROOT, timeout=300)
    return db


def _call(entry: str, args: list[str], tmp: Path, template: Path) -> tuple[int, str, str]:
    db = tmp / f"{entry}.db"
    shutil.copy(template, db)
    (tmp / entry).mkdir()
    args = [a.replace("{db}", str(db)).replace("{tmp}", str(tmp / entry)) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exited:
        if entry == "fast":
            from prodsec.cli import main

            main(args)
        else:
            from prodsec.cli.app import run

            run(args)
    code = exited.value.code
    text = out.getvalue().replace(str(db), "{db}").replace(str(tmp / entry), "{tmp}")
    first = err.getvalue().replace(str(db), "{db}").replace(str(tmp / entry), "{tmp}")
    return code if isinstance(code, int) else 1, re.sub(r"[0-9a-f]{32}", "ID", text), \
        (first.splitlines() or [""])[0]


@pytest.mark.parametrize("args", CASES)
def test_fast_path_and_typer_answer_alike(args: list[str], tmp_path: Path, workspace: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("PRODSEC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    fast = _call("fast", args, tmp_path, workspace)
    typer = _call("typer", args, tmp_path, workspace)
    assert fast == typer
    assert "Traceback" not in fast[2]


def test_the_successes_take_the_fast_path() -> None:
    """Else the parity above would compare Typer with itself."""
    ok = [c.values[0] for c in CASES if c.id.endswith((": ok", " json", " table", " markdown",
                                                       " 1", " given"))]  # type: ignore[union-attr]
    assert len(ok) > 20
    for args in ok:
        assert spec.recognise(args) is not None, args  # type: ignore[arg-type]


def test_the_cases_cover_successes_and_every_kind_of_error() -> None:
    kinds = {case.id.split(": ", 1)[1] for case in CASES}  # type: ignore[union-attr]
    assert {"ok", "unknown option", "missing argument", "extra argument", "--depth above",
            "--expiring-days above", "--expiring-days far above",
            "--format bad choice", "--as-of refused"} <= kinds


def test_the_spec_and_the_typer_commands_agree() -> None:
    """Typer's view of each spec'd command: the same options, limits and arguments."""
    import typer.main

    from prodsec.cli.app import app

    root = typer.main.get_command(app)
    for cmd in spec.COMMANDS:
        node = root
        for word in cmd.words:
            node = node.commands[word]  # type: ignore[attr-defined]
        params = {p.name: p for p in node.params}
        for opt in cmd.opts:
            param = params[opt.name]
            assert param.param_type_name == "option" and list(param.opts) == list(opt.flags)
            assert bool(param.multiple) == opt.repeat  # type: ignore[attr-defined]
        for arg in cmd.args:
            assert params[arg.name].param_type_name == "argument"
        assert len(params) == len(cmd.params)


@pytest.mark.parametrize("args", [
    ["mappings", "uk-psti:schedule-1:1", "--depth", "9", "--format", "json"],
    ["mappings", "uk-psti:schedule-1:1", "--depth", "9"],
])
def test_a_depth_beyond_the_limit_is_refused_on_every_path(args: list[str]) -> None:
    """The fast path used to print 116 KB and exit 0 here while Typer refused it."""
    result = subprocess.run([sys.executable, "-m", "prodsec", *args], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert (result.returncode, result.stdout) == (2, "")
    assert f"less than or equal to {MAPPING_DEPTH}" in result.stderr


def test_the_service_enforces_the_depth_limit_for_every_face() -> None:
    from prodsec.errors import InputError
    from prodsec.services.knowledge import knowledge_base, mappings

    assert mappings(knowledge_base(), "uk-psti:schedule-1:1", MAPPING_DEPTH)["related"]
    for depth in (0, MAPPING_DEPTH + 1, 9):
        with pytest.raises(InputError, match=f"between 1 and {MAPPING_DEPTH}"):
            mappings(knowledge_base(), "uk-psti:schedule-1:1", depth)


@pytest.mark.parametrize("args", [
    ["regulations", "--format", "json"], ["regulations"], ["regulation", "eu-cra", "-f", "markdown"],
    ["mappings", "uk-psti:schedule-1:1", "--depth=3"], ["status", "P", "R", "--set", "met"],
    ["check", "a.yaml", "b.yaml", "--output", "x.html"], ["product", "list"],
    ["gaps", "--expiring-days", "0", "-f", "json"],
])
def test_the_spec_recognises_valid_calls(args: list[str]) -> None:
    assert spec.recognise(args) is not None


@pytest.mark.parametrize("args", [
    ["regulations", "--help"], ["regulations", "-fjson"], ["regulations", "-f=json"],
    ["mappings", "R", "--depth", "6"], ["mappings", "R", "--depth", "+2"], ["mappings"],
    ["regulation", "a", "b"], ["regulations", "--format", "json", "--format", "json"],
    ["regulation", "--", "-x"], ["regulation", ""], ["status", "P", "R", "--set"],
    ["assess", "P"], ["frobnicate"], [],
])
def test_anything_the_spec_is_unsure_of_goes_to_typer(args: list[str]) -> None:
    assert spec.recognise(args) is None


def test_every_spec_param_is_typed_as_the_recogniser_knows() -> None:
    for cmd in spec.COMMANDS:
        for param in cmd.params:
            assert param.type in ((str, Path) if isinstance(param, Arg) else (str, int, Path))
