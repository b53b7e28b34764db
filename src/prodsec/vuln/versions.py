"""Version semantics per OSV ecosystem, from maintained libraries — never string comparison.

PyPI uses ``packaging`` (PEP 440); Go and npm use ``semver`` (Go versions drop their ``v``);
other ecosystems use ``univers``, which is correct but ~10x slower to parse (measured 36 µs per
Go version against 5 µs for ``semver``), hence the fast paths for the two databases we ship.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

UNIVERS = {
    "Maven": "MavenVersion", "RubyGems": "RubygemsVersion", "NuGet": "NugetVersion",
    "crates.io": "SemverVersion", "Packagist": "ComposerVersion", "Debian": "DebianVersion",
    "Hex": "SemverVersion", "Pub": "SemverVersion",
}


@lru_cache(maxsize=262144)
def parse(ecosystem: str, text: str) -> Any | None:
    """A comparable version object, or None when ``text`` is not a version in that ecosystem."""
    try:
        return _parser(ecosystem)(text)
    except Exception:
        return None


def plain(ecosystem: str, text: str) -> str:
    """The version as OSV writes it: Go drops the ``v`` prefix that Go modules carry."""
    return text[1:] if ecosystem == "Go" and text.startswith("v") else text


@lru_cache(maxsize=64)
def _parser(ecosystem: str) -> Any:
    if ecosystem == "PyPI":
        from packaging.version import Version

        return Version
    if ecosystem in ("Go", "npm"):
        from semver import Version as Semver

        return lambda text: Semver.parse(plain(ecosystem, text))
    import univers.versions

    cls = getattr(univers.versions, UNIVERS.get(ecosystem, "SemverVersion"))
    return cls


NATIVE_ORDER = frozenset({"Go", "npm"})


def order_key(ecosystem: str, version: Any) -> Any:
    """A natively comparable key with the same order as the parsed version.

    semver's ``Version`` compares in Python through several calls per comparison; its SemVer 2.0
    precedence as a tuple compares in C: (major, minor, patch, pre-release), where a release
    sorts after its pre-releases and numeric identifiers before alphanumeric ones. Other
    ecosystems keep their library objects.
    """
    if ecosystem not in NATIVE_ORDER:
        return version
    pre = version.prerelease
    tail: tuple[Any, ...] = (1,) if pre is None else (0, *(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in str(pre).split(".")))
    return (version.major, version.minor, version.patch, tail)


@lru_cache(maxsize=262144)
def sort_key(ecosystem: str, text: str) -> Any | None:
    """``order_key`` of the parsed version, memoised per text; None when not a version."""
    parsed = parse(ecosystem, text)
    return None if parsed is None else order_key(ecosystem, parsed)
