"""Safe reading of untrusted files: size limit, JSON/YAML decoding, nesting depth limit.

Real SBOMs reach a few MB (keycloak's is 2.2 MB) and advisory files a few kB; the limits stop a
huge or hostile file before it costs memory or a ``RecursionError`` deep in a library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prodsec.errors import InputError

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100


class FormatError(InputError):
    """A file is not valid in its format: the message names file, location and expectation."""


class UnsupportedVersion(FormatError):
    """A file declares a spec version prodsec does not read."""


def read_bytes(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The file's bytes, refusing directories, missing files and files over ``limit``."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise FormatError(f"{path}: not a file")
        if size > limit:
            raise FormatError(f"{path}: {size} bytes is over the {limit}-byte limit for one file")
        return path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text (a BOM is tolerated), or a FormatError naming the byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{source}: byte {exc.start}: not UTF-8 text") from exc


def load_json(data: bytes, source: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON, reporting line and column of a syntax error, and refuse deep nesting."""
    text = decode_text(data, source)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{source}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise FormatError(f"{source}: nested too deeply (limit {max_depth} levels)") from exc
    check_depth(value, source, max_depth)
    return value


def load_yaml(data: bytes, source: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse YAML safely (no tags, C loader when present) and refuse deep nesting."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = decode_text(data, source)
    try:
        value = yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        raise FormatError(f"{source}: {where}invalid YAML: {exc.problem}") from exc
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise FormatError(f"{source}: invalid YAML: {exc}") from exc
    check_depth(value, source, max_depth)
    return value


def check_depth(value: Any, source: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse documents nested deeper than ``max_depth`` (iteratively: no recursion to overflow)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise FormatError(f"{source}: nested deeper than {max_depth} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def pointer(parts: Any) -> str:
    """A JSON pointer (RFC 6901) from path parts, '/' for the root."""
    escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return "/" + "/".join(escaped) if escaped else "/"


def expect_object(value: Any, source: str, what: str) -> dict[str, Any]:
    """The value as a JSON object, or a FormatError saying one was expected."""
    if not isinstance(value, dict):
        raise FormatError(f"{source}: /: expected a JSON object ({what}), found {type(value).__name__}")
    return value
