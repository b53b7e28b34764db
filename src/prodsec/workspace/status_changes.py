"""Many requirement-status changes at once, from a CSV or YAML file, all or nothing.

A file is a table of changes with the columns ``product``, ``requirement``, ``status`` and
optionally ``justification`` (YAML: a list of mappings with those keys). Every row is checked
first — its shape, then against the workspace — and any bad row refuses the whole file with
one line per problem naming the row, the column and what was expected, so a user fixes the
file once instead of finding the errors one run at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodsec.core import limits
from prodsec.errors import InputError

COLUMNS = ("product", "requirement", "status", "justification")
REQUIRED = ("product", "requirement", "status")
#: A status file larger than this is not a list of changes someone maintains by hand.
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
#: How many problems the report lists before it stops counting.
MAX_REPORTED = 50


@dataclass(frozen=True)
class StatusChange:
    """One row: ``row`` is the spreadsheet row (the header is row 1) or the YAML item (from 1)."""

    row: int
    product: str
    requirement: str
    status: str
    justification: str | None


class BadRows(InputError):
    """The file has rows that cannot be applied; nothing was changed."""

    slug = "bad-rows"

    def __init__(self, source: str, problems: list[str]) -> None:
        shown = problems[:MAX_REPORTED]
        more = f"\n  … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(f"{source}: {len(problems)} bad row(s), nothing changed:\n  "
                         + "\n  ".join(shown) + more)
        self.problems = problems


@dataclass(frozen=True)
class ChangeFile:
    """The well-formed rows of a file, and what is wrong with the others (``(row, text)``)."""

    source: str
    changes: list[StatusChange]
    problems: list[tuple[int, str]]


def read_changes(path: Path) -> ChangeFile:
    """Parse and shape-check a CSV or YAML file of changes (nothing is looked up yet).

    A file that is not a table of changes at all is refused at once; bad rows are kept in
    ``problems`` so ``apply_changes`` reports them together with the rows the workspace
    refuses."""
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(path, text)
    elif suffix in (".yaml", ".yml", ".json"):
        records = _yaml_records(path, text)
    else:
        raise InputError(f"--file {path}: expected a .csv, .yaml or .json file of changes")
    if not records:
        raise InputError(f"--file {path}: no changes in the file")
    if len(records) > MAX_ROWS:
        raise InputError(f"--file {path}: {len(records)} rows; at most {MAX_ROWS} per file")
    problems: list[tuple[int, str]] = []
    changes = [c for c in (_change(row, record, problems) for row, record in records) if c]
    return ChangeFile(str(path), changes, problems)


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"--file {path}: larger than {MAX_BYTES} bytes")
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"--file {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"--file {path}: is a directory; expected a CSV or YAML file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"--file {path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"--file {path}: cannot read: {exc.strerror}") from None


def _csv_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown:
        raise InputError(f"--file {path}: row 1 (the header): expected the columns "
                         f"{', '.join(COLUMNS)} (justification optional)"
                         + (f"; missing {', '.join(missing)}" if missing else "")
                         + (f"; unknown {', '.join(unknown)}" if unknown else ""))
    reader.fieldnames = header
    try:
        return [(i + 2, record) for i, record in enumerate(reader)]
    except csv.Error as exc:
        raise InputError(f"--file {path}: row {reader.line_num}: {exc}") from None


def _yaml_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"--file {path}: invalid YAML{where}") from None
    if not isinstance(data, list):
        raise InputError(f"--file {path}: expected a list of changes (product, requirement, "
                         f"status, justification), got {type(data).__name__}")
    return list(enumerate(data, start=1))


def _change(row: int, record: Any, problems: list[tuple[int, str]]) -> StatusChange | None:
    """The row as a change, or None after adding what is wrong with it to ``problems``."""
    if not isinstance(record, dict):
        problems.append((row, f"row {row}: expected a mapping with {', '.join(COLUMNS)}"))
        return None
    before = len(problems)
    for key in record:
        if key not in COLUMNS and key is not None:
            problems.append((row, f"row {row}, column {key}: unknown column; expected "
                            f"{', '.join(COLUMNS)}"))
    if None in record:  # csv: more cells than header columns
        problems.append((row, f"row {row}: more cells than the header has columns"))
    values: dict[str, str | None] = {}
    for column in COLUMNS:
        value = record.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            if column in REQUIRED:
                problems.append((row, f"row {row}, column {column}: expected a value, got nothing"))
            values[column] = None
            continue
        if not isinstance(value, str):
            problems.append((row, f"row {row}, column {column}: expected text, got "
                            f"{type(value).__name__}"))
            continue
        limit = limits.TEXT if column == "justification" else limits.NAME
        if len(value) > limit:
            problems.append((row, f"row {row}, column {column}: is {len(value)} characters long; "
                            f"the limit is {limit}"))
            continue
        values[column] = value.strip()
    if len(problems) > before:
        return None
    return StatusChange(row, values["product"] or "", values["requirement"] or "",
                        values["status"] or "", values["justification"])


def apply_changes(session: Any, actor: Any, changes: ChangeFile) -> int:
    """Apply every change in the caller's transaction; any bad row refuses them all.

    ``find_status`` and ``set_status`` refuse a change before they touch anything, so a bad row
    leaves the session as it was and the next rows are still checked; the ``BadRows`` raised at
    the end makes the caller roll the whole transaction back.
    """
    from prodsec.workspace import compliance

    problems = list(changes.problems)
    for change in changes.changes:
        try:
            row = compliance.find_status(session, actor, change.product, change.requirement)
            compliance.set_status(session, actor, row, change.status, change.justification, None)
        except InputError as exc:
            problems.append((change.row, f"row {change.row}, column {_column_of(exc)}: "
                                         f"{_reason(exc)}"))
    if problems:
        raise BadRows(changes.source, [text for _, text in sorted(problems)])
    return len(changes.changes)


def _column_of(exc: InputError) -> str:
    """Which column of the row the service's error is about."""
    field = getattr(exc, "field", None)
    if field in ("status", "justification"):
        return str(field)
    message = str(exc)
    return "requirement" if message.startswith("requirement") else "product"


def _reason(exc: InputError) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail) if detail else str(exc)
