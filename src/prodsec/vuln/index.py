"""The in-memory advisory index: by (ecosystem, normalised package name), with each affected
range pre-parsed into intervals so that a lookup parses only the component's own version."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prodsec.core.advisory import Advisory, Affected, Range
from prodsec.vuln import versions

ORDERED_RANGES = ("ECOSYSTEM", "SEMVER")


@dataclass(frozen=True)
class Interval:
    """``lower <= v < upper`` (``<=`` when ``inclusive``); None bounds are open."""

    lower: Any
    upper: Any
    inclusive: bool = False

    def contains(self, version: Any) -> bool:
        """True when the parsed version lies in the interval."""
        if self.lower is not None and version < self.lower:
            return False
        if self.upper is None:
            return True
        return bool(version <= self.upper) if self.inclusive else bool(version < self.upper)


@dataclass(frozen=True)
class Entry:
    """One advisory's affected block for one package, ready to match."""

    advisory: Advisory
    affected: Affected
    intervals: tuple[Interval, ...]
    versions: frozenset[str]
    described: str = ""
    fixed: tuple[str, ...] = ()

    def matches(self, parsed: Any, plain: str) -> bool:
        """Affected when listed in ``versions`` or inside an ECOSYSTEM/SEMVER range."""
        if plain in self.versions:
            return True
        return parsed is not None and any(i.contains(parsed) for i in self.intervals)


class AdvisoryIndex:
    """Advisories keyed by (OSV ecosystem, normalised name)."""

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        self._entries: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        self.size = 0
        for advisory in advisories:
            self.size += 1
            for affected in advisory.affected:
                self._entries[(affected.ecosystem, affected.name)].append(_entry(advisory, affected))

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._entries

    def packages(self) -> list[tuple[str, str]]:
        """Every (ecosystem, name) that has at least one advisory."""
        return list(self._entries)

    def lookup(self, ecosystem: str, name: str, version: str) -> list[Entry]:
        """The entries whose affected versions include ``version``."""
        entries = self._entries.get((ecosystem, name))
        if not entries:
            return []
        parsed = versions.parse(ecosystem, version)
        plain = versions.plain(ecosystem, version)
        return [e for e in entries if e.matches(parsed, plain)]


def _entry(advisory: Advisory, affected: Affected) -> Entry:
    intervals = tuple(i for r in affected.ranges if r.type in ORDERED_RANGES
                      for i in intervals_of(affected.ecosystem, r))
    plain = frozenset(versions.plain(affected.ecosystem, v) for v in affected.versions)
    ordered = [r for r in affected.ranges if r.type != "GIT"]
    described = "; ".join(r.describe() for r in ordered)
    fixed = tuple(dict.fromkeys(e.version for r in ordered for e in r.events if e.kind == "fixed"))
    return Entry(advisory, affected, intervals, plain, described, fixed)


def intervals_of(ecosystem: str, rng: Range) -> list[Interval]:
    """The affected intervals of one range, walking its events in version order (OSV's
    evaluation algorithm; events are not guaranteed to be listed in order)."""
    events = []
    for event in rng.events:
        parsed = None if event.version == "0" else versions.parse(ecosystem, event.version)
        if parsed is None and event.version != "0":
            continue  # not a version in this ecosystem: cannot be ordered, so cannot bound
        events.append((parsed, event.kind))
    events.sort(key=_event_order)
    found: list[Interval] = []
    lower: Any = None
    open_ = False
    for parsed, kind in events:
        if kind == "introduced" and not open_:
            lower, open_ = parsed, True
        elif kind in ("fixed", "last_affected") and open_:
            found.append(Interval(lower, parsed, inclusive=kind == "last_affected"))
            open_ = False
    if open_:
        found.append(Interval(lower, None))
    return found


def _event_order(item: tuple[Any, str]) -> Any:
    """Sort key: "0" (None) first, then by version via the library's comparison; at one version,
    introduced comes first so that ``introduced == fixed`` is the empty interval."""
    parsed, kind = item
    return (parsed is not None, _Cmp(parsed) if parsed is not None else 0, kind != "introduced")


class _Cmp:
    """Wraps a library version so tuples compare it with the library's own ordering."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Cmp) -> bool:
        return bool(self.value < other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Cmp) and bool(self.value == other.value)

    __hash__ = None  # type: ignore[assignment]
