"""The one way prodsec parses YAML and JSON it did not write: profiles, knowledge files, OSV
advisories, SBOMs, VEX and CSAF documents.

Every document is bounded before it can cost memory or time:

- size: ``max_bytes`` is checked before parsing;
- aliases: a 357-byte "billion laughs" profile (nine anchors, each aliasing the previous nine
  times) expands to 10⁹ nodes for whatever walks it next, so aliases are refused where a person
  writes the file by hand (profiles, OSV); where they are allowed (the shipped knowledge files,
  SPDX YAML) an alias may add at most ``alias_budget`` nodes in all;
- nesting: deeper than ``max_depth`` is refused while reading the event stream, before the
  (recursive) constructor or any later ``json.dumps`` could overflow;
- values: a lone surrogate (``"\\ud800"``) cannot be stored or printed as UTF-8, and an integer
  past 64 bits is no count or id anyone means (and past 4 300 digits ``str()`` refuses it): both
  are refused with the path of the value;
- duplicate keys: a JSON object that names a key twice (``{"name": "x", "name": "y"}``) means
  whatever the reader keeps — Python the last value, other tools the first — so a document can
  show one thing to a reviewer's tool and another to prodsec. Refused with the key and the
  path of the object.

Every failure is a ``FormatError`` (or the caller's subclass of it) naming the source, the line
and column when known, and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from prodsec.errors import FormatError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100
ALIAS_BUDGET = 100_000
MAX_INT_BITS = 64


def decode_text(data: bytes | str, source: str, error: type[FormatError] = FormatError) -> str:
    """UTF-8 text (a BOM is tolerated), or an error naming the byte offset."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(error, source, f"byte {exc.start}: not UTF-8 text") from None


def check_size(data: bytes | str, source: str, max_bytes: int,
               error: type[FormatError] = FormatError) -> None:
    size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    if size > max_bytes:
        raise _fail(error, source, f"{size} bytes is over the {max_bytes}-byte limit for one file")


