"""Package URLs to OSV (ecosystem, name, version) keys, with names normalised per ecosystem.

OSV and purl spell the same package differently: PyPI names are PEP 503-normalised in OSV
(``Django`` → ``django``), Go module paths are the purl namespace plus name, npm scopes and Maven
groups join with ``/`` and ``:``.
"""

from __future__ import annotations

import re
from functools import lru_cache

PURL_TO_OSV = {
    "pypi": "PyPI", "golang": "Go", "npm": "npm", "maven": "Maven", "cargo": "crates.io",
    "gem": "RubyGems", "nuget": "NuGet", "composer": "Packagist", "hex": "Hex", "pub": "Pub",
}
MAVEN_SEPARATOR = ":"


def normalise_name(ecosystem: str, name: str) -> str:
    """The name as the OSV index keys it: PEP 503 for PyPI, as written elsewhere."""
    if ecosystem == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


@lru_cache(maxsize=65536)
def package_key(purl: str) -> tuple[str, str, str] | None:
    """(OSV ecosystem, normalised name, version) for a purl; None when it cannot be matched
    (not a purl, no version, or an ecosystem OSV does not cover)."""
    from packageurl import PackageURL

    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return None
    ecosystem = PURL_TO_OSV.get(parsed.type)
    if ecosystem is None or not parsed.version:
        return None
    name = parsed.name
    if parsed.namespace:
        joiner = MAVEN_SEPARATOR if ecosystem == "Maven" else "/"
        name = f"{parsed.namespace}{joiner}{name}"
    return ecosystem, normalise_name(ecosystem, name), parsed.version
