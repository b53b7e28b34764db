"""What an SBOM says about each BSI TR-03183-2 data field, read from the decoded JSON.

One reader per format (CycloneDX JSON, SPDX 3.0.1 JSON-LD, SPDX 2.x JSON) turns a document into
the same neutral ``Facts``: per field id (the ids of ``data/bsi-tr-03183-2.yaml``) the values
found where the TR's mapping puts them, plus a note when the value sits somewhere else (a
SHA-512 in ``components[].hashes`` rather than on the distribution reference) so the check can
say "wrong form" instead of "missing". Pure functions over dicts; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EDGE_TYPES = {"dependsOn", "contains", "hasStaticLink", "hasDynamicLink", "hasOptionalDependency",
              "hasProvidedDependency", "hasPrerequisite"}


@dataclass
class Facts:
    """The values found for each field of one subject (the SBOM itself or one component)."""

    ref: str
    name: str
    values: dict[str, list[str]] = field(default_factory=dict)
    misplaced: dict[str, str] = field(default_factory=dict)

    def add(self, field_id: str, *values: Any) -> None:
        """Record the non-empty string values found for ``field_id``."""
        found = self.values.setdefault(field_id, [])
        found += [v.strip() for v in values if isinstance(v, str) and v.strip()]


@dataclass
class Document:
    """A decoded SBOM as the BSI check sees it."""

    format: str
    spec_version: str
    sbom: Facts
    components: list[Facts]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name(value: Any) -> str:
    """The last segment of a vocabulary IRI (``.../RelationshipType/dependsOn`` → dependsOn)."""
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else ""


# ---- CycloneDX ---------------------------------------------------------------------------------


def cyclonedx(doc: dict[str, Any]) -> Document:
    """CycloneDX JSON: the TR's own mapping and the ``bsi:component:*`` property taxonomy."""
    meta = _dict(doc.get("metadata"))
    sbom = Facts("", "the SBOM itself")
    sbom.add("sbom-creator", *_cdx_contacts(meta.get("manufacturer")),
             *_cdx_contacts(meta.get("manufacture")), *_cdx_contacts(meta.get("supplier")),
             *[_dict(a).get("email") for a in _list(meta.get("authors"))])
    sbom.add("timestamp", meta.get("timestamp"))
    serial = doc.get("serialNumber")
    sbom.add("sbom-uri", serial if isinstance(serial, str) else None)
    declared = {d.get("ref") for d in _list(doc.get("dependencies")) if isinstance(d, dict)}
    components = [_cdx_component(c, declared, nested)
                  for c, nested in _cdx_walk(_list(doc.get("components")))]
    return Document("CycloneDX", str(doc.get("specVersion") or ""), sbom, components)


def _cdx_walk(items: list[Any], nested: bool = False) -> list[tuple[dict[str, Any], bool]]:
    """Every component, nested ones included (a nested component is contained by its parent)."""
    found: list[tuple[dict[str, Any], bool]] = []
    for item in items:
        if isinstance(item, dict):
            children = _list(item.get("components"))
            found.append((item, nested or bool(children)))
            found += _cdx_walk(children, True)
    return found


def _cdx_contacts(entity: Any) -> list[Any]:
    entity = _dict(entity)
    return ([_dict(c).get("email") for c in _list(entity.get("contact"))]
            + _list(entity.get("url")))


def _cdx_component(c: dict[str, Any], declared: set[Any], nested: bool) -> Facts:
    ref = str(c.get("bom-ref") or c.get("name") or "")
    facts = Facts(ref, str(c.get("name") or ref))
    facts.add("component-creator", *_cdx_contacts(c.get("manufacturer")),
              *[_dict(a).get("email") for a in _list(c.get("authors"))],
              *_cdx_contacts(c.get("supplier")))  # as the field table says (review h18 F7)
    facts.add("component-name", c.get("name"))
    facts.add("component-version", c.get("version"))
    props = [_dict(p) for p in _list(c.get("properties"))]
    for field_id, prop in (("filename", "filename"), ("executable", "executable"),
                           ("archive", "archive"), ("structured", "structured"),
                           ("effective-licence", "effectiveLicence")):
        facts.add(field_id, *[p.get("value") for p in props
                              if p.get("name") == f"bsi:component:{prop}"])
    if c.get("bom-ref") in declared or nested:
        facts.add("dependencies", "declared")
    _cdx_licences(c, facts)
    _cdx_references(c, facts)
    facts.add("other-identifiers", c.get("purl"), c.get("cpe"),
              _dict(c.get("swid")).get("tagId"))
    return facts


