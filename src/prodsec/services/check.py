"""``prodsec check``: read profiles, run the applicability engine, build the portfolio matrix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prodsec.core.applicability import Check, Engine
from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.profile import FieldProblem, Profile, ProfileError, parse_profile
from prodsec.core.record import Record
from prodsec.errors import InputError, ProdsecError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any

PROFILE_SUFFIXES = (".yaml", ".yml", ".json")
MAX_PROFILE_BYTES = 1_000_000


class Failure(Record):
    """A profile that could not be checked, and why."""

    source: str
    error: ProdsecError

    def to_dict(self) -> dict[str, Any]:
        problems = getattr(self.error, "problems", None)
        return {"source": self.source, "error": str(self.error),
                "problems": [str(p) for p in problems] if problems else []}


def parse_date(value: str | None, today: dt.date | None = None, option: str = "--as-of") -> dt.date:
    """An ISO 8601 calendar date (YYYY-MM-DD), or today when not given; errors name ``option``
    (the flag the user typed)."""
    if value is None:
        return today or dt.date.today()
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: expected an ISO 8601 date YYYY-MM-DD, got {value!r}") from None


def expand(paths: list[str]) -> list[Path]:
    """Files as given; directories contribute their profile files, sorted."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix in PROFILE_SUFFIXES)
        else:
            out.append(path)
    return out


def read_document(path: Path) -> Any:
    """Parse a YAML or JSON profile through ``prodsec.untrusted`` (bounded; no YAML aliases);
    any failure is a ``ProfileError`` naming the file, line and column."""
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise InputError(f"{path}: larger than {MAX_PROFILE_BYTES} bytes; not a profile")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    return parse_document(data, str(path), json_text=path.suffix == ".json")


def parse_document(data: bytes, source: str, json_text: bool = False) -> Any:
    """A profile's raw data from YAML or JSON bytes (an upload, a file), or a ``ProfileError``."""
    from prodsec import untrusted
    from prodsec.errors import FormatError

    try:
        if json_text:
            return untrusted.load_json(data, source, max_bytes=MAX_PROFILE_BYTES)
        return _read_yaml(source, data)
    except FormatError as exc:
        where = f"line {exc.line} column {exc.column}" if exc.line else "(file)"
        raise ProfileError(source, [FieldProblem(where, exc.problem)]) from None


def _read_yaml(source: str, data: bytes) -> Any:
    """Parse YAML, through a cache of the parsed value with the bytes it came from (PyYAML's
    import alone costs ~25 ms, a third of a warm ``prodsec check``); a parse error is never
    cached, nor a value marshal cannot hold (dates: YAML timestamps)."""
    from prodsec import untrusted
    from prodsec.knowledge.loader import cache_dir, cache_name, read_cached, write_cached

    cached = cache_dir() / "yaml" / f"{cache_name(data)}.marshal"
    value = read_cached(cached, data)
    if value is not None:
        return value
    value = untrusted.load_yaml(data, source, aliases=False, max_bytes=MAX_PROFILE_BYTES,
                                what="a product profile")
    write_cached(cached, data, value)
    return value


def load_profile(path: Path, kb: KnowledgeBase) -> Profile:
    raw = read_document(path)
    return parse_profile(raw, kb.vocabulary, source=str(path))


def check_paths(
    kb: KnowledgeBase, paths: list[str], as_of: dt.date
) -> tuple[list[Check], list[Failure]]:
    """Check every profile; a bad one is reported and the others still run."""
    engine = Engine(kb)
    checks: list[Check] = []
    failures: list[Failure] = []
    files = expand(paths)
    if not files:
        raise InputError("no profile files given (expected .yaml, .yml or .json files)")
    for path in files:
        try:
            checks.append(engine.check(load_profile(path, kb), as_of))
        except ProdsecError as exc:
            failures.append(Failure(str(path), exc))
    return checks, failures


def portfolio(checks: list[Check]) -> dict[str, Any]:
    """Products × instruments: the status of each instrument for each product."""
    instruments = [r.regulation for r in checks[0].results] if checks else []
    return {
        "instruments": instruments,
        "products": [
            {"product": c.product,
             "statuses": {r.regulation: r.status for r in c.results},
             "cra_category": next((r.category for r in c.results if r.regulation == "eu-cra"),
                                  None)}
            for c in checks
        ],
    }


def is_single(paths: list[str]) -> bool:
    """One profile file named: the JSON is that profile's object; else a portfolio document."""
    return len(paths) == 1 and not Path(paths[0]).is_dir()


def report(checks: list[Check], failures: list[Failure], single: bool) -> dict[str, Any]:
    """The JSON document of a run: the check itself for one file, else all plus the matrix."""
    if single and checks:
        return dict(checks[0].to_dict())
    return {"checks": [c.to_dict() for c in checks], "portfolio": portfolio(checks),
            "failures": [f.to_dict() for f in failures]}