def load_json(data: bytes | str, source: str, *, max_bytes: int = MAX_BYTES,
              max_depth: int = MAX_DEPTH, error: type[FormatError] = FormatError) -> Any:
    """Parse JSON, naming line and column of a syntax error; refuse what ``check_values`` does."""
    check_size(data, source, max_bytes, error)
    text = decode_text(data, source, error)
    duplicates = _Duplicates()
    try:
        value = json.loads(text, object_pairs_hook=duplicates.hook)
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON: {exc.msg}"
        raise error(f"{source}: line {exc.lineno} column {exc.colno}: {problem}", source=source,
                    line=exc.lineno, column=exc.colno, problem=problem) from None
    except RecursionError:
        raise _fail(error, source, f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # e.g. an integer of more than 4 300 digits
        raise _fail(error, source, f"invalid JSON: {_short(exc)}") from None
    check_values(value, source, max_depth, error, duplicates.found)
    return value


class _Duplicates:
    """``object_pairs_hook`` that notes, per object built, the first key it saw twice; the
    walk in ``check_values`` then reports it with the object's path (the hook cannot know
    where it is)."""

    def __init__(self) -> None:
        self.found: dict[int, str] = {}

    def hook(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen: set[str] = set()
            for key, _value in pairs:
                if key in seen:
                    self.found[id(result)] = key
                    break
                seen.add(key)
        return result


def load_yaml(data: bytes | str, source: str, *, aliases: bool = False,
              max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
              alias_budget: int = ALIAS_BUDGET, what: str = "this file",
              error: type[FormatError] = FormatError) -> Any:
    """Parse one YAML document with PyYAML's safe loader (C when present), bounded as above.

    ``aliases=False`` refuses any anchor or alias; ``what`` names the kind of file in that
    message ("a product profile").
    """
    import yaml

    check_size(data, source, max_bytes, error)
    text = decode_text(data, source, error)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_events(yaml.parse(text, Loader=loader), source, aliases, max_depth, alias_budget,
                      what, error)
        value = yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise _at(error, source, mark, f"invalid YAML: {problem}") from None
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:
        # ValueError: a decimal integer of more than 4 300 digits; UnicodeEncodeError (a
        # ValueError) when the text holds a lone surrogate the C reader cannot encode
        raise _fail(error, source, f"invalid YAML: {_short(exc)}") from None
    check_values(value, source, max_depth, error)
    return value


def _check_events(events: Iterable[Any], source: str, aliases: bool, max_depth: int,
                  alias_budget: int, what: str, error: type[FormatError]) -> None:
    """Walk the event stream (flat: no recursion) for anchors, aliases and nesting depth.

    With aliases allowed, count what each alias expands to: the size of every anchored node is
    known when its end event arrives, so a chain of aliases is priced in full before anything is
    built from it.
    """
    import yaml

    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # [anchor, nodes so far] per open collection
    expanded = 0
    for event in events:
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None and not aliases:
            raise _at(error, source, event.start_mark,
                      f"an anchor (&{event.anchor}): anchors and aliases are not allowed in "
                      f"{what}; write the value out")
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1])
            if len(stack) > max_depth:
                raise _at(error, source, event.start_mark,
                          f"nested deeper than {max_depth} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
            _add(stack, sizes, anchor, size)
        elif isinstance(event, yaml.ScalarEvent):
            _add(stack, sizes, event.anchor, 1)
        elif isinstance(event, yaml.AliasEvent):
            if not aliases:
                raise _at(error, source, event.start_mark,
                          f"an alias (*{event.anchor}): anchors and aliases are not allowed in "
                          f"{what}; write the value out")
            size = sizes.get(event.anchor or "", 1)
            expanded += size
            if expanded > alias_budget:
                raise _at(error, source, event.start_mark,
                          f"aliases expand to more than {alias_budget} nodes")
            _add(stack, sizes, None, size)


def _add(stack: list[list[Any]], sizes: dict[str, int], anchor: str | None, size: int) -> None:
    if anchor is not None:
        sizes[anchor] = size
    if stack:
        stack[-1][1] += size


def check_values(value: Any, source: str, max_depth: int = MAX_DEPTH,
                 error: type[FormatError] = FormatError,
                 duplicates: dict[int, str] | None = None) -> None:
    """Refuse deep nesting, lone surrogates and integers past 64 bits (iteratively: a deep
    document cannot overflow the stack here), naming the JSON pointer of the value; and the
    objects ``duplicates`` names (by ``id``) as holding a key twice."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if depth > max_depth:
            raise _fail(error, source, f"{pointer(path)}: nested deeper than {max_depth} levels")
        if isinstance(item, dict) and duplicates and id(item) in duplicates:
            key = duplicates[id(item)]
            raise _fail(error, source, f"{pointer(path)}: the key {_printable(key)!r} appears "
                        "more than once (which value is meant is ambiguous); keep one")
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str):
                    _check_text(key, source, (*path, key), error)
                else:  # YAML allows numbers (of any size) as keys
                    stack.append((key, depth + 1, path))
                stack.append((child, depth + 1, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, (*path, i)) for i, child in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, source, path, error)
        elif isinstance(item, int) and not isinstance(item, bool) \
                and item.bit_length() > MAX_INT_BITS:
            raise _fail(error, source, f"{pointer(path)}: a number of {item.bit_length()} bits; "
                        f"expected one of at most {MAX_INT_BITS}")


def _check_text(text: str, source: str, path: tuple[Any, ...], error: type[FormatError]) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _fail(error, source, f"{pointer(path)}: a lone surrogate "
                    f"(U+{ord(text[exc.start]):04X}) is not a character; expected UTF-8 text"
                    ) from None


def pointer(parts: Iterable[Any]) -> str:
    """A JSON pointer (RFC 6901) from path parts, '/' for the root."""
    escaped = [_printable(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return "/" + "/".join(escaped) if escaped else "/"


def _printable(part: Any) -> str:
    text = str(part)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:200]


def zip_errors() -> tuple[type[BaseException], ...]:
    """What reading a member of an untrusted zip may raise: a bad CRC or header, a damaged
    deflate/bzip2/lzma stream, an encrypted member, an unknown compression method."""
    import bz2  # noqa: F401 - zipfile raises OSError from it
    import lzma
    import zipfile
    import zlib

    return (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError,
            NotImplementedError, ValueError, zlib.error, lzma.LZMAError)


def _fail(error: type[FormatError], source: str, detail: str) -> FormatError:
    return error(f"{source}: {detail}", source=source, problem=detail)


def _at(error: type[FormatError], source: str, mark: Any, problem: str) -> FormatError:
    if mark is None:
        return _fail(error, source, problem)
    line, column = mark.line + 1, mark.column + 1
    return error(f"{source}: line {line} column {column}: {problem}", source=source, line=line,
                 column=column, problem=problem)


def _short(exc: Exception) -> str:
    return str(exc).encode("utf-8", "backslashreplace").decode("utf-8")[:300]
