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


_PEP503 = re.compile(r"[-_.]+")


_LOWERCASE = frozenset({"npm", "Packagist", "Hex"})
_PUB = re.compile(r"[^a-z0-9]")


def normalise_name(ecosystem: str, name: str) -> str:
    """The name as the OSV index keys it, the same for a name read from an advisory and from a
    purl: PEP 503 for PyPI; lowercase where the purl spec lowercases (npm, Composer, Hex); Pub's
    rewrite of other characters to ``_``; as written elsewhere (Go, Maven, crates.io, NuGet…)."""
    if ecosystem == "PyPI":
        return _PEP503.sub("-", name).lower()
    if ecosystem in _LOWERCASE:
        return name.lower()
    if ecosystem == "Pub":
        return _PUB.sub("_", name.lower())
    return name


FAST_TYPES = frozenset({"golang", "pypi", "npm", "cargo", "gem", "nuget", "hex", "pub", "maven",
                        "composer"})
# Qualifiers and subpath are allowed but not read: they never change which OSV package it is.
_PLAIN = re.compile(r"pkg:([a-z]+)/([A-Za-z0-9._~/+-]+)@([A-Za-z0-9._+~-]+)(?:\?[^#]*)?(?:#.*)?")


def parse_key(purl: str) -> tuple[str, str, str] | None:
    """(OSV ecosystem, normalised name, version) for a purl; None when it cannot be matched
    (not a purl, no version, or an ecosystem OSV does not cover). Not memoised."""
    fast = _plain_key(purl)
    return fast if fast is not None else _library_key(purl)


@lru_cache(maxsize=65536)
def package_key(purl: str) -> tuple[str, str, str] | None:
    """``parse_key``, memoised by the purl's text."""
    return parse_key(purl)


def _plain_key(purl: str) -> tuple[str, str, str] | None:
    """The common case without the library: no percent-escapes, and a type whose names the purl
    spec does not rewrite beyond what ``normalise_name`` does (tests/formats/test_purl.py holds
    this to the library with hypothesis). Qualifiers and subpath are skipped, as the library
    path ignores them too.
    Parsing with packageurl was half the scan time of a 10 000-component SBOM."""
    match = _PLAIN.fullmatch(purl)
    if match is None or match.group(1) not in FAST_TYPES or "//" in match.group(2):
        return None
    kind, path, version = match.groups()
    path = path.strip("/")
    if kind == "pypi":  # PEP 503; the pattern admits ASCII only, so case and separators commute
        path = path.lower()
        if "_" in path or "." in path or "--" in path:
            path = _PEP503.sub("-", path)
        return "PyPI", path, version
    if kind == "maven":  # group/artifact → OSV's group:artifact
        group, slash, artifact = path.rpartition("/")
        if not slash or not group or "/" in group:
            return None
        path = f"{group}{MAVEN_SEPARATOR}{artifact}"
    ecosystem = PURL_TO_OSV[kind]
    return ecosystem, normalise_name(ecosystem, path), version


def _library_key(purl: str) -> tuple[str, str, str] | None:
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


# ---- identity comparison (CSAF 2.0 9.1.13, asset matching) ------------------------------------

#: types whose namespace the purl spec (or the registry) treats case-insensitively beyond what
#: packageurl-python lowercases itself: npm scopes are lower case on the registry.
_LOWER_NAMESPACE = frozenset({"npm"})


def canonical_purl(purl: str, *, qualifiers: bool = True) -> str | None:
    """The purl in its canonical form, so two spellings of one package compare equal: the type
    lower case, namespace and name by the type's case rules (packageurl-python's: npm, PyPI,
    GitHub… lower case, PyPI ``_`` → ``-``), qualifiers sorted by key with empty values dropped
    (purl spec), and without them when ``qualifiers`` is false (they never change which package
    it is). None for what is not a purl."""
    from packageurl import PackageURL

    try:
        parsed = PackageURL.from_string(purl.strip())
    except ValueError:
        return None
    namespace = parsed.namespace
    if namespace and parsed.type in _LOWER_NAMESPACE:
        namespace = namespace.lower()
    kept = ({k.lower(): v for k, v in sorted(parsed.qualifiers.items()) if v}
            if qualifiers and isinstance(parsed.qualifiers, dict) else None)
    return PackageURL(parsed.type, namespace, parsed.name, parsed.version, kept or None,
                      parsed.subpath if qualifiers else None).to_string()


CPE23_FIELDS = 11  # part, vendor, product, version, update, edition, language, sw_edition,
# target_sw, target_hw, other (NISTIR 7695, CPE 2.3 formatted string)
_CPE_SPLIT = re.compile(r"(?<!\\):")
_CPE_ESCAPE = re.compile(r"\\(.)")  # a 2.3 quoted character stands for itself


def canonical_cpe(cpe: str) -> str | None:
    """A CPE as a lower-case CPE 2.3 formatted string with all eleven fields: CPE names compare
    case-insensitively (the CPE 2.3 naming specification, NISTIR 7695), an omitted trailing field is ANY (``*``), and a CPE
    2.2 URI (``cpe:/a:vendor:product:version``, its empty fields ANY) is read into the same
    form, so ``cpe:/a:Vendor:Product:1.0`` and ``cpe:2.3:a:vendor:product:1.0:*:*:*:*:*:*:*``
    match. None for what is not a CPE."""
    from urllib.parse import unquote

    text = cpe.strip().lower()
    if text.startswith("cpe:2.3:"):
        fields = [_CPE_ESCAPE.sub(r"\1", f) for f in _CPE_SPLIT.split(text[len("cpe:2.3:"):])]
    elif text.startswith("cpe:/"):
        fields = [unquote(f) or "*" for f in text[len("cpe:/"):].split(":")]
    else:
        return None
    if fields[0] not in ("a", "o", "h", "*") or len(fields) > CPE23_FIELDS:
        return None
    fields += ["*"] * (CPE23_FIELDS - len(fields))
    return "cpe:2.3:" + ":".join(f.replace("\\", "\\\\").replace(":", "\\:") for f in fields)
