"""Safe reading of untrusted files: size limit, JSON/YAML decoding (through ``prodsec.untrusted``).

Real SBOMs reach a few MB (keycloak's is 2.2 MB) and advisory files a few kB; the limits stop a
huge or hostile file before it costs memory or a ``RecursionError`` deep in a library.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prodsec import untrusted
from prodsec.core.sbom import Sbom
from prodsec.errors import FormatError, SbomFormatError, UnsupportedVersion

MAX_BYTES = untrusted.MAX_BYTES
MAX_DEPTH = untrusted.MAX_DEPTH

__all__ = ["FormatError", "UnsupportedVersion", "check_depth", "decode_text", "expect_object",
           "load_json", "load_yaml", "pointer", "read_bytes"]


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_COMPONENT_TEXT = ("ref", "name", "version", "purl", "cpe", "supplier", "kind")


def refuse_unstorable(sbom: Sbom, source: str) -> Sbom:
    """``sbom``, unless a component's text holds a NUL or a lone surrogate: no database stores
    the first the same way (SQLite keeps it, PostgreSQL refuses it, an export holding it is
    refused by every import), the second is no text at all. Refused at parse time, naming the
    component and the field, so both backends and ``sbom scan`` answer alike."""
    for i, component in enumerate(sbom.components):
        texts = [(f, getattr(component, f)) for f in _COMPONENT_TEXT]
        texts += [("licenses", v) for v in component.licenses]
        texts += [("hashes", h.value) for h in component.hashes]
        for field, value in texts:
            if isinstance(value, str) and _UNSTORABLE.search(value):
                what = "a NUL character (U+0000)" if "\x00" in value else "a lone surrogate"
                raise SbomFormatError(f"{source}: component {i + 1} (bom-ref "
                                      f"{component.ref[:80]!r}): {field}: "
                                      f"contains {what}, which cannot be stored",
                                      source=source, problem=f"{field}: contains {what}")
    for i, edge in enumerate(sbom.dependencies):
        if _UNSTORABLE.search(edge.source) or _UNSTORABLE.search(edge.target):
            raise SbomFormatError(f"{source}: dependency {i + 1}: contains a NUL character or a "
                                  "lone surrogate, which cannot be stored", source=source)
    return sbom


def read_bytes(path: Path, limit: int = MAX_BYTES, error: type[FormatError] = FormatError) -> bytes:
    """The file's bytes, refusing directories, missing files and files over ``limit``."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise error(f"{path}: not a file")
        if size > limit:
            raise error(f"{path}: {size} bytes is over the {limit}-byte limit for one file")
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc


def decode_text(data: bytes, source: str, error: type[FormatError] = FormatError) -> str:
    """UTF-8 text (a BOM is tolerated), or a FormatError naming the byte offset."""
    return untrusted.decode_text(data, source, error)


def load_json(data: bytes, source: str, max_depth: int = MAX_DEPTH,
              error: type[FormatError] = FormatError) -> Any:
    """Parse JSON (``untrusted.load_json``: line and column of a syntax error, bounded)."""
    return untrusted.load_json(data, source, max_depth=max_depth, error=error)


def load_yaml(data: bytes, source: str, max_depth: int = MAX_DEPTH,
              error: type[FormatError] = FormatError, aliases: bool = True,
              what: str = "this file") -> Any:
    """Parse YAML (``untrusted.load_yaml``: safe loader, alias budget, bounded)."""
    return untrusted.load_yaml(data, source, max_depth=max_depth, error=error, aliases=aliases,
                               what=what)


def check_depth(value: Any, source: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse documents nested deeper than ``max_depth`` (and the values untrusted refuses)."""
    untrusted.check_values(value, source, max_depth)


def pointer(parts: Any) -> str:
    """A JSON pointer (RFC 6901) from path parts, '/' for the root."""
    return untrusted.pointer(parts)


def expect_object(value: Any, source: str, what: str,
                  error: type[FormatError] = FormatError) -> dict[str, Any]:
    """The value as a JSON object, or a FormatError saying one was expected."""
    if not isinstance(value, dict):
        raise error(f"{source}: /: expected a JSON object ({what}), found {type(value).__name__}")
    return value
