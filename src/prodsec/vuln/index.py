"""The in-memory advisory index: by (ecosystem, normalised package name), with each affected
range pre-parsed into intervals so that a lookup parses only the component's own version."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prodsec.core.advisory import Advisory, Affected, Range
from prodsec.formats.purl import PURL_TO_OSV, parse_key
from prodsec.vuln import versions

ORDERED_RANGES = ("ECOSYSTEM", "SEMVER")
#: vulnerability, aliases, affected, fixed, severity, summary
Shared = tuple[str, tuple[str, ...], str, tuple[str, ...], "str | None", "str | None"]


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
    #: The fields every finding of this entry shares, in ``Finding`` field order
    #: (vulnerability, aliases, affected, fixed, severity, summary).
    shared: Shared = field(default=("", (), "", (), None, None), compare=False, hash=False,
                           repr=False)

    def matches(self, parsed: Any, plain: str) -> bool:
        """Affected when listed in ``versions`` or inside an ECOSYSTEM/SEMVER range."""
        if plain in self.versions:
            return True
        return parsed is not None and any(i.contains(parsed) for i in self.intervals)


class AdvisoryIndex:
    """Advisories keyed by (OSV ecosystem, normalised name).

    Each package's range table is built with the index, so a lookup is one version key (read
    off the digits for plain versions, memoised per ecosystem and text), one bisection and a
    list index. Purls are resolved without parsing when they start with a package's canonical
    purl (``pkg:pypi/django``), which the index lists when it is built; whole answers are also
    memoised per purl, bounded by ``MEMO``.
    """

    MEMO = 1 << 18

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        grouped: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        self.size = 0
        for advisory in advisories:
            self.size += 1
            for affected in advisory.affected:
                grouped[(affected.ecosystem, affected.name)].append(_entry(advisory, affected))
        self._keys: dict[str, dict[str, tuple[Any, str]]] = {}
        self._packages = {key: _Package(key[0], entries, self._keys.setdefault(key[0], {}))
                          for key, entries in grouped.items()}
        self._heads: dict[str, _Package | None] = _canonical_heads(self._packages)
        self._memo: dict[tuple[str, str, str], tuple[Entry, ...]] = {}
        self._by_purl: dict[str, tuple[Entry, ...]] = {}

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._packages

    def packages(self) -> list[tuple[str, str]]:
        """Every (ecosystem, name) that has at least one advisory."""
        return list(self._packages)

    def entries(self, ecosystem: str, name: str) -> list[Entry]:
        """Every entry naming the package, matching or not (for checks and reports)."""
        package = self._packages.get((ecosystem, name))
        return [] if package is None else list(package.entries)

    def lookup(self, ecosystem: str, name: str, version: str) -> list[Entry]:
        """The entries whose affected versions include ``version``."""
        return list(self.matching(ecosystem, name, version))

    def memoised_purls(self) -> Mapping[str, tuple[Entry, ...]]:
        """The ``for_purl`` answers computed so far (read-only view for a scan's fast path)."""
        return self._by_purl

    def for_purl(self, purl: str) -> tuple[Entry, ...]:
        """The entries matching a purl's package and version (none when it cannot be matched),
        memoised by the purl's text."""
        found = self._by_purl.get(purl)
        return self.remember(purl) if found is None else found

    def remember(self, purl: str) -> tuple[Entry, ...]:
        """``for_purl`` for a purl not memoised yet (a scan has just looked): resolve, store."""
        found = self.resolve(purl)
        if len(self._by_purl) >= self.MEMO:
            self._by_purl.clear()
        self._by_purl[purl] = found
        return found

    def resolve(self, purl: str) -> tuple[Entry, ...]:
        """A purl's entries: by its head (everything before the version) when the version has no
        escapes, else through the purl parser; a head the parser had to read is remembered."""
        core = purl
        if "?" in purl or "#" in purl:  # qualifiers and subpath do not change the package
            core = purl.partition("#")[0].partition("?")[0]
        head, at, version = core.rpartition("@")
        plain = bool(at) and "%" not in version
        if plain:
            package = self._heads.get(head, _MISSING)
            if package is not _MISSING:
                return () if package is None else package.match(version)
        key = parse_key(purl)
        if key is None:
            return ()
        package = self._packages.get(key[:2])
        if plain and key[2] == version:  # the head alone decides the package: remember it
            if len(self._heads) >= self.MEMO:
                self._heads = _canonical_heads(self._packages)
            self._heads[head] = package
        return () if package is None else package.match(key[2])

    def matching(self, ecosystem: str, name: str, version: str) -> tuple[Entry, ...]:
        """``lookup`` as a shared tuple, memoised (do not mutate the entries)."""
        key = (ecosystem, name, version)
        found = self._memo.get(key)
        if found is not None:
            return found
        package = self._packages.get((ecosystem, name))
        found = () if package is None else package.match(version)
        if len(self._memo) >= self.MEMO:
            self._memo.clear()
        self._memo[key] = found
        return found


class _Package:
    """One package's entries and range table, and its ecosystem's memo of version keys."""

    __slots__ = ("ecosystem", "entries", "keys", "table")

    def __init__(self, ecosystem: str, entries: list[Entry], keys: dict[str, tuple[Any, str]]) -> None:
        self.ecosystem = ecosystem
        self.entries = entries
        self.table = _build_table(entries)
        self.keys = keys

    def match(self, version: str) -> tuple[Entry, ...]:
        """The entries whose affected versions include ``version`` (as the SBOM writes it)."""
        key, plain = self.keys.get(version) or self._key(version)
        table = self.table
        if table is None:  # bounds the library cannot order against each other: compare directly
            parsed = versions.parse(self.ecosystem, version)
            return tuple(e for e in self.entries if e.matches(parsed, plain))
        if key is None:  # not a version in this ecosystem: only an enumerated listing matches
            return tuple(e for e in self.entries if plain in e.versions)
        bounds = table.bounds
        position = bisect_left(bounds, key)
        rank = (2 * position if position < len(bounds) and bounds[position] == key
                else 2 * position - 1)
        if plain not in table.listed:
            return table.by_rank[rank + 1]
        return tuple(e for e, spans in zip(self.entries, table.spans, strict=True)
                     if plain in e.versions or any(_in_span(rank, s) for s in spans))

    def _key(self, version: str) -> tuple[Any, str]:
        known = (versions.text_key(self.ecosystem, version), versions.plain(self.ecosystem, version))
        if len(self.keys) >= AdvisoryIndex.MEMO:
            self.keys.clear()
        self.keys[version] = known
        return known


_OSV_TO_PURL = {osv: purl for purl, osv in PURL_TO_OSV.items()}


def _canonical_heads(packages: dict[tuple[str, str], _Package]) -> dict[str, _Package | None]:
    """Each package's purl without its version (``pkg:golang/golang.org/x/net``), kept only
    when the purl parser reads it back as exactly that package."""
    heads: dict[str, _Package | None] = {}
    for (ecosystem, name), package in packages.items():
        kind = _OSV_TO_PURL.get(ecosystem)
        if kind is None:
            continue
        head = f"pkg:{kind}/{name.replace(':', '/') if ecosystem == 'Maven' else name}"
        if parse_key(f"{head}@0") == (ecosystem, name, "0"):
            heads[head] = package
    return heads


_MISSING: Any = object()


def _build_table(entries: list[Entry]) -> _Table | None:
    try:
        return _Table(entries)
    except ImportError:
        raise  # a missing versioning library (an extra to install), not a quirk of the data
    except Exception:  # a bound the library cannot order against another: compare directly
        return None


Span = tuple[int, float, bool]


def _in_span(rank: int, span: Span) -> bool:
    lower, upper, inclusive = span
    return rank >= lower and (rank <= upper if inclusive else rank < upper)


class _Table:
    """One package's distinct range bounds, sorted once with the library's ordering.

    A component version is then placed among them by bisection (log n library comparisons
    instead of two per interval) as a rank — 2i when it equals bound i, 2i+1 between bounds i
    and i+1, -1 before the first — and since every interval is a span of ranks, the entries
    whose ranges contain each rank are listed once (``by_rank[rank + 1]``). ``listed`` holds every
    version the entries enumerate (``affected.versions``): only those need a per-entry check.
    """

    __slots__ = ("bounds", "by_rank", "ecosystem", "listed", "spans")

    def __init__(self, entries: list[Entry]) -> None:
        self.ecosystem = entries[0].affected.ecosystem
        ordered: list[Any] = []
        for value in sorted({self._key(b) for e in entries for i in e.intervals
                             for b in (i.lower, i.upper) if b is not None}):
            if not ordered or ordered[-1] != value:
                ordered.append(value)
        self.bounds = ordered
        self.spans = [tuple(self._span(i) for i in e.intervals) for e in entries]
        self.by_rank = self._sweep(entries, 2 * len(ordered))
        self.listed: frozenset[str] = frozenset().union(*(e.versions for e in entries))

    def _sweep(self, entries: list[Entry], ranks: int) -> list[tuple[Entry, ...]]:
        """For each rank -1 … ranks-1, the entries with a span containing it (in entry order):
        one pass over the ranks, opening and closing each span where it starts and ends."""
        opens: list[list[int]] = [[] for _ in range(ranks + 1)]
        closes: list[list[int]] = [[] for _ in range(ranks + 2)]
        for position, spans in enumerate(self.spans):
            for lower, upper, inclusive in spans:
                end = ranks if upper == float("inf") else int(upper) + (1 if inclusive else 0)
                if end > lower:
                    opens[lower + 1].append(position)
                    closes[min(end, ranks) + 1].append(position)
        active: dict[int, int] = {}
        current: tuple[Entry, ...] = ()
        found: list[tuple[Entry, ...]] = []
        for slot in range(ranks + 1):
            if opens[slot] or closes[slot]:
                for position in closes[slot]:
                    active[position] -= 1
                    if not active[position]:
                        del active[position]
                for position in opens[slot]:
                    active[position] = active.get(position, 0) + 1
                current = tuple(entries[i] for i in sorted(active))
            found.append(current)
        return found

    def _span(self, interval: Interval) -> Span:
        lower = (-1 if interval.lower is None
                 else 2 * bisect_left(self.bounds, self._key(interval.lower)))
        upper = (float("inf") if interval.upper is None
                 else 2 * bisect_left(self.bounds, self._key(interval.upper)))
        return lower, upper, interval.inclusive

    def _key(self, version: Any) -> Any:
        return versions.order_key(self.ecosystem, version)

    def rank(self, version: Any) -> int:
        """2i when ``version`` equals bound i, else 2i-1 where i is its insertion point."""
        return self.rank_of_key(self._key(version))

    def rank_of_key(self, key: Any) -> int:
        """``rank`` of a version already turned into its ``versions.order_key``."""
        bounds = self.bounds
        position = bisect_left(bounds, key)
        if position < len(bounds) and bounds[position] == key:
            return 2 * position
        return 2 * position - 1


def _entry(advisory: Advisory, affected: Affected) -> Entry:
    intervals = tuple(i for r in affected.ranges if r.type in ORDERED_RANGES
                      for i in intervals_of(affected.ecosystem, r))
    plain = (frozenset(versions.plain("Go", v) for v in affected.versions)
             if affected.ecosystem == "Go" else frozenset(affected.versions))
    ordered = [r for r in affected.ranges if r.type != "GIT"]
    described = "; ".join(r.describe() for r in ordered)
    fixed = tuple(dict.fromkeys(e.version for r in ordered for e in r.events if e.kind == "fixed"))
    shared = (advisory.id, advisory.aliases, described, fixed, advisory.severity, advisory.summary)
    return Entry(advisory, affected, intervals, plain, described, fixed, shared)


def intervals_of(ecosystem: str, rng: Range) -> list[Interval]:
    """The affected intervals of one range, walking its events in version order (OSV's
    evaluation algorithm; events are not guaranteed to be listed in order)."""
    events = []
    for event in rng.events:
        parsed = None if event.version == "0" else versions.parse(ecosystem, event.version)
        if parsed is None and event.version != "0":
            continue  # not a version in this ecosystem: cannot be ordered, so cannot bound
        events.append((parsed, event.kind))
    if ecosystem in versions.NATIVE_ORDER:  # the same order, compared in C
        events.sort(key=lambda item: (item[0] is not None, 0 if item[0] is None
                                      else versions.order_key(ecosystem, item[0]),
                                      item[1] != "introduced"))
    else:
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
