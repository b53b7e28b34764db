"""FIRST EPSS daily scores (CSV, plain or gzip), as FIRST publishes them.

The file's first line is a comment with the model and the date the scores are for, then a
header and one row per CVE::

    #model_version:v2025.03.14,score_date:2025-09-03T12:55:00Z
    cve,epss,percentile
    CVE-1999-0001,0.0142,0.7991

A file without that first line or that header is not an EPSS file (refused as from the wrong
source); a row that is not ``CVE,probability,percentile`` with both numbers in [0, 1] is refused
by line, so a truncated file (a row cut in two) fails instead of importing part of the day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prodsec.errors import FormatError
from prodsec.formats._feedfile import gunzip, is_cve

HEADER = "cve,epss,percentile"


@dataclass(frozen=True)
class EpssFile:
    """One day's scores: ``scores`` maps CVE -> (epss, percentile)."""

    model_version: str
    score_date: str
    scores: dict[str, tuple[float, float]]


def looks_like(data: bytes) -> bool:
    """The first line is FIRST's model/score-date comment (gzip or not)."""
    head = data[:200] if data[:2] != b"\x1f\x8b" else _head(data)
    return head.startswith(b"#model_version:") and b"score_date:" in head.split(b"\n")[0]


def _head(data: bytes) -> bytes:
    import zlib

    try:
        return zlib.decompressobj(wbits=31).decompress(data, 200)
    except zlib.error:
        return b""


def parse(data: bytes, source: str) -> EpssFile:
    """Every score of the file, or a FormatError naming the line and what was expected."""
    text = gunzip(data, source).decode("utf-8", errors="strict") if data else ""
    lines = text.splitlines()
    meta = _meta(lines[0] if lines else "", source)
    if len(lines) < 2 or lines[1].strip().lower() != HEADER:
        raise FormatError(f"{source}:2: expected the header {HEADER!r}: not a FIRST EPSS file",
                          source=source, line=2)
    if not text.endswith("\n"):
        raise FormatError(f"{source}:{len(lines)}: the file does not end with a line break: "
                          "truncated", source=source, line=len(lines))
    scores: dict[str, tuple[float, float]] = {}
    for number, line in enumerate(lines[2:], start=3):
        cve, epss, percentile = _row(line, number, source)
        if cve in scores:
            raise FormatError(f"{source}:{number}: {cve} is listed twice", source=source,
                              line=number)
        scores[cve] = (epss, percentile)
    if not scores:
        raise FormatError(f"{source}: no scores after the header", source=source)
    return EpssFile(meta["model_version"], meta["score_date"], scores)


def _meta(line: str, source: str) -> dict[str, str]:
    fields = dict(part.partition(":")[::2] for part in line.lstrip("#").split(","))
    if not line.startswith("#") or not fields.get("model_version") or not fields.get("score_date"):
        raise FormatError(f"{source}:1: expected '#model_version:…,score_date:…' (FIRST's first "
                          "line): not a FIRST EPSS file", source=source, line=1)
    return {k.strip(): v.strip() for k, v in fields.items()}


def _row(line: str, number: int, source: str) -> tuple[str, float, float]:
    parts = line.strip().split(",")
    if len(parts) != 3 or not is_cve(parts[0]):
        raise FormatError(f"{source}:{number}: expected CVE-YYYY-NNNN,epss,percentile, got "
                          f"{line[:80]!r}", source=source, line=number)
    try:
        epss, percentile = float(parts[1]), float(parts[2])
    except ValueError:
        epss = percentile = math.nan
    if not (0.0 <= epss <= 1.0 and 0.0 <= percentile <= 1.0):
        raise FormatError(f"{source}:{number}: epss and percentile must be numbers from 0 to 1, "
                          f"got {parts[1][:20]!r}, {parts[2][:20]!r}", source=source, line=number)
    return parts[0], epss, percentile
