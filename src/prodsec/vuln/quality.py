"""SBOM quality against the minimum elements (NTIA 2021, BSI TR-03183-2), and release diffs.

The quality report is evidence for CRA Annex I Part II (1) ("identify and document components"):
it says, per element, how many components carry it, so a gap is visible before an authority
asks. Pure functions over ``Sbom`` plus the two document-level facts no component carries (who
wrote the SBOM and when), read from the raw bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prodsec.core.sbom import Component, Sbom

NTIA = "NTIA"
BSI = "BSI TR-03183-2"


@dataclass(frozen=True)
class Element:
    """One component-level minimum element and the standards that require it."""

    name: str
    standards: tuple[str, ...]
    present: Callable[[Component], bool]


ELEMENTS = (
    Element("name", (NTIA, BSI), lambda c: bool(c.name)),
    Element("version", (NTIA, BSI), lambda c: bool(c.version)),
    Element("supplier", (NTIA, BSI), lambda c: bool(c.supplier)),
    Element("unique identifier (purl/CPE)", (NTIA, BSI), lambda c: bool(c.purl or c.cpe)),
    Element("hash", (BSI,), lambda c: bool(c.hashes)),
    Element("SHA-512 hash", (BSI,), lambda c: any(_is_sha512(h.algorithm) for h in c.hashes)),
    Element("licence", (BSI,), lambda c: bool(c.licenses)),
)


def _is_sha512(algorithm: str) -> bool:
    return re.sub(r"[^a-z0-9]", "", algorithm.lower()) == "sha512"


def document_facts(data: bytes) -> dict[str, Any]:
    """Author and timestamp of the SBOM itself, from CycloneDX or SPDX (JSON, XML, tag-value,
    SPDX 3 JSON-LD)."""
    text = data[:2_000_000].decode("utf-8", "replace")
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        try:
            doc = json.loads(text.lstrip("\ufeff"))
        except ValueError:
            doc = {}
        return _json_facts(doc if isinstance(doc, dict) else {})
    if stripped.startswith("<"):
        timestamp = re.search(r"<timestamp>([^<]+)</timestamp>", text)
        author = re.search(r"<(authors|tools|manufacture|manufacturer|supplier)\b", text)
        return {"author": bool(author), "timestamp": timestamp.group(1) if timestamp else None}
    created = re.search(r"^Created:\s*(\S+)", text, re.M)
    return {"author": bool(re.search(r"^Creator:", text, re.M)),
            "timestamp": created.group(1) if created else None}


def _json_facts(doc: dict[str, Any]) -> dict[str, Any]:
    if isinstance(doc.get("@graph"), list):
        return _jsonld_facts(doc["@graph"])
    if "creationInfo" in doc:
        info = doc.get("creationInfo") or {}
        return {"author": bool(info.get("creators")), "timestamp": info.get("created")}
    meta = doc.get("metadata") or {}
    author = any(meta.get(k) for k in ("authors", "tools", "manufacture", "manufacturer",
                                       "supplier"))
    return {"author": author, "timestamp": meta.get("timestamp")}


def _jsonld_facts(graph: list[Any]) -> dict[str, Any]:
    """SPDX 3 JSON-LD keeps author and time in CreationInfo nodes (in the graph, or inline in
    an element): an author when any names ``createdBy``; the time, the latest ``created``."""
    infos = [i for item in graph if isinstance(item, dict)
             for i in (item, item.get("creationInfo")) if isinstance(i, dict)
             and i.get("type") == "CreationInfo"]
    created = sorted(str(i["created"]) for i in infos if isinstance(i.get("created"), str))
    return {"author": any(i.get("createdBy") for i in infos),
            "timestamp": created[-1] if created else None}


def quality(sbom: Sbom, facts: dict[str, Any]) -> dict[str, Any]:
    """Per element: how many components carry it; plus the document-level elements."""
    components = sbom.components
    total = len(components)
    elements: list[dict[str, Any]] = []
    for element in ELEMENTS:
        missing = [c.ref or c.name for c in components if not element.present(c)]
        elements.append({"element": element.name, "standards": list(element.standards),
                         "present": total - len(missing), "total": total,
                         "percent": _percent(total - len(missing), total),
                         "missing_examples": missing[:5]})
    with_edges: set[str] = {d.source for d in sbom.dependencies} | {d.target for d in sbom.dependencies}
    document: list[dict[str, Any]] = [
        {"element": "author of SBOM data", "standards": [NTIA, BSI], "ok": bool(facts.get("author"))},
        {"element": "timestamp", "standards": [NTIA, BSI], "ok": bool(facts.get("timestamp"))},
        {"element": "dependency relationships", "standards": [NTIA, BSI],
         "ok": bool(sbom.dependencies),
         "components_in_graph": len([c for c in components if c.ref in with_edges])},
    ]
    checks: list[float] = [e["percent"] for e in elements if NTIA in e["standards"]]
    checks += [100.0 if d["ok"] else 0.0 for d in document]
    return {"format": sbom.format, "spec_version": sbom.spec_version, "components": total,
            "timestamp": facts.get("timestamp"), "document": document, "elements": elements,
            "ntia_score": round(sum(checks) / len(checks), 1),
            "ntia_minimum_met": all(c == 100.0 for c in checks)}


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 100.0


def diff(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Components added, removed and changed in version between two releases, keyed by the
    package identity (purl without version, else the name) so an upgrade is a change."""
    before, after = _by_identity(old), _by_identity(new)
    changed = [{"component": k, "from": before[k], "to": after[k]}
               for k in sorted(before.keys() & after.keys()) if before[k] != after[k]]
    return {"added": [{"component": k, "version": after[k]} for k in sorted(after.keys() - before.keys())],
            "removed": [{"component": k, "version": before[k]}
                        for k in sorted(before.keys() - after.keys())],
            "changed": changed}


def _by_identity(components: list[dict[str, Any]]) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for c in components:
        purl = c.get("purl")
        key = purl.split("@")[0].split("?")[0] if purl else str(c.get("name"))
        result[key] = c.get("version")
    return result
