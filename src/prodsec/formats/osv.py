"""OSV advisories (https://ossf.github.io/osv-schema/) from JSON or YAML files, a directory or a
zip, into ``Advisory`` values.

A batch load never stops at one bad file: each is reported as a ``Failure`` and skipped.
Withdrawn advisories are skipped too (they are counted, not failures).
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodsec import untrusted
from prodsec.core.advisory import Advisory, Affected, Event, Range
from prodsec.core.sbom import Failure
from prodsec.errors import AdvisoryFormatError, InputError
from prodsec.formats._io import expect_object, load_json, load_yaml, read_bytes
from prodsec.formats.purl import normalise_name

SUFFIXES = (".json", ".yaml", ".yml")
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_ZIP_MEMBERS = 500_000  # the whole PyPI OSV export holds ~16 000
MAX_ZIP_BYTES = 4 * 1024 * 1024 * 1024  # declared, uncompressed, advisory members only
TOO_LARGE = b"\x00too-large"
UNREADABLE = b"\x00unreadable:"
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


@dataclass(frozen=True)
class LoadResult:
    """Advisories read, files that failed (with why), and how many were withdrawn."""

    advisories: tuple[Advisory, ...]
    failures: tuple[Failure, ...] = ()
    withdrawn: int = 0
    files: int = 0


def load(path: Path, progress: Callable[[int], None] | None = None) -> LoadResult:
    """Every advisory under ``path`` (a file, a directory searched recursively, or a zip)."""
    if not path.exists():
        raise AdvisoryFormatError(f"{path}: no such file or directory; expected OSV files, a directory or a zip")
    advisories: list[Advisory] = []
    failures: list[Failure] = []
    withdrawn = files = 0
    for source, data in _sources(path):
        files += 1
        if progress is not None:
            progress(1)
        try:
            advisory = parse(data, source)
        except InputError as exc:
            failures.append(Failure(source, str(exc)))
            continue
        if advisory.withdrawn:
            withdrawn += 1
        else:
            advisories.append(advisory)
    return LoadResult(tuple(advisories), tuple(failures), withdrawn, files)


def count_files(path: Path) -> int:
    """How many advisory files ``load`` will read (for a progress bar's total)."""
    if path.is_dir():
        return sum(1 for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    if zipfile.is_zipfile(path):
        with _open_zip(path) as archive:
            return sum(1 for n in archive.namelist() if n.endswith(SUFFIXES))
    return 1


def check_zip(path: Path, name: str) -> int:
    """How many advisory files an uploaded zip holds, after the same bounds ``load`` applies
    (members, declared size); errors name the upload as ``name``, not where it was staged."""
    with _open_zip(path, name) as archive:
        return sum(1 for n in archive.namelist() if n.endswith(SUFFIXES))


def _sources(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.suffix in SUFFIXES and file.is_file():
                yield str(file), read_bytes(file, MAX_FILE_BYTES, AdvisoryFormatError)
    elif zipfile.is_zipfile(path):
        yield from _zip_sources(path)
    else:
        yield str(path), read_bytes(path, MAX_FILE_BYTES, AdvisoryFormatError)


@contextlib.contextmanager
def _open_zip(path: Path, name: str | None = None) -> Iterator[zipfile.ZipFile]:
    """The archive, or an AdvisoryFormatError (naming it ``name``, default its path) when its
    directory is unreadable or too big."""
    where = name or str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise AdvisoryFormatError(f"{where}: not a readable zip ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise AdvisoryFormatError(f"{where}: {len(members)} members; expected at most "
                                      f"{MAX_ZIP_MEMBERS}")
        declared = sum(m.file_size for m in members if m.filename.endswith(SUFFIXES))
        if declared > MAX_ZIP_BYTES:
            raise AdvisoryFormatError(f"{where}: {declared} bytes uncompressed; expected at most "
                                      f"{MAX_ZIP_BYTES}")
        yield archive


def _zip_sources(path: Path) -> Iterator[tuple[str, bytes]]:
    """Members of a zip; one that cannot be read (over the per-file limit, corrupt, encrypted,
    an unknown compression) is handed on as a marker that ``parse`` reports as that file's
    failure."""
    with _open_zip(path) as archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(SUFFIXES):
                continue
            source = f"{path}!{info.filename}"
            if info.file_size > MAX_FILE_BYTES:
                yield source, TOO_LARGE
                continue
            try:
                yield source, archive.read(info)
            except untrusted.zip_errors() as exc:
                yield source, UNREADABLE + str(exc).encode("utf-8", "replace")[:200]


def parse(data: bytes, source: str) -> Advisory:
    """One OSV advisory from JSON or YAML bytes; anchors and aliases are refused in YAML."""
    if data == TOO_LARGE:
        raise AdvisoryFormatError(f"{source}: over the {MAX_FILE_BYTES}-byte limit for one advisory")
    if data.startswith(UNREADABLE):
        reason = data[len(UNREADABLE):].decode("utf-8", "replace")
        raise AdvisoryFormatError(f"{source}: cannot be read from the zip ({reason})")
    if source.endswith((".yaml", ".yml")):
        raw = load_yaml(data, source, error=AdvisoryFormatError, aliases=False,
                        what="an OSV advisory")
    else:
        raw = load_json(data, source, error=AdvisoryFormatError)
    doc = expect_object(raw, source, "an OSV advisory", error=AdvisoryFormatError)
    ident = doc.get("id")
    if not isinstance(ident, str) or not ident:
        raise AdvisoryFormatError(f"{source}: /id: missing; expected the advisory id (e.g. GO-2022-0001)")
    return Advisory(
        id=ident,
        aliases=tuple(a for a in _list(doc, "aliases", source) if isinstance(a, str)),
        summary=doc.get("summary") if isinstance(doc.get("summary"), str) else None,
        severity=_severity(doc),
        affected=tuple(_affected(a, f"{source}: /affected/{i}") for i, a in enumerate(_list(doc, "affected", source))),
        withdrawn=str(doc["withdrawn"]) if doc.get("withdrawn") else None,
        modified=str(doc.get("modified")) if doc.get("modified") else None,
    )


def _list(doc: dict[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise AdvisoryFormatError(f"{where}: /{key}: expected a list, found {type(value).__name__}")
    return value


def _severity(doc: dict[str, Any]) -> str | None:
    """The first CVSS vector given, else the GHSA-style ``database_specific.severity`` word."""
    scores = doc.get("severity")
    for entry in scores if isinstance(scores, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("score"), str):
            return str(entry["score"])
    specific = doc.get("database_specific")
    if isinstance(specific, dict) and isinstance(specific.get("severity"), str):
        return str(specific["severity"])
    return None


def _affected(item: Any, where: str) -> Affected:
    if not isinstance(item, dict) or not isinstance(item.get("package"), dict):
        raise AdvisoryFormatError(f"{where}/package: expected an object with ecosystem and name")
    package = item["package"]
    ecosystem, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not isinstance(name, str):
        raise AdvisoryFormatError(f"{where}/package: expected string ecosystem and name")
    ecosystem = ecosystem.split(":")[0]  # "Debian:11" → Debian: the release does not change semantics
    ranges = tuple(_range(r, f"{where}/ranges/{i}") for i, r in enumerate(_list(item, "ranges", where)))
    versions = tuple(str(v) for v in _list(item, "versions", where))
    return Affected(ecosystem, normalise_name(ecosystem, name), ranges, versions)


def _range(item: Any, where: str) -> Range:
    if not isinstance(item, dict) or not isinstance(item.get("events"), list):
        raise AdvisoryFormatError(f"{where}: expected an object with type and events")
    events: list[Event] = []
    for j, event in enumerate(item["events"]):
        if not isinstance(event, dict) or len(event) != 1:
            raise AdvisoryFormatError(f"{where}/events/{j}: expected one of {', '.join(EVENT_KINDS)}")
        kind, version = next(iter(event.items()))
        if kind not in EVENT_KINDS:
            raise AdvisoryFormatError(f"{where}/events/{j}: unknown event {kind!r}; expected one of {', '.join(EVENT_KINDS)}")
        events.append(Event(kind, str(version)))
    return Range(str(item.get("type", "")), tuple(events))
