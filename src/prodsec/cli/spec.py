"""The one definition of every command the CLI can run without Typer: arguments, options,
types, limits, help and the function that does the work.

Two things are built from ``COMMANDS`` and nothing else: the Typer commands (``prodsec.cli.build``,
so ``--help``, shell-style errors and suggestions stay Typer's) and the fast recogniser below
(``recognise``), which ``prodsec.cli.fast`` uses to answer without importing Typer, Rich or
pydantic. The recogniser is strict: it accepts only a call it is sure Typer would accept in
the same way (known options, values of the right type within their limits, the right number
of arguments) and returns None for anything else — help, a typo, ``--depth 9`` — so Typer
gives the one canonical error. ``tests/cli/test_spec_parity.py`` generates success and error
calls from this table and runs each through both paths.

Ordinary Typer commands need nothing here: a command opts in by being listed in ``COMMANDS``.
This module imports only the standard library (and one constant); it is read on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prodsec.core.limits import EXPIRING_DAYS, MAPPING_DEPTH

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any


class Arg:
    """A positional argument: the handler's keyword ``name``; ``type`` is ``str`` or ``Path``;
    with ``many`` it takes one or more values (``PROFILE...``) and the handler gets a list.

    (Plain classes, not dataclasses: this module is read on every call, and ``dataclasses``
    with ``inspect`` would be ~10 % of a JSON answer's start-up.)
    """

    __slots__ = ("help", "many", "metavar", "name", "required", "type")

    def __init__(self, name: str, metavar: str = "", help: str = "", type: type = str,
                 required: bool = True, many: bool = False) -> None:
        self.name, self.metavar, self.help, self.type = name, metavar, help, type
        self.required, self.many = required, many

    def __repr__(self) -> str:
        return f"Arg({self.name!r})"


class Opt:
    """An option taking one value: the handler's keyword ``name``, its ``flags``, ``type``
    (``str``, ``int`` or ``Path``), ``default``, integer limits ``min``/``max``, ``choices``.
    With ``repeat`` it may be given several times and the handler gets a list (empty when
    absent)."""

    __slots__ = ("choices", "default", "flags", "help", "max", "min", "name", "repeat", "type")

    def __init__(self, name: str, flags: tuple[str, ...], help: str = "", type: type = str,
                 default: Any = None, min: int | None = None, max: int | None = None,
                 choices: tuple[str, ...] = (), repeat: bool = False) -> None:
        self.name, self.flags, self.help, self.type = name, flags, help, type
        self.default, self.min, self.max = default, min, max
        self.choices, self.repeat = choices, repeat

    def __repr__(self) -> str:
        return f"Opt({self.name!r})"


Param = Arg | Opt


class Command:
    """One command: the ``words`` that name it, its ``help``, its ``params`` in help order, and
    its ``handler`` as ``module:function``, imported only when the command runs; the handler
    takes the parameters as keywords and returns an exit code (None for 0). ``writes``: it
    changes the workspace, so it runs with the cyclic GC off (see ``prodsec.cli.fast``)."""

    __slots__ = ("args", "handler", "help", "opts", "params", "words", "writes")

    def __init__(self, words: tuple[str, ...], help: str, handler: str,
                 params: tuple[Param, ...] = (), writes: bool = False) -> None:
        self.words, self.help, self.handler = words, help, handler
        self.params, self.writes = params, writes
        self.args = tuple(p for p in params if isinstance(p, Arg))
        self.opts = tuple(p for p in params if isinstance(p, Opt))

    def __repr__(self) -> str:
        return f"Command({' '.join(self.words)!r})"

    def load(self) -> Callable[..., int | None]:
        """The handler, imported on first use (so listing the spec costs nothing)."""
        from importlib import import_module

        module, _, name = self.handler.partition(":")
        function: Callable[..., int | None] = getattr(import_module(module), name)
        return function


FORMAT = Opt("fmt", ("--format", "-f"), "table, json or markdown.", default="table",
             choices=("table", "json", "markdown"))
AS_OF = Opt("as_of", ("--as-of",), "YYYY-MM-DD (default: today).")
ORG = Opt("org", ("--org",), "Organisation name.", default="default")
DB = Opt("db", ("--db",), "SQLite file or database URL (default: PRODSEC_DATABASE_URL, else the "
         "user data dir).")

_Q = "prodsec.cli.queries"
_C = "prodsec.cli.changes"
_R = "prodsec.cli.reads"

COMMANDS: tuple[Command, ...] = (
    Command(("regulations",), "List every instrument: jurisdiction, kind, binding, conformity "
            "route, rigor, scope.", f"{_Q}:regulations", (FORMAT,)),
    Command(("regulation",), "One instrument: dates, rigor, strategy, scope, standards, "
            "requirements by category.", f"{_Q}:regulation",
            (Arg("regulation_id", "ID", "e.g. eu-cra"), FORMAT)),
    Command(("requirements",), "Requirements (and standards' provisions), filtered by instrument "
            "and category.", f"{_Q}:requirements",
            (Opt("regulation_id", ("--regulation",), "Instrument or standard id."),
             Opt("category", ("--category",), "prevention, readiness or handling."), FORMAT)),
    Command(("mappings",), "Everything equal or overlapping with a requirement across regimes: "
            "comply once.", f"{_Q}:mappings",
            (Arg("requirement_id", "REQUIREMENT_ID"),
             Opt("depth", ("--depth",), "Mapping hops to follow.", int, 2, 1, MAPPING_DEPTH),
             FORMAT)),
    Command(("standards",), "Standards and the instruments that point to them.",
            f"{_Q}:standards", (FORMAT,)),
    Command(("check",), "Which instruments apply to each product, how strictly, from when, and "
            "why.", f"{_Q}:check",
            (Arg("profiles", "PROFILE...", "Files or directories.", many=True), AS_OF, FORMAT,
             Opt("output", ("--output", "-o"), "Write an HTML report.", Path))),
    Command(("product", "add"), "Add a product from its v1 profile (YAML or JSON).",
            f"{_C}:add_product", (Arg("profile", type=Path), ORG, DB), writes=True),
    Command(("product", "list"), "List the organisation's products.", f"{_R}:product_list",
            (ORG, DB, FORMAT)),
    Command(("product", "release"), "Record a release: version, date placed on the market, end "
            "of its support period.", f"{_C}:add_release",
            (Arg("product"), Arg("version_label", "VERSION"),
             Opt("placed_on_market", ("--placed-on-market",), "YYYY-MM-DD"),
             Opt("support_end", ("--support-end",), "YYYY-MM-DD: end of the support period"),
             Opt("rationale", ("--rationale",), "How the support period was determined.",
                 default=""), ORG, DB), writes=True),
    Command(("status",), "Set a requirement's status for a product (optionally attaching "
            "evidence files), or many\nstatuses at once from --file.", f"{_C}:set_status",
            (Arg("product", help="Product id or name.", required=False),
             Arg("requirement", help="Requirement id.", required=False),
             Opt("set_to", ("--set",), "not-started, in-progress, met, not-met, not-applicable"),
             Opt("justification", ("--justification",), "Required for not-applicable."),
             Opt("evidence", ("--evidence",), "Evidence file(s) to attach.", Path, repeat=True),
             Opt("expires", ("--expires",), "Expiry date YYYY-MM-DD of the --evidence files."),
             Opt("file", ("--file",), "Many changes from a CSV (columns product, requirement, "
                 "status, justification) or YAML list, in one transaction: all or nothing.",
                 Path), ORG, DB), writes=True),
    Command(("gaps",), "Gap analysis for one product, or the whole portfolio.", f"{_R}:gaps",
            (Arg("product", "PRODUCT", "Product id or name (default: every product).",
                 required=False), AS_OF,
             Opt("expiring_days", ("--expiring-days",), "List evidence expiring within this "
                 "many days.", int, 30, 0, EXPIRING_DAYS), ORG, DB, FORMAT)),
)


def command(*words: str) -> Command:
    """The command named by ``words`` (a KeyError names an unknown one)."""
    return {c.words: c for c in COMMANDS}[words]


# ---- the fast recogniser -------------------------------------------------------------------

def recognise(args: list[str]) -> tuple[Command, dict[str, Any]] | None:
    """(command, handler keywords) when Typer would surely accept ``args`` the same way."""
    cmd = next((c for c in COMMANDS if tuple(args[:len(c.words)]) == c.words), None)
    if cmd is None:
        return None
    flags = {flag: opt for opt in cmd.opts for flag in opt.flags}
    values: dict[str, Any] = {}
    positionals: list[str] = []
    rest, i = args[len(cmd.words):], 0
    while i < len(rest):
        arg = rest[i]
        if not arg.startswith("-"):
            positionals.append(arg)
            i += 1
            continue
        name, eq, raw = arg.partition("=")
        opt = flags.get(name) if name.startswith("--") or not eq else None
        if opt is None:
            return None  # --help, --, a typo, -fjson: Typer's
        if not eq:
            if i + 1 >= len(rest) or rest[i + 1].startswith("-"):
                return None
            raw, i = rest[i + 1], i + 1
        value = _convert(opt, raw)
        if value is None or (opt.name in values and not opt.repeat):
            return None
        if opt.repeat:
            values.setdefault(opt.name, []).append(value)
        else:
            values[opt.name] = value
        i += 1
    kwargs = _place(cmd.args, positionals)
    if kwargs is None:
        return None
    for opt in cmd.opts:
        kwargs[opt.name] = values.get(opt.name, [] if opt.repeat else opt.default)
    return cmd, kwargs


def _convert(opt: Opt, raw: str) -> Any:
    """The typed value, or None when Typer might read ``raw`` otherwise or refuse it."""
    if opt.choices:
        return raw if raw in opt.choices else None
    if opt.type is int:
        digits = raw[1:] if raw.startswith("-") else raw
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 18):
            return None  # "+2", " 2", "2_0", "²": whatever Typer makes of them, it says so
        number = int(raw)
        low = opt.min if opt.min is not None else number
        high = opt.max if opt.max is not None else number
        return number if low <= number <= high else None
    if opt.type is Path:
        return Path(raw) if raw else None
    return raw


def _place(args: tuple[Arg, ...], given: list[str]) -> dict[str, Any] | None:
    """Positional values by name, or None when there are too many or too few."""
    if any(not value for value in given):
        return None
    kwargs: dict[str, Any] = {}
    for n, arg in enumerate(args):
        if arg.many:
            if len(given) < n + 1 or n != len(args) - 1:
                return None
            kwargs[arg.name] = [arg.type(v) for v in given[n:]]
            return kwargs
        if n < len(given):
            kwargs[arg.name] = arg.type(given[n])
        elif arg.required:
            return None
        else:
            kwargs[arg.name] = None
    return kwargs if len(given) <= len(args) else None
