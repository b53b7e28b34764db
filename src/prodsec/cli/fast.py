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
        return None
    command, positionals, options = parsed
    from prodsec.errors import ProdsecError

    try:
        return HANDLERS[command](positionals, options)
    except ProdsecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError:
        return None  # e.g. a non-numeric --depth: let the full CLI explain it


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
