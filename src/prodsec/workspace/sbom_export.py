"""A release's SBOM out, as CycloneDX 1.6 or 1.7 JSON: its parts merged, with the nesting kept.

The BOM's subject is the manufacturer's product (``metadata.component``, with the CRA facts of
``cra_metadata``); each part (firmware, application, cloud service, hardware BOM) is a top-level
component of its kind, and the de-duplicated components are nested under the first part that
lists them, with a ``prodsec:origin`` property per part that lists them. ``dependencies`` say the
product is made of its parts, each part of every component it lists, and repeat the SBOMs' own
edges. The document is checked against the official schema before it is handed out.
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from prodsec.core.assembly import PART_KINDS, Assembly, Merged
from prodsec.core.sbom import Component, Licence
from prodsec.db.models import utcnow
from prodsec.workspace import cra_metadata
from prodsec.workspace.context import Actor, NotFound, ValidationFailed

SPEC_VERSIONS = ("1.6", "1.7")
COMPONENT_TYPES = {"application", "framework", "library", "container", "platform",
                   "operating-system", "device", "device-driver", "firmware", "file",
                   "machine-learning-model", "data", "cryptographic-asset"}
#: CycloneDX ``hash-alg`` names by their letters and digits only (SPDX writes SHA256, sha256…).
HASH_ALGORITHMS = {re.sub(r"[^a-z0-9]", "", a.lower()): a for a in (
    "MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512", "SHA3-256", "SHA3-384", "SHA3-512",
    "BLAKE2b-256", "BLAKE2b-384", "BLAKE2b-512", "BLAKE3")}
HEX_DIGEST = re.compile(r"[a-fA-F0-9]{32}|[a-fA-F0-9]{40}|[a-fA-F0-9]{64}|[a-fA-F0-9]{96}|"
                        r"[a-fA-F0-9]{128}")
#: An SPDX licence expression's characters and shape: operands joined by AND, OR or WITH.
SPDX_EXPRESSION = re.compile(r"[(\s]*[A-Za-z0-9.+:-]+[)\s]*(?:\s(?:AND|OR|WITH|and|or|with)\s"
                             r"[(\s]*[A-Za-z0-9.+:-]+[)\s]*)*")


def export(session: Session, actor: Actor, product_ref: str, release_label: str,
           spec_version: str = "1.6") -> tuple[dict[str, Any], list[str]]:
    """The release's merged SBOM and the export's warnings (CRA facts prodsec does not hold,
    conflicting versions across parts); refused when the document fails its schema."""
    from prodsec.workspace import vex, vulnerabilities
    from prodsec.workspace.products import get_product

    if spec_version not in SPEC_VERSIONS:
        raise ValidationFailed("spec", f"{spec_version!r}: expected one of "
                               f"{', '.join(SPEC_VERSIONS)}")
    product = get_product(session, actor, product_ref)
    release = vulnerabilities.get_release(session, actor, product.id, release_label)
    record = vulnerabilities.release_sbom(session, actor, release.id)
    if record is None:
        raise NotFound(f"release {release_label!r} has no SBOM; add one with prodsec sbom import")
    assembly = vulnerabilities.release_assembly(session, actor, record)
    maker = vex.organisation(session, actor)
    meta = cra_metadata.gather(session, actor, product, release, maker,
                               vex.release_purl(maker, product.name, release.version_label))
    doc = cra_metadata.apply_cyclonedx(build(assembly, spec_version, release.version_label),
                                       meta)
    problems = problems_of(doc)
    if problems:
        raise ValidationFailed("sbom", "the CycloneDX export fails validation: "
                               + "; ".join(problems[:5]))
    warnings = list(meta.warnings) + [c.message() for c in assembly.conflicts]
    return doc, warnings


def problems_of(doc: dict[str, Any]) -> list[str]:
    """The export checked by the same validator as imported CycloneDX (official schemas)."""
    import json

    from prodsec.formats import cyclonedx

    report = cyclonedx.validate(json.dumps(doc).encode(), "export")
    return [f"{i.location}: {i.message}" for i in report.issues]


def build(assembly: Assembly, spec_version: str, version: str) -> dict[str, Any]:
    """The CycloneDX document of an assembly, without the CRA facts (pure). Each part is a
    component of the release ``version``: prodsec does not keep a part's own version, and
    TR-03183-2 wants a version on every component."""
    from prodsec import __version__

    nested: dict[str, list[dict[str, Any]]] = {p.name: [] for p in assembly.parts}
    listed: dict[str, list[str]] = {p.name: [] for p in assembly.parts}
    for item in assembly.components:
        nested[item.origins[0].part].append(_component(item, spec_version))
        for origin in item.origins:
            listed[origin.part].append(item.ref)
    parts = []
    for part in assembly.parts:
        entry: dict[str, Any] = {
            "type": PART_KINDS.get(part.kind, "application"), "bom-ref": _part_ref(part.name),
            "name": part.name, "version": version,
            "description": f"{part.sbom.name or part.name}: {part.sbom.format} "
                           f"{part.sbom.spec_version} SBOM ({part.kind})",
            "properties": [{"name": "prodsec:sbom-part:kind", "value": part.kind}]}
        if nested[part.name]:
            entry["components"] = nested[part.name]
        parts.append(entry)
    metadata = {"timestamp": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "tools": {"components": [{"type": "application", "name": "prodsec",
                                          "version": __version__}]},
                "component": {"type": "application", "bom-ref": "product", "name": "product"}}
    return {"bomFormat": "CycloneDX", "specVersion": spec_version,
            "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1, "metadata": metadata,
            "components": parts, "dependencies": _dependencies(assembly, listed)}


def _part_ref(name: str) -> str:
    return f"part:{name}"


def _dependencies(assembly: Assembly, listed: dict[str, list[str]]) -> list[dict[str, Any]]:
    graph: dict[str, list[str]] = {"product": [_part_ref(p.name) for p in assembly.parts]}
    for part in assembly.parts:
        graph[_part_ref(part.name)] = sorted(set(listed[part.name]))
    for edge in assembly.dependencies:
        graph.setdefault(edge.source, []).append(edge.target)
    return [{"ref": ref, "dependsOn": sorted(set(targets))} if targets else {"ref": ref}
            for ref, targets in graph.items()]


def _component(item: Merged, spec_version: str) -> dict[str, Any]:
    c: Component = item.component
    kind = c.kind if c.kind in COMPONENT_TYPES else "library"
    entry: dict[str, Any] = {"type": kind, "bom-ref": item.ref, "name": c.name or item.ref}
    for key, value in (("version", c.version), ("purl", c.purl), ("cpe", c.cpe)):
        if value:
            entry[key] = value
    if c.supplier:
        entry["supplier"] = {"name": c.supplier}
    hashes = [{"alg": HASH_ALGORITHMS[alg], "content": h.value} for h in c.hashes
              if (alg := re.sub(r"[^a-z0-9]", "", h.algorithm.lower())) in HASH_ALGORITHMS
              and HEX_DIGEST.fullmatch(h.value)]
    if hashes:
        entry["hashes"] = hashes
    licences = licence_choice(c, spec_version)
    if licences:
        entry["licenses"] = licences
    references = [{"type": r.kind, "url": r.url} for r in c.external_references
                  if r.kind in _reference_types(spec_version)]
    if references:
        entry["externalReferences"] = references
    entry["properties"] = [{"name": "prodsec:origin", "value": f"{o.part}: {o.ref}"}
                           for o in item.origins]
    return entry


def licence_choice(component: Component, spec_version: str) -> list[dict[str, Any]]:
    """The component's licences as CycloneDX ``licenseChoice``, the way the SBOMs stated them: a
    listed SPDX id as ``license.id``, an SPDX expression as ``expression``, anything else as
    ``license.name``, each with its acknowledgement (declared or concluded). CycloneDX 1.6 takes
    either licences or one expression, not both: there, an expression beside other licences is
    written as a named licence, which is what it was before the kinds were kept."""
    stated = component.licence_choices or tuple(
        Licence("expression", text) for text in component.licenses)
    entries = [_licence_entry(licence) for licence in dict.fromkeys(stated)]
    if spec_version == "1.6" and len(entries) > 1:
        entries = [{"license": {"name": e.pop("expression"), **e}} if "expression" in e else e
                   for e in entries]
    return entries


def _licence_entry(licence: Licence) -> dict[str, Any]:
    from cyclonedx.spdx import is_supported_id

    acknowledgement = ({"acknowledgement": licence.acknowledgement}
                       if licence.acknowledgement in ("declared", "concluded") else {})
    if licence.kind != "name" and is_supported_id(licence.value):
        return {"license": {"id": licence.value, **acknowledgement}}
    if licence.kind != "name" and _is_expression(licence.value):
        return {"expression": licence.value, **acknowledgement}
    return {"license": {"name": licence.value, **acknowledgement}}


def _is_expression(text: str) -> bool:
    """SPDX licence expression syntax (SPDX 2.3 Annex D): ids, LicenseRef-/DocumentRef- refs,
    AND/OR/WITH and balanced parentheses. Not the library's check, which refuses LicenseRef-."""
    if not SPDX_EXPRESSION.fullmatch(text):
        return False
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


@lru_cache(maxsize=4)
def _reference_types(spec_version: str) -> frozenset[str]:
    """The ``externalReference.type`` values the official schema of ``spec_version`` allows."""
    import json

    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON

    path = BOM_JSON[SchemaVersion.from_version(spec_version)]
    with open(str(path), encoding="utf-8") as schema:
        definition = json.load(schema)["definitions"]["externalReference"]
    return frozenset(definition["properties"]["type"]["enum"])
