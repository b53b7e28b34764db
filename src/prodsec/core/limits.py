"""How long each kind of text field may be: one limit per field, defined once.

Every face (CLI, API, web forms, organisation import) accepts a text only if it fits here, and
the workspace columns are at least this wide, so whatever the workspace accepts it can also
export and import again. (SQLite does not enforce ``VARCHAR(n)``; before these limits a
200 000-character product name went in through the CLI and then made the organisation's own
export unimportable.) A test checks each limit against the column it lands in.
"""

from __future__ import annotations

import re

#: Names: products, organisations, controls, tokens, people, owners.
NAME = 200
#: E-mail addresses (RFC 5321: 64 + 1 + 255).
EMAIL = 320
#: Version labels of releases and evidence.
VERSION = 100
#: Titles and file names of evidence.
TITLE = 300
#: Titles of Article 14 cases and CSAF advisories.
REPORT_TITLE = 500
#: Vulnerability ids (CVE-…, GHSA-…, OSV ids).
VULNERABILITY_ID = 128
#: Requirement ids (``eu-cra:vulnerability-handling``).
REQUIREMENT_ID = 128
#: URLs.
URL = 2000
#: Free text: justifications, descriptions, rationales, details.
TEXT = 10_000

#: Mapping hops ``mappings`` follows. Each hop multiplies the answer (depth 9 printed 116 KB for
#: one requirement) while adding almost nothing past 5; the service refuses more, so the CLI, the
#: API and the library agree (before, the API allowed 5, Typer 4 and the CLI's fast path any).
MAPPING_DEPTH = 5

#: Days ahead ``gaps --expiring-days`` looks for expiring evidence: ten years, more than any
#: certificate or test report lives. The service refuses more, for every face: a date past
#: 9999-12-31 cannot be computed (3 000 000 days ended the CLI in an OverflowError traceback
#: while only the API refused it).
EXPIRING_DAYS = 3650

#: Rows in one page of a listing (products, controls, statuses, evidence). The API's query
#: said ``le=500`` while the services took any ``limit``, so a library or CLI caller could ask
#: for every row at once; the services refuse more now, and the API's bound is this number.
PAGE_SIZE = 500

#: Components (and, separately, dependency edges) in one SBOM. Every component becomes a row
#: (and a purl key, a CSAF product id, finding candidates): 120 000 components held SQLite's
#: writer lock for 81 s in the penetration test. Those are now built before the write
#: transaction (``workspace.sbom_import``), but inserting the rows under the lock still grows
#: with the count (15 000: about 1 s on SQLite, 2.5 s on PostgreSQL on the loaded test
#: machine). 50 000 is a default, not a measurement of real SBOMs (the penetration test's
#: suggestion); ``PRODSEC_MAX_SBOM_COMPONENTS`` raises (or lowers) it.
SBOM_COMPONENTS = 50_000
SBOM_COMPONENTS_ENV = "PRODSEC_MAX_SBOM_COMPONENTS"

#: Bidirectional controls (LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI): in a name or a title
#: they reorder what a reader sees ("e\u202egnp.exe" shows as "eexe.png"), never what it is.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def problem(value: str, limit: int, *, required: bool = False) -> str | None:
    """What is wrong with ``value`` under ``limit`` (None when it fits)."""
    if required and not value.strip():
        return "must not be empty"
    if len(value) > limit:
        return f"is {len(value)} characters long; the limit is {limit}"
    if limit < TEXT:  # names, titles, labels, ids, URLs: one-line fields a reader must trust
        found = BIDI_CONTROLS.search(value)
        if found is not None:
            return (f"contains the bidirectional control U+{ord(found.group()):04X} at "
                    f"character {found.start() + 1}, which makes the text read differently "
                    "from what it is")
    return None

