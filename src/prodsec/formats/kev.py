"""CISA Known Exploited Vulnerabilities catalogue (JSON), checked as a whole before use.

The catalogue carries its own ``catalogVersion`` and ``count``: a file without them is not the
catalogue (wrong source), one whose ``count`` is not the number of entries is incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass

from prodsec.errors import FormatError
from prodsec.formats._feedfile import gunzip, is_cve


@dataclass(frozen=True)
class KevCatalogue:
    version: str
    entries: dict[str, str | None]  # CVE -> dateAdded


def looks_like(data: bytes) -> bool:
    head = gunzip(data, "kev")[:2000] if data[:2] == b"\x1f\x8b" else data[:2000]
    return b'"catalogVersion"' in head or b"Known Exploited Vulnerabilities" in head


def parse(data: bytes, source: str) -> KevCatalogue:
    from prodsec.formats._io import expect_object, load_json

    doc = expect_object(load_json(gunzip(data, source), source), source,
                        "a CISA KEV catalogue")
    version, entries = doc.get("catalogVersion"), doc.get("vulnerabilities")
    if not isinstance(version, str) or not isinstance(entries, list):
        raise FormatError(f"{source}: expected catalogVersion and vulnerabilities: not a CISA "
                          "KEV catalogue", source=source)
    count = doc.get("count")
    if isinstance(count, int) and count != len(entries):
        raise FormatError(f"{source}: /count says {count} but /vulnerabilities has "
                          f"{len(entries)} entries: incomplete", source=source)
    found: dict[str, str | None] = {}
    for i, entry in enumerate(entries):
        cve = entry.get("cveID") if isinstance(entry, dict) else None
        if not is_cve(cve):
            raise FormatError(f"{source}: /vulnerabilities/{i}/cveID: expected CVE-YYYY-N",
                              source=source)
        assert isinstance(cve, str) and isinstance(entry, dict)
        added = entry.get("dateAdded")
        found[cve] = str(added)[:32] if added else None
    return KevCatalogue(version, found)
