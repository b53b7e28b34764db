"""Advisory values (the OSV model, reduced to what matching needs).

See https://ossf.github.io/osv-schema/ — ``affected[].ranges[].events`` are introduced / fixed /
last_affected / limit points; ``versions`` is an enumeration that, for ECOSYSTEM ranges, the
ranges make normative.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One range event: ``kind`` is introduced, fixed, last_affected or limit."""

    kind: str
    version: str


@dataclass(frozen=True)
class Range:
    """An affected range in one versioning scheme (ECOSYSTEM, SEMVER or GIT)."""

    type: str
    events: tuple[Event, ...]

    def describe(self) -> str:
        """A compact human form, e.g. ``>=1.0, <1.2.3`` per introduced/fixed pair."""
        parts: list[str] = []
        for event in self.events:
            if event.kind == "introduced":
                parts.append(f">={event.version}" if event.version != "0" else ">=0")
            elif event.kind == "fixed":
                parts.append(f"<{event.version}")
            elif event.kind == "last_affected":
                parts.append(f"<={event.version}")
            elif event.kind == "limit":
                parts.append(f"<{event.version} (limit)")
        return ", ".join(parts)


@dataclass(frozen=True)
class Affected:
    """The affected versions of one package in one ecosystem (name normalised per ecosystem)."""

    ecosystem: str
    name: str
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()

    @property
    def fixed(self) -> tuple[str, ...]:
        """Every version the ranges name as fixing the vulnerability."""
        return tuple(e.version for r in self.ranges for e in r.events if e.kind == "fixed")


@dataclass(frozen=True)
class Advisory:
    """One vulnerability advisory: id, aliases (CVE, GHSA, PYSEC, GO), affected packages."""

    id: str
    aliases: tuple[str, ...] = ()
    summary: str | None = None
    severity: str | None = None
    affected: tuple[Affected, ...] = ()
    withdrawn: str | None = None
    modified: str | None = None