def _cdx_licences(c: dict[str, Any], facts: Facts) -> None:
    unacknowledged = []
    for choice in _list(c.get("licenses")):
        choice = _dict(choice)
        lic = _dict(choice.get("license"))
        text = choice.get("expression") or lic.get("id") or (
            f"name:{lic['name']}" if lic.get("name") else None)
        ack = choice.get("acknowledgement") or lic.get("acknowledgement")
        if ack == "concluded":
            facts.add("distribution-licences", text)
        elif ack == "declared":
            facts.add("original-licences", text)
        elif text:
            unacknowledged.append(text)
    if unacknowledged:
        note = (f"licence {unacknowledged[0]!r} carries no acknowledgement; the TR's CycloneDX "
                "mapping needs acknowledgement 'concluded' (distribution) or 'declared' (original)")
        facts.misplaced.setdefault("distribution-licences", note)
        facts.misplaced.setdefault("original-licences", note)


def _cdx_references(c: dict[str, Any], facts: Facts) -> None:
    for ref in (_dict(r) for r in _list(c.get("externalReferences"))):
        kind, url = ref.get("type"), ref.get("url")
        hashes = [f"{_dict(h).get('alg')}:{_dict(h).get('content')}" for h in _list(ref.get("hashes"))]
        if kind == "distribution":
            facts.add("deployable-uri", url)
            facts.add("deployable-hash", *hashes)
        elif kind in ("source-distribution", "vcs"):
            facts.add("source-code-uri", url)
            if kind == "source-distribution":
                facts.add("source-code-hash", *hashes)
        elif kind == "rfc-9116":
            facts.add("security-txt-url", url)
    own = [f"{_dict(h).get('alg')}:{_dict(h).get('content')}" for h in _list(c.get("hashes"))]
    if own:
        facts.misplaced["deployable-hash"] = (
            f"hash {own[0].split(':')[0]} given in components[].hashes; the TR maps the deployable's "
            "SHA-512 to externalReferences[type=distribution].hashes")


# ---- SPDX 3 ------------------------------------------------------------------------------------


def spdx3(doc: dict[str, Any]) -> Document:
    """SPDX 3.0.1 JSON-LD, read from the graph (elements by ``spdxId``, blank nodes by ``@id``)."""
    graph = [e for e in _list(doc.get("@graph")) if isinstance(e, dict)]
    nodes = {str(e.get("spdxId") or e.get("@id")): e for e in graph}
    relations = [e for e in graph if e.get("type") == "Relationship"]
    sbom = Facts("", "the SBOM itself")
    infos = [e for e in graph if e.get("type") == "CreationInfo"]
    for info in infos:
        for agent in _list(info.get("createdBy")):
            sbom.add("sbom-creator", *_spdx3_contacts(nodes.get(str(agent))))
        sbom.add("timestamp", info.get("created"))
    sbom.add("sbom-uri", *[e.get("spdxId") for e in graph if e.get("type") == "software_Sbom"])
    version = next((str(i.get("specVersion")) for i in infos if i.get("specVersion")), "")
    packages = [e for e in graph if e.get("type") == "software_Package"]
    components = [_spdx3_package(p, nodes, relations) for p in packages]
    return Document("SPDX", version, sbom, components)


def _spdx3_contacts(agent: Any) -> list[Any]:
    agent = _dict(agent)
    return [i.get("identifier") for i in map(_dict, _list(agent.get("externalIdentifier")))
            if _name(i.get("externalIdentifierType")) in ("email", "urlScheme")] + [
        _dict(r).get("locator") for r in _list(agent.get("externalRef"))]


def _targets(relations: list[dict[str, Any]], source: str, kind: str) -> list[str]:
    return [str(t) for r in relations if r.get("from") == source
            and _name(r.get("relationshipType")) == kind for t in _list(r.get("to"))]


def _spdx3_package(p: dict[str, Any], nodes: dict[str, Any],
                   relations: list[dict[str, Any]]) -> Facts:
    ref = str(p.get("spdxId"))
    facts = Facts(ref, str(p.get("name") or ref))
    for agent in _list(p.get("originatedBy")):
        facts.add("component-creator", *_spdx3_contacts(nodes.get(str(agent))))
    facts.add("component-name", p.get("name"))
    facts.add("component-version", p.get("software_packageVersion"))
    if any(r.get("from") == ref or ref in _list(r.get("to")) for r in relations
           if _name(r.get("relationshipType")) in EDGE_TYPES):
        facts.add("dependencies", "declared")
    for field_id, kind in (("distribution-licences", "hasConcludedLicense"),
                           ("original-licences", "hasDeclaredLicense")):
        facts.add(field_id, *[_dict(nodes.get(t)).get("simplelicensing_licenseExpression")
                              for t in _targets(relations, ref, kind)])
    files = [_dict(nodes.get(t)) for t in _targets(relations, ref, "hasDistributionArtifact")]
    _spdx3_file_facts(facts, files or [p])
    location = p.get("software_downloadLocation")
    facts.add("deployable-uri", None if location in ("NOASSERTION", "NONE") else location)
    for ext in map(_dict, _list(p.get("externalRef"))):
        kind = _name(ext.get("externalRefType"))
        target = {"sourceArtifact": "source-code-uri", "vcs": "source-code-uri",
                  "binaryArtifact": "deployable-uri", "securityOther": "security-txt-url"}.get(kind)
        if target:
            facts.add(target, *_list(ext.get("locator")))
    facts.add("other-identifiers", p.get("software_packageUrl"), *[
        i.get("identifier") for i in map(_dict, _list(p.get("externalIdentifier")))
        if _name(i.get("externalIdentifierType")) in ("packageUrl", "cpe22", "cpe23", "swid")])
    return facts


