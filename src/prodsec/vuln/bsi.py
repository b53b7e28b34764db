"""BSI TR-03183-2 v2.1.0: every data field of an SBOM checked, per component, with its clause.

Why a report of its own next to ``quality`` (7 elements): the TR is the field list the German
market and most CRA checkers hold an SBOM to, and the CRA asks the manufacturer to identify and
document the components (Annex I Part II (1)) — a per-clause report is evidence an authority can
read. The fields, clauses, levels and mappings are data (``data/bsi-tr-03183-2.yaml``, each
marked ``verified`` against the TR's text or not); this module only judges what
``_bsi_extract`` found. Each field of each subject gets one status:

- ``present``: a value where the TR's mapping (section 8.2) puts it, in the field's form;
- ``inferred``: no value there, but one read from another place that says the same only by
  inference (the finding names that place in ``inferred_from``): a supplier's e-mail as the
  component creator, a SHA-512 in ``components[].hashes``, an SPDX 3 purpose on the package;
- ``missing``: nothing, there or anywhere the reader looks;
- ``wrong form``: a value that is not in the field's form (an email or URL that is neither, a
  path as a filename, a hash that is not SHA-512, a licence that is no SPDX identifier or
  expression...), where the TR maps it or where it was inferred from.

Verdict: the SBOM conforms when its format is one section 4 allows, every required field of
the SBOM and of each component is present (an inferred value does not fill a required field:
a consumer reading the TR's mapping would not find it there), and no field at any level is in
the wrong form. A missing or inferred additional or optional field is listed but does not
decide the verdict: the TR requires an additional field only if the information exists, which
no SBOM can show.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from prodsec.vuln._bsi_extract import NO_COMPLETENESS, Document, Facts, cyclonedx, spdx2, spdx3

PRESENT, INFERRED, MISSING, WRONG = "present", "inferred", "missing", "wrong form"
EVIDENCE = ("This report is evidence toward CRA Annex I Part II (1) (Regulation (EU) 2024/2847): "
            "it documents, per component, the data fields BSI TR-03183-2 v2.1.0 requires of an "
            "SBOM; it is not a certification.")
_EMAIL = re.compile(r"^(mailto:)?[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.I)
_URI = re.compile(r"^[a-z][a-z0-9+.-]*:\S+$", re.I)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_LICENCE_TOKEN = re.compile(r"^(LicenseRef-[A-Za-z0-9.-]+|DocumentRef-[A-Za-z0-9.-]+:LicenseRef-"
                            r"[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.-]*\+?)$")


@dataclass(frozen=True)
class Field:
    """One data field of the TR (a row of the YAML table)."""

    id: str
    scope: str
    clause: str
    level: str
    name: str
    form: str
    values: tuple[str, ...]
    verified: bool
    mapping: dict[str, str]


@functools.cache
def guideline() -> dict[str, Any]:
    """The TR's table (``data/bsi-tr-03183-2.yaml``), read once."""
    from importlib import resources

    import yaml

    text = resources.files("prodsec.vuln").joinpath("data/bsi-tr-03183-2.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@functools.cache
def fields() -> tuple[Field, ...]:
    """The data fields in the TR's order."""
    return tuple(Field(f["id"], f["scope"], str(f["clause"]), f["level"], f["name"], f["form"],
                       tuple(f.get("values") or ()), bool(f["verified"]),
                       {k: str(f[k]) for k in ("cyclonedx", "spdx3", "spdx2")})
                 for f in guideline()["fields"])


def read(doc: dict[str, Any]) -> Document:
    """The neutral facts of a decoded SBOM (CycloneDX JSON, SPDX 3 JSON-LD or SPDX 2 JSON)."""
    if "@graph" in doc or "@context" in doc:
        return spdx3(doc)
    if "spdxVersion" in doc:
        return spdx2(doc)
    return cyclonedx(doc)


def decode(data: bytes) -> dict[str, Any] | None:
    """The JSON object of an SBOM file; None for XML, tag-value or anything not a JSON object.

    The caller has parsed the file as an SBOM already, through the bounded loader
    (``prodsec.untrusted``: size, depth, duplicate keys), and refused what is none; so the
    standard parser decodes it here, without paying for those checks a second time (half the
    cost of the check on a 2 MB SBOM)."""
    import json

    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return None
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def summary(data: bytes) -> dict[str, Any] | None:
    """What the stored quality report keeps of the check: verdict, document fields and
    per-field totals (not the per-component list, which can be large); None if not JSON."""
    doc = decode(data)
    if doc is None:
        return None
    report = check(doc)
    return {k: report[k] for k in ("guideline", "version", "conforms", "summary", "evidence",
                                   "format", "document", "fields")}


def check(doc: dict[str, Any]) -> dict[str, Any]:
    """The TR-03183-2 v2.1.0 report of one decoded SBOM."""
    document = read(doc)
    table = fields()
    key = _mapping_key(document)
    sbom = [_finding(f, document.sbom, key) for f in table if f.scope == "sbom"]
    per_component = [f for f in table if f.scope == "component"]
    findings = [[_finding(f, c, key) for f in per_component] for c in document.components]
    components: list[dict[str, Any]] = [
        {"ref": c.ref, "name": c.name, "findings": found}
        for c, found in zip(document.components, findings, strict=True)]
    fmt = _format(document)
    breaking = [x for x in sbom + [y for found in findings for y in found] if _breaks(x)]
    conforms = bool(fmt["ok"]) and not breaking
    tr = guideline()
    verdict = "conforms to" if conforms else "does not conform to"
    return {
        "guideline": tr["instrument"], "version": tr["version"], "url": tr["url"],
        "conforms": conforms,
        "summary": f"{verdict} {tr['instrument']} v{tr['version']}"
                   + ("" if conforms else _reasons(fmt, breaking)),
        "evidence": EVIDENCE,
        "format": fmt,
        "document": sbom,
        "fields": _totals(per_component, components),
        "components": components,
    }


def _breaks(finding: dict[str, Any]) -> bool:
    status, level = finding["status"], finding["level"]
    return bool(status == WRONG or (status in (MISSING, INFERRED) and level == "required"))


def _reasons(fmt: dict[str, Any], breaking: list[dict[str, Any]]) -> str:
    parts = [] if fmt["ok"] else [f"format (clause 4): {fmt['message']}"]
    if breaking:
        parts.append(f"{len(breaking)} findings on required fields (missing or only inferred) "
                     "or in the wrong form")
    return ": " + "; ".join(parts)


def _format(document: Document) -> dict[str, Any]:
    minimum = guideline()["format"]["minimum"].get(document.format)
    version = document.spec_version.removeprefix("SPDX-")
    ok = minimum is not None and _at_least(version, str(minimum))
    message = (f"{document.format} {version} is allowed" if ok else
               f"{document.format} {version or '(no version)'}: the TR allows CycloneDX 1.6 or "
               "higher, or SPDX 3.0.1 or higher")
    return {"clause": "4", "format": document.format, "spec_version": version, "ok": ok,
            "message": message}


def _at_least(version: str, minimum: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", text)[:3])
    return bool(parts(version)) and parts(version) >= parts(minimum)


def _mapping_key(document: Document) -> str:
    """Which column of the table tells where a missing field belongs in this document."""
    if document.format == "CycloneDX":
        return "cyclonedx"
    return "spdx3" if document.spec_version.startswith("3") else "spdx2"


def _finding(f: Field, facts: Facts, key: str) -> dict[str, Any]:
    values = facts.values.get(f.id, [])
    inferred = facts.inferred.get(f.id, [])
    extra: dict[str, Any] = {}
    if values:
        problem = _form(f, values)
        status, message = (WRONG, problem) if problem else (PRESENT, ", ".join(values)[:200])
    elif inferred:
        status, message = _inferred(f, inferred, key)
        extra["inferred_from"] = list(dict.fromkeys(source for source, _ in inferred))
    elif f.id in facts.misplaced:
        status, message = WRONG, facts.misplaced[f.id]
    else:
        status, message = MISSING, _missing(f, key)
    return {"field": f.id, "name": f.name, "clause": f.clause, "level": f.level,
            "status": status, "message": message, **extra}


def _inferred(f: Field, inferred: list[tuple[str, str]], key: str) -> tuple[str, str]:
    """Judge values read from elsewhere: their form still counts (a wrong one is wrong form);
    a good one is 'inferred', with where the TR wants the field."""
    source = inferred[0][0]
    problem = _form(f, [value for _, value in inferred])
    if problem:
        return WRONG, f"{problem} (inferred from {source})"
    values = ", ".join(dict.fromkeys(value for _, value in inferred))[:200]
    return INFERRED, f"inferred from {source}: {values}; the TR's place: {_where(f, key)}"


def _where(f: Field, key: str) -> str:
    label = {"cyclonedx": "CycloneDX", "spdx3": "SPDX 3", "spdx2": "SPDX 2"}[key]
    return f"{label}: {f.mapping[key]}"


def _missing(f: Field, key: str) -> str:
    why = {"additional": " (required if the information exists)", "optional": " (optional)"}
    return f"not given{why.get(f.level, '')}; {_where(f, key)}"


def _form(f: Field, values: list[str]) -> str | None:
    """Why the values do not have the field's form, or None."""
    if f.form == "one-of":
        if len(values) > 1:
            return f"given {len(values)} times; exactly one value expected"
        if values[0] not in f.values:
            return f"{values[0]!r} is not one of {', '.join(repr(v) for v in f.values)}"
        return None
    if f.form == "declared" and NO_COMPLETENESS in values:
        return ("the dependencies are listed but their completeness is not indicated (TR 5.2.2; "
                "CycloneDX: compositions[].aggregate naming the component; SPDX 3: the "
                "relationship's completeness)")
    if f.form == "filename" and len(values) > 1:
        return f"given {len(values)} times; at most one filename expected"
    checks = {"email-or-url": _email_or_url, "date-time": _date_time, "filename": _filename,
              "uri": _uri, "sha512": _sha512, "spdx-licence": _licence}
    check_one = checks.get(f.form)
    if check_one is None:
        return None
    problems = [p for p in map(check_one, values) if p]
    if f.form in ("email-or-url", "sha512", "uri") and len(problems) < len(values):
        return None  # one good contact / SHA-512 / URI is enough
    return problems[0] if problems else None


def _email_or_url(value: str) -> str | None:
    if _EMAIL.match(value) or _URL.match(value):
        return None
    return f"{value[:80]!r} is neither an email address nor a URL"


def _date_time(value: str) -> str | None:
    return None if _DATETIME.match(value) else f"{value[:40]!r} is not an RFC 3339 date-time"


def _filename(value: str) -> str | None:
    return (f"{value[:80]!r} is a path; the TR asks for the filename alone"
            if "/" in value or "\\" in value else None)


def _uri(value: str) -> str | None:
    return None if _URI.match(value) else f"{value[:80]!r} is not a URI (no scheme)"


def _sha512(value: str) -> str | None:
    algorithm, _, digest = value.partition(":")
    if re.sub(r"[^a-z0-9]", "", algorithm.lower()) != "sha512":
        return f"{algorithm} given; the TR asks for SHA-512"
    if not re.fullmatch(r"[0-9a-fA-F]{128}", digest):
        return "the SHA-512 value is not 128 hexadecimal digits"
    return None


def _licence(value: str) -> str | None:
    """An SPDX identifier or expression (TR section 6.1): identifiers (or LicenseRef-...)
    joined by AND / OR / WITH, with brackets; a bare licence name is not one."""
    if value.startswith("name:"):
        return (f"licence named {value[5:][:60]!r} without an SPDX identifier; the TR (6.1) asks "
                "for an SPDX identifier, a LicenseRef-scancode-... or LicenseRef-<entity>-...")
    tokens = [t for t in re.split(r"[()\s]+", value) if t and t not in ("AND", "OR", "WITH")]
    bad = [t for t in tokens if not _LICENCE_TOKEN.match(t)]
    return f"{value[:80]!r} is not an SPDX licence expression" if bad or not tokens else None


def _totals(per_component: list[Field],
            components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per field: how many components have it present, inferred, missing, in the wrong form."""
    rows = []
    for i, f in enumerate(per_component):
        statuses = [c["findings"][i]["status"] for c in components]
        rows.append({"field": f.id, "name": f.name, "clause": f.clause, "level": f.level,
                     "verified": f.verified, "present": statuses.count(PRESENT),
                     "inferred": statuses.count(INFERRED),
                     "missing": statuses.count(MISSING), "wrong_form": statuses.count(WRONG),
                     "total": len(statuses)})
    return rows
