"""Reading and validating an export document before anything is written."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from prodsec import untrusted
from prodsec.db.guards import text_problem
from prodsec.errors import FormatError
from prodsec.workspace import audit
from prodsec.workspace.compliance import is_sha256
from prodsec.workspace.context import ROLES
from prodsec.workspace.keys import SecretKey
from prodsec.workspace.transfer.archive import ZIP_READ_ERRORS, ArchiveLimits, SafeZip
from prodsec.workspace.transfer.common import (
    EXPORT_FORMAT,
    EXPORT_MEMBER,
    EXPORT_MEMBERS,
    EXPORT_VERSION,
    SOFT_REFERENCES,
    ArchiveTooLarge,
    ExportFormatError,
    TransferError,
    blob_columns,
    blob_refs,
    counter_pk,
)
from prodsec.workspace.transfer.export import export_tables
from prodsec.workspace.transfer.signing import Provenance


@dataclass
class ExportFile:
    """A parsed export and where its blobs come from (inline base64 or zip members)."""

    path: Path
    document: Any
    zf: SafeZip | None

    def blob(self, index: int) -> IO[bytes]:
        entry = self.document["blobs"][index]
        if self.zf is not None:
            return self.zf.open(f"evidence/{entry['sha256']}")
        try:
            return io.BytesIO(base64.b64decode(entry["content_base64"], validate=True))
        except ValueError:
            raise ExportFormatError(self.path, [(f"$.blobs[{index}].content_base64",
                                                 "not base64")]) from None


@contextlib.contextmanager
def read_export(path: Path, limits: ArchiveLimits | None = None) -> Iterator[ExportFile]:
    """Open a JSON or zip export; anything unreadable is an ExportFormatError naming the file."""
    limits = limits or ArchiveLimits.from_env()
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
        size = path.stat().st_size
    except OSError as exc:
        raise TransferError(f"{path}: cannot read: {exc.strerror}") from None
    zf = None
    try:
        if head == b"PK\x03\x04":
            zf = SafeZip(zipfile.ZipFile(path), path, limits, EXPORT_MEMBERS)
            raw = zf.read(EXPORT_MEMBER)
        else:
            if size > limits.max_member_bytes:
                raise ArchiveTooLarge(f"{path}: {size} bytes, more than the limit of "
                                      f"{limits.max_member_bytes} for one document")
            raw = path.read_bytes()
        # bounded: deep nesting, lone surrogates, huge numbers refused here, not in SQL
        document = untrusted.load_json(raw, str(path), max_bytes=len(raw))
    except KeyError:
        raise ExportFormatError(path, [("$", f"the zip has no {EXPORT_MEMBER}")]) from None
    except FormatError as exc:
        if zf is not None:
            zf.zf.close()
        where = f" at line {exc.line} column {exc.column}" if exc.line else ""
        raise ExportFormatError(path, [("$", f"not JSON: {exc.problem}{where}")]) from None
    except ZIP_READ_ERRORS as exc:  # with ValueError: JSON's errors, refined here
        if isinstance(exc, json.JSONDecodeError):
            raise ExportFormatError(path, [("$", f"not JSON: {exc.msg} at line {exc.lineno} "
                                                 f"column {exc.colno}")]) from None
        if isinstance(exc, UnicodeDecodeError):
            raise ExportFormatError(path, [("$", "not JSON (not UTF-8 text)")]) from None
        raise ExportFormatError(path, [("$", f"not a readable zip ({exc})")]) from None
    except BaseException:
        if zf is not None:
            zf.zf.close()
        raise
    try:
        yield ExportFile(path, document, zf)
    finally:
        if zf is not None:
            zf.zf.close()


# ---- validation -----------------------------------------------------------------------------


def validate_export(export: ExportFile, tables: dict[str, sa.Table]) -> list[tuple[str, str]]:
    """Every problem in the document, each with its JSON path, before anything is written."""
    doc, problems = export.document, []
    if not isinstance(doc, dict):
        return [("$", "expected a JSON object")]
    if doc.get("format") != EXPORT_FORMAT:
        return [("$.format", f"expected {EXPORT_FORMAT!r}, got {doc.get('format')!r}")]
    if doc.get("format_version") != EXPORT_VERSION:
        return [("$.format_version", f"{doc.get('format_version')!r} is not supported "
                                     f"(this prodsec reads {EXPORT_VERSION})")]
    for key, kind in (("organisation", dict), ("members", list), ("tables", dict),
                      ("blobs", list)):
        if not isinstance(doc.get(key), kind):
            problems.append((f"$.{key}", "missing" if key not in doc
                             else f"expected a{'n object' if kind is dict else ' list'}"))
    if problems:
        return problems
    problems += _check_row("$.organisation", tables["organisations"], doc["organisation"])
    problems += _check_members(doc["members"])
    problems += _check_tables(doc, tables)
    problems += _check_blobs(export, doc, tables)
    return problems


def _check_members(members: list[Any]) -> list[tuple[str, str]]:
    problems = []
    seen_ids, seen_emails = set(), set()
    for i, member in enumerate(members):
        path = f"$.members[{i}]"
        if not isinstance(member, dict):
            problems.append((path, "expected an object"))
            continue
        for key in ("id", "email"):
            if not isinstance(member.get(key), str):
                problems.append((f"{path}.{key}", "missing" if key not in member
                                 else "expected a string"))
            elif text_problem(member[key]):
                problems.append((f"{path}.{key}", str(text_problem(member[key]))))
        if isinstance(member.get("email"), str):
            email = member["email"].strip().lower()
            if "@" not in email or len(email) > 320:
                problems.append((f"{path}.email", "expected an e-mail address"))
            elif email in seen_emails:
                problems.append((f"{path}.email", "appears twice in $.members"))
            seen_emails.add(email)
        if member.get("id") in seen_ids:
            problems.append((f"{path}.id", "appears twice in $.members"))
        seen_ids.add(member.get("id") if isinstance(member.get("id"), str) else None)
        if member.get("role") not in ROLES:
            problems.append((f"{path}.role", f"expected one of {', '.join(ROLES)}"))
        if not isinstance(member.get("name", ""), str) or text_problem(member.get("name") or ""):
            problems.append((f"{path}.name", "expected text"))
    return problems


def _check_tables(doc: dict[str, Any], tables: dict[str, sa.Table]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    allowed = {t.name for t in export_tables(tables.values())}
    org_id = _id(doc["organisation"].get("id"))
    # Every table a row may point at, with the ids this export creates in it (possibly none):
    # a reference to anything else is refused, whatever the table.
    known_ids: dict[str, set[Any]] = {name: set() for name in allowed}
    for name, rows in doc["tables"].items():
        if name in allowed and isinstance(rows, list):
            known_ids[name] = {_id(r.get("id")) for r in rows if isinstance(r, dict)}
    known_ids["organisations"] = {org_id}
    known_ids["users"] = {_id(m.get("id")) for m in doc["members"] if isinstance(m, dict)}
    for name, rows in doc["tables"].items():
        path = f"$.tables.{name}"
        if name not in allowed:
            problems.append((path, f"unknown table (expected some of {', '.join(sorted(allowed))})"))
        elif not isinstance(rows, list):
            problems.append((path, "expected a list"))
        else:
            seen: set[Any] = set()
            for i, row in enumerate(rows):
                problems += _check_row(f"{path}[{i}]", tables[name], row, known_ids)
                row_id = _id(row.get("id")) if isinstance(row, dict) else None
                if row_id is not None and counter_pk(tables[name]) is None:
                    if row_id in seen:
                        problems.append((f"{path}[{i}].id", "appears twice"))
                    seen.add(row_id)
    return problems


def _id(value: Any) -> str | int | None:
    """An id as a set member: a list or object in its place is no id (``_check_row`` reports
    its type; here it must not crash the set with ``unhashable type``)."""
    return value if isinstance(value, str | int) else None


def _check_row(path: str, table: sa.Table, row: Any,
               known_ids: dict[str, set[Any]] | None = None) -> list[tuple[str, str]]:
    if not isinstance(row, dict):
        return [(path, "expected an object")]
    problems = [(f"{path}.{key}", f"unknown field (not a column of {table.name})")
                for key in row if key not in table.c]
    counter = counter_pk(table)
    blob_names = set(blob_columns(table))
    for column in table.columns:
        if column.name == counter:
            continue
        if column.name not in row:
            if not column.nullable and column.server_default is None:
                problems.append((f"{path}.{column.name}", "missing"))
            continue
        message = _check_value(column, row[column.name])
        if message is None and column.name in blob_names and row[column.name] is not None \
                and not is_sha256(row[column.name]):
            message = "expected a SHA-256 (64 lowercase hex digits)"
        if message is None and known_ids is not None:
            message = _check_reference(column, row[column.name], known_ids)
        if message:
            problems.append((f"{path}.{column.name}", message))
    return problems


def _check_value(column: sa.Column[Any], value: Any) -> str | None:
    """None when ``value`` fits the column's type (and length), else what was expected."""
    if value is None:
        return None if column.nullable else "must not be null"
    kind = column.type
    for type_, ok, expected in VALUE_CHECKS:
        if isinstance(kind, type_) and not ok(value):
            return f"expected {expected}, got {json.dumps(value)[:60]}"
    length = getattr(kind, "length", None)
    if isinstance(value, str) and length and len(value) > length:
        return f"longer than {length} characters"
    if isinstance(value, str) and isinstance(kind, sa.String):
        return text_problem(value)
    return None


