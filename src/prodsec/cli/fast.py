"""The fast path: JSON answers to the common read-only queries with only the standard library.

It recognises a command only when every argument is one it understands; otherwise it returns
``None`` and the Typer application handles the call (with help, validation and suggestions).
A test runs every recognised form through both paths and compares the output byte for byte.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

#: command → (positional count, allowed options)
FORMS: dict[str, tuple[int, frozenset[str]]] = {
    "regulations": (0, frozenset()),
    "regulation": (1, frozenset()),
    "requirements": (0, frozenset({"--regulation", "--category"})),
    "mappings": (1, frozenset({"--depth"})),
    "standards": (0, frozenset()),
    "check": (-1, frozenset({"--as-of"})),
}


def parse(args: list[str]) -> tuple[str, list[str], dict[str, str]] | None:
    """(command, positionals, options) when the call is a JSON query the fast path serves."""
    if not args or args[0] not in FORMS:
        return None
    command, rest = args[0], args[1:]
    count, allowed = FORMS[command]
    positionals: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        name, eq, value = arg.partition("=")
        if arg.startswith("-"):
            if name not in allowed | {"--format", "-f"} or name in options:
                return None
            if not eq:
                if i + 1 >= len(rest):
                    return None
                value, i = rest[i + 1], i + 1
            options["--format" if name == "-f" else name] = value
        else:
            positionals.append(arg)
        i += 1
    if options.pop("--format", None) != "json":
        return None
    if (count >= 0 and len(positionals) != count) or (count < 0 and not positionals):
        return None
    return command, positionals, options


def try_fast(args: list[str]) -> int | None:
    """Run the call if it is a fast-path form; return its exit code, or None to fall back."""
    parsed = parse(args)
    if parsed is None:
        return try_write(args)
    command, positionals, options = parsed
    from prodsec.errors import ProdsecError

    try:
        return HANDLERS[command](positionals, options)
    except ProdsecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError:
        return None  # e.g. a non-numeric --depth: let the full CLI explain it


# ---- workspace changes ---------------------------------------------------------------------
#
# The commands that change one thing run through ``prodsec.cli.changes`` directly: they import
# SQLAlchemy and the models they need, but not Typer, Rich and pydantic.

#: command words → (allowed positional counts, options taking one value, repeatable options)
WRITES: dict[tuple[str, ...], tuple[frozenset[int], frozenset[str], frozenset[str]]] = {
    ("status",): (frozenset({0, 2}), frozenset({"--set", "--justification", "--expires",
                                                "--file", "--org", "--db"}),
                  frozenset({"--evidence"})),
    ("product", "add"): (frozenset({1}), frozenset({"--org", "--db"}), frozenset()),
    ("product", "release"): (frozenset({2}), frozenset({"--placed-on-market", "--support-end",
                                                        "--rationale", "--org", "--db"}),
                             frozenset()),
}


def parse_write(args: list[str]) -> tuple[tuple[str, ...], list[str], dict[str, list[str]]] | None:
    """(command, positionals, options) for a workspace change the fast path runs, else None."""
    command = next((c for c in WRITES if tuple(args[:len(c)]) == c), None)
    if command is None:
        return None
    counts, single, repeated = WRITES[command]
    positionals: list[str] = []
    options: dict[str, list[str]] = {}
    rest, i = args[len(command):], 0
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("-"):
            name, eq, value = arg.partition("=")
            if name not in single | repeated or (name in single and name in options):
                return None  # --help, unknown or repeated options: Typer explains them
            if not eq:
                if i + 1 >= len(rest):
                    return None
                value, i = rest[i + 1], i + 1
            options.setdefault(name, []).append(value)
        else:
            positionals.append(arg)
        i += 1
    if len(positionals) not in counts:
        return None
    return command, positionals, options


def try_write(args: list[str]) -> int | None:
    """Run a workspace change without Typer; its exit code, or None to fall back."""
    parsed = parse_write(args)
    if parsed is None:
        return None
    command, pos, opts = parsed
    import gc

    from prodsec.errors import ProdsecError

    # Importing SQLAlchemy and mapping the models creates ~10^5 long-lived objects; the cyclic
    # GC would walk them again and again (~12 % of the command's CPU) to free nothing. The
    # command is short and bounded (a bulk file has at most 10 000 rows), so it runs without.
    gc.disable()
    try:
        WRITE_HANDLERS[command](pos, {k: v[-1] for k, v in opts.items()}, opts)
    except ProdsecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        gc.enable()
    return 0


def _status(pos: list[str], opt: dict[str, str], many: dict[str, list[str]]) -> None:
    from pathlib import Path

    from prodsec.cli.changes import set_status

    set_status(pos[0] if pos else None, pos[1] if pos else None, opt.get("--set"),
               opt.get("--justification"), [Path(p) for p in many.get("--evidence", [])],
               opt.get("--expires"), Path(opt["--file"]) if "--file" in opt else None,
               opt.get("--org", "default"), opt.get("--db"))


def _product_add(pos: list[str], opt: dict[str, str], many: dict[str, list[str]]) -> None:
    from pathlib import Path

    from prodsec.cli.changes import add_product

    add_product(Path(pos[0]), opt.get("--org", "default"), opt.get("--db"))


def _product_release(pos: list[str], opt: dict[str, str], many: dict[str, list[str]]) -> None:
    from prodsec.cli.changes import add_release

    add_release(pos[0], pos[1], opt.get("--placed-on-market"), opt.get("--support-end"),
                opt.get("--rationale", ""), opt.get("--org", "default"), opt.get("--db"))


WRITE_HANDLERS: dict[tuple[str, ...], Callable[[list[str], dict[str, str], dict[str, list[str]]],
                                               None]] = {
    ("status",): _status,
    ("product", "add"): _product_add,
    ("product", "release"): _product_release,
}


def dump(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)


def _kb() -> Any:
    from prodsec.services.knowledge import knowledge_base

    return knowledge_base()


def _regulations(pos: list[str], opts: dict[str, str]) -> int:
    from prodsec.services import knowledge

    print(dump(knowledge.regulations(_kb())))
    return 0


def _regulation(pos: list[str], opts: dict[str, str]) -> int:
    from prodsec.services import knowledge

    print(dump(knowledge.regulation(_kb(), pos[0])))
    return 0


def _requirements(pos: list[str], opts: dict[str, str]) -> int:
    from prodsec.services import knowledge

    print(dump(knowledge.requirements(_kb(), opts.get("--regulation"), opts.get("--category"))))
    return 0


def _mappings(pos: list[str], opts: dict[str, str]) -> int:
    from prodsec.services import knowledge

    print(dump(knowledge.mappings(_kb(), pos[0], int(opts.get("--depth", "2")))))
    return 0


def _standards(pos: list[str], opts: dict[str, str]) -> int:
    from prodsec.services import knowledge

    print(dump(knowledge.standards(_kb())))
    return 0


def _check(pos: list[str], opts: dict[str, str]) -> int:
    from prodsec.services import check

    as_of = check.parse_date(opts.get("--as-of"))
    checks, failures = check.check_paths(_kb(), pos, as_of)
    for failure in failures:
        print(f"error: {failure.error}", file=sys.stderr)
    if checks or not check.is_single(pos):
        print(dump(check.report(checks, failures, check.is_single(pos))))
    return 2 if failures else 0


HANDLERS: dict[str, Callable[[list[str], dict[str, str]], int]] = {
    "regulations": _regulations,
    "regulation": _regulation,
    "requirements": _requirements,
    "mappings": _mappings,
    "standards": _standards,
    "check": _check,
}
