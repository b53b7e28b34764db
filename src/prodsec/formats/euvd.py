"""ENISA EU Vulnerability Database (EUVD) exports, JSON.

Three shapes are read, all made of the same records: a search or exploited-list answer of the
EUVD API (``{"items": [...], "total": N}``), a list of records, or one record (as the EUVD mirror
keeps them, one file per record). A record's ``id`` is ``EUVD-YYYY-N``; its ``aliases`` are one
id per line (CVE, GHSA …); ``exploitedSince`` — present on the records of EUVD's exploited
list — is EUVD's exploited flag, written like ``"Apr 9, 2025, 12:00:00 AM"`` (UTC).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from prodsec.errors import FormatError
from prodsec.formats._feedfile import gunzip, is_cve

EUVD_ID = re.compile(r"EUVD-\d{4}-\d+")
_DATE_FORMAT = "%b %d, %Y, %I:%M:%S %p"


@dataclass(frozen=True)
class EuvdRecord:
    """One EUVD record, reduced to what prodsec uses."""

    euvd_id: str
    cve: str | None
    aliases: tuple[str, ...]
    exploited_since: str | None  # ISO 8601, UTC
    base_score: float | None
    content_hash: str


def looks_like(data: bytes) -> bool:
    """A JSON document whose first record id is an EUVD id."""
    head = gunzip(data, "euvd")[:4000] if data[:2] == b"\x1f\x8b" else data[:4000]
    return head.lstrip()[:1] in (b"{", b"[") and b'"EUVD-' in head


def parse(data: bytes, source: str) -> list[EuvdRecord]:
    """Every record of the export; any record that is not one refuses the file."""
    from prodsec.formats._io import load_json

    doc = load_json(gunzip(data, source), source)
    items = _items(doc, source)
    records = [_record(item, f"{source}: {pointer}") for pointer, item in items]
    seen: set[str] = set()
    for record in records:
        if record.euvd_id in seen:
            raise FormatError(f"{source}: {record.euvd_id} is listed twice", source=source)
        seen.add(record.euvd_id)
    return records


def _items(doc: Any, source: str) -> list[tuple[str, Any]]:
    if isinstance(doc, dict) and "items" in doc:
        items = doc["items"]
        if not isinstance(items, list):
            raise FormatError(f"{source}: /items: expected a list of EUVD records", source=source)
        total = doc.get("total")
        if isinstance(total, int) and total < len(items):
            raise FormatError(f"{source}: /total says {total} but /items has {len(items)}",
                              source=source)
        return [(f"/items/{i}", item) for i, item in enumerate(items)]
    if isinstance(doc, list):
        return [(f"/{i}", item) for i, item in enumerate(doc)]
    if isinstance(doc, dict):
        return [("", doc)]
    raise FormatError(f"{source}: expected an EUVD record, a list of them or an API answer "
                      "with items", source=source)


def _record(item: Any, where: str) -> EuvdRecord:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
            or not EUVD_ID.fullmatch(item["id"]):
        got = item.get("id") if isinstance(item, dict) else type(item).__name__
        raise FormatError(f"{where}/id: expected an EUVD id (EUVD-YYYY-N), got {str(got)[:60]!r}"
                          ": not an ENISA EUVD export")
    aliases = item.get("aliases") or ""
    if not isinstance(aliases, str):
        raise FormatError(f"{where}/aliases: expected the ids one per line")
    names = tuple(a.strip() for a in aliases.splitlines() if a.strip())
    cves = [a for a in names if is_cve(a)]
    score = item.get("baseScore")
    digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()
    return EuvdRecord(item["id"], cves[0] if cves else None, names,
                      _when(item.get("exploitedSince"), f"{where}/exploitedSince"),
                      float(score) if isinstance(score, int | float) and score > 0 else None,
                      digest)


def _when(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        for parse in (lambda v: dt.datetime.strptime(v, _DATE_FORMAT),
                      dt.datetime.fromisoformat):
            try:
                moment = parse(value.strip())
            except ValueError:
                continue
            return moment.replace(tzinfo=moment.tzinfo or dt.UTC).astimezone(dt.UTC).isoformat()
    raise FormatError(f"{where}: expected a date like 'Apr 9, 2025, 12:00:00 AM', got "
                      f"{str(value)[:40]!r}")