def _spdx3_file_facts(facts: Facts, files: list[dict[str, Any]]) -> None:
    """Filename, hash and the three properties from the distribution artifact (else the
    package): in SPDX 3 a purpose that is not listed means the negative value."""
    for f in files:
        if f.get("type") == "software_File":
            facts.add("filename", f.get("name"))
        facts.add("deployable-hash", *[f"{_name(h.get('algorithm'))}:{h.get('hashValue')}"
                                       for h in map(_dict, _list(f.get("verifiedUsing")))])
        purposes = {_name(f.get("software_primaryPurpose"))} | {
            _name(x) for x in _list(f.get("software_additionalPurpose"))}
        described = f.get("type") == "software_File" or purposes - {""}
        if described:
            facts.add("executable", "executable" if "executable" in purposes else "non-executable")
            facts.add("archive", "archive" if "archive" in purposes else "no archive")
            facts.add("structured", "unstructured" if "firmware" in purposes else "structured")


# ---- SPDX 2 ------------------------------------------------------------------------------------


def spdx2(doc: dict[str, Any]) -> Document:
    """SPDX 2.x JSON (refused by v2.1.0 section 4, still read so the fields can be compared)."""
    info = _dict(doc.get("creationInfo"))
    sbom = Facts("", "the SBOM itself")
    sbom.add("sbom-creator", *[_email(c) for c in _list(info.get("creators"))])
    sbom.add("timestamp", info.get("created"))
    sbom.add("sbom-uri", doc.get("documentNamespace"))
    edges = [_dict(r) for r in _list(doc.get("relationships"))
             if _dict(r).get("relationshipType") in ("DEPENDS_ON", "CONTAINS", "DEPENDENCY_OF",
                                                    "CONTAINED_BY")]
    in_graph = {r.get("spdxElementId") for r in edges} | {r.get("relatedSpdxElement") for r in edges}
    components = [_spdx2_package(_dict(p), in_graph) for p in _list(doc.get("packages"))]
    return Document("SPDX", str(doc.get("spdxVersion") or ""), sbom, components)


def _email(text: Any) -> str | None:
    if isinstance(text, str) and "(" in text and text.rstrip().endswith(")"):
        inner = text.rsplit("(", 1)[1].rstrip(" )")
        return inner or None
    return None


def _spdx2_package(p: dict[str, Any], in_graph: set[Any]) -> Facts:
    ref = str(p.get("SPDXID") or p.get("name") or "")
    facts = Facts(ref, str(p.get("name") or ref))
    facts.add("component-creator", _email(p.get("originator")) or _email(p.get("supplier")))
    facts.add("component-name", p.get("name"))
    facts.add("component-version", p.get("versionInfo"))
    facts.add("filename", p.get("packageFileName"))
    if ref in in_graph:
        facts.add("dependencies", "declared")
    for field_id, key in (("distribution-licences", "licenseConcluded"),
                          ("original-licences", "licenseDeclared")):
        value = p.get(key)
        facts.add(field_id, None if value in ("NOASSERTION", "NONE") else value)
    facts.add("deployable-hash", *[f"{_dict(c).get('algorithm')}:{_dict(c).get('checksumValue')}"
                                   for c in _list(p.get("checksums"))])
    location = p.get("downloadLocation")
    facts.add("deployable-uri", None if location in ("NOASSERTION", "NONE") else location)
    purpose = p.get("primaryPackagePurpose")
    if purpose:
        facts.add("executable", "executable" if purpose == "APPLICATION" else "non-executable")
        facts.add("archive", "archive" if purpose == "ARCHIVE" else "no archive")
    for ext in map(_dict, _list(p.get("externalRefs"))):
        kind = ext.get("referenceType")
        if kind in ("purl", "cpe22Type", "cpe23Type", "swid"):
            facts.add("other-identifiers", ext.get("referenceLocator"))
        elif kind == "vcs":
            facts.add("source-code-uri", ext.get("referenceLocator"))
        elif ext.get("referenceCategory") == "SECURITY" and kind == "url":
            facts.add("security-txt-url", ext.get("referenceLocator"))
    return facts