def _is_datetime(value: Any) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_date(value: Any) -> bool:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


VALUE_CHECKS: list[tuple[type[Any], Callable[[Any], bool], str]] = [
    (sa.Boolean, lambda v: isinstance(v, bool), "true or false"),
    (sa.Integer, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    (sa.DateTime, _is_datetime, "an ISO 8601 date-time"),
    (sa.Date, _is_date, "an ISO 8601 date (YYYY-MM-DD)"),
    (sa.String, lambda v: isinstance(v, str), "a string"),
]


def _check_reference(column: sa.Column[Any], value: Any,
                     known_ids: dict[str, set[Any]]) -> str | None:
    if column.name == "org_id" and value not in known_ids["organisations"]:
        return "does not match $.organisation.id"
    soft = SOFT_REFERENCES.get((column.table.name, column.name))
    for target in [soft] if soft else [fk.column.table.name for fk in column.foreign_keys]:
        if value is None:
            continue
        if target not in known_ids:
            return f"refers to {target}, which an export cannot reference"
        if value not in known_ids[target]:
            return f"refers to a {target} row that is not in the export"
    return None


def _check_blobs(export: ExportFile, doc: dict[str, Any],
                 tables: dict[str, sa.Table]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    listed = set()
    names = export.zf.names() if export.zf is not None else set()
    for i, blob in enumerate(doc["blobs"]):
        path = f"$.blobs[{i}]"
        sha = blob.get("sha256") if isinstance(blob, dict) else None
        if not is_sha256(sha):
            problems.append((f"{path}.sha256", "expected a SHA-256 (64 lowercase hex digits)"))
            continue
        listed.add(sha)
        if export.zf is not None and f"evidence/{sha}" not in names:
            problems.append((path, f"the zip has no member evidence/{sha}"))
        elif export.zf is None and not isinstance(blob.get("content_base64"), str):
            problems.append((f"{path}.content_base64", "missing"))
    for name, rows in doc["tables"].items():
        if name in tables and isinstance(rows, list):
            for i, row in enumerate(rows):
                refs = blob_refs(tables[name], row, True) if isinstance(row, dict) else ()
                for sha in refs:
                    if sha not in listed:
                        problems.append((f"$.tables.{name}[{i}]",
                                         f"evidence file {sha} is not in $.blobs"))
    return problems


def check_chain(events: list[dict[str, Any]], key: SecretKey,
                 provenance: Provenance) -> list[tuple[str, str]]:
    """The history must verify as exported, or importing it would plant a broken chain.

    Keyed events are checked with ``key`` (the exporting server's); an unverified document's
    keyed events cannot be (its history is then kept only inside the org.import event).
    """
    check, problems = audit.ChainCheck(key if provenance.verified else None), []
    for i in sorted(range(len(events)), key=lambda i: events[i]["seq"]):
        event, before = events[i], len(check.problems)
        check.add(event["seq"], event["prev_hash"], event["hash"], event.get("key_id"),
                  audit.hashed_fields(event))
        problems += [(f"$.tables.audit_events[{i}]", p) for p in check.problems[before:]]
    if provenance.verified and check.key_problem():
        problems.append(("$.tables.audit_events", str(check.key_problem())))
    return problems
