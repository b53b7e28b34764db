"""What an SBOM says about each BSI TR-03183-2 data field, read from the decoded JSON.

One reader per format (CycloneDX JSON, SPDX 3.0.1 JSON-LD, SPDX 2.x JSON) turns a document into
the same neutral ``Facts``: per field id (the ids of ``data/bsi-tr-03183-2.yaml``)

- ``values``: what sits exactly where the TR's mapping (section 8.2, tables 8-12) puts it;
- ``inferred``: a value read from somewhere else that says the same thing only by inference
  (a supplier's e-mail for the component creator, a SHA-512 in ``components[].hashes`` for the
  deployable's hash, an SPDX 3 purpose on the package instead of its distribution file), each
  with the place it came from, so the report can say "inferred from ..." and never "present";
- ``misplaced``: a note when the only value found is unusable where it is (an MD5 in
  ``components[].hashes``, a licence without acknowledgement), so the check says "wrong form"
  rather than "missing".

SPDX 2 has no column in the TR (section 4 admits SPDX 3.0.1 and later only); its reader uses
prodsec's own equivalents and marks as inferred only what is derived from a different fact.
Pure functions over dicts; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The SPDX 3 relationship types the TR's table 9 names for "dependencies on other components".
TR_EDGES = {"dependsOn", "contains"}
#: Other SPDX 3 dependency types: an enumeration through them is read as inferred.
OTHER_EDGES = {"hasStaticLink", "hasDynamicLink", "hasOptionalDependency",
               "hasProvidedDependency", "hasPrerequisite"}
#: The CycloneDX property of the effective licence: the BSI taxonomy v0.1.2 spells it
#: ``effectiveLicence``, the TR's table 12 ``effectiveLicense``; both name the TR's field.
EFFECTIVE_LICENCE = ("bsi:component:effectiveLicence", "bsi:component:effectiveLicense")


@dataclass
class Facts:
    """The values found for each field of one subject (the SBOM itself or one component)."""

    ref: str
    name: str
    values: dict[str, list[str]] = field(default_factory=dict)
    inferred: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    misplaced: dict[str, str] = field(default_factory=dict)

    def add(self, field_id: str, *values: Any) -> None:
        """Record the non-empty string values found where the TR maps ``field_id``."""
        found = self.values.setdefault(field_id, [])
        found += _texts(values)

    def infer(self, field_id: str, source: str, *values: Any) -> None:
        """Record values for ``field_id`` read from ``source``, a place the TR does not map
        the field to (kept apart: the check reports them as inferred, never as present)."""
        texts = _texts(values)
        if texts:
            self.inferred.setdefault(field_id, []).extend((source, t) for t in texts)


def _texts(values: tuple[Any, ...]) -> list[str]:
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


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
    sbom.add("sbom-creator", *_cdx_contacts(meta.get("manufacturer")))
    sbom.infer("sbom-creator", "metadata.authors[].email",
               *[_dict(a).get("email") for a in _list(meta.get("authors"))])
    sbom.infer("sbom-creator", "metadata.supplier (the supplier, not the SBOM's creator)",
               *_cdx_contacts(meta.get("supplier")))
    sbom.infer("sbom-creator", "metadata.manufacture (deprecated: the product's manufacturer)",
               *_cdx_contacts(meta.get("manufacture")))
    sbom.add("timestamp", meta.get("timestamp"))
    serial = doc.get("serialNumber")
    sbom.add("sbom-uri", serial if isinstance(serial, str) else None)
    graph = Graph({d.get("ref") for d in _list(doc.get("dependencies")) if isinstance(d, dict)},
                  _cdx_completeness(_list(doc.get("compositions"))))
    components = [_cdx_component(c, graph, nested)
                  for c, nested in _cdx_walk(_list(doc.get("components")))]
    return Document("CycloneDX", str(doc.get("specVersion") or ""), sbom, components)


@dataclass(frozen=True)
class Graph:
    """What a CycloneDX document says about dependencies: the refs with an entry of their own,
    and per ref the completeness its ``compositions`` state (``aggregate``)."""

    declared: set[Any]
    completeness: dict[str, str]


def _cdx_completeness(compositions: list[Any]) -> dict[str, str]:
    """ref → aggregate, for every ref a composition lists in ``assemblies`` or ``dependencies``
    (TR table 9: compositions say how complete the dependencies and assemblies are)."""
    found: dict[str, str] = {}
    for composition in map(_dict, compositions):
        aggregate = composition.get("aggregate")
        if isinstance(aggregate, str) and aggregate:
            for ref in _list(composition.get("assemblies")) + _list(composition.get("dependencies")):
                found.setdefault(str(ref), aggregate)
    return found


def declared(completeness: str | None) -> str:
    """The value of the dependencies field: 'declared', with the completeness the document
    states for the list, or the words the check reads as a missing indication."""
    return f"declared; completeness {completeness}" if completeness else NO_COMPLETENESS


#: The dependencies value when the list is given but its completeness is not (TR 5.2.2 asks
#: for both).
NO_COMPLETENESS = "declared; completeness not indicated"


def _cdx_walk(items: list[Any], nested: bool = False) -> list[tuple[dict[str, Any], bool]]:
    """Every component, nested ones included, each with whether it sits inside another."""
    found: list[tuple[dict[str, Any], bool]] = []
    for item in items:
        if isinstance(item, dict):
            found.append((item, nested))
            found += _cdx_walk(_list(item.get("components")), True)
    return found


def _cdx_contacts(entity: Any) -> list[Any]:
    entity = _dict(entity)
    return ([_dict(c).get("email") for c in _list(entity.get("contact"))]
            + _list(entity.get("url")))


def _cdx_component(c: dict[str, Any], graph: Graph, nested: bool) -> Facts:
    ref = str(c.get("bom-ref") or c.get("name") or "")
    facts = Facts(ref, str(c.get("name") or ref))
    facts.add("component-creator", *_cdx_contacts(c.get("manufacturer")))
    facts.infer("component-creator", "components[].authors[].email",
                *[_dict(a).get("email") for a in _list(c.get("authors"))])
    facts.infer("component-creator", "components[].supplier (TR 3.2.9: the supplier is not the "
                "creator)", *_cdx_contacts(c.get("supplier")))
    facts.add("component-name", c.get("name"))
    facts.add("component-version", c.get("version"))
    _cdx_properties(c, facts)
    _cdx_dependencies(c, facts, graph, nested)
    _cdx_licences(c, facts)
    _cdx_references(c, facts)
    facts.add("other-identifiers", c.get("purl"), c.get("cpe"),
              _dict(c.get("swid")).get("tagId"))
    return facts


def _cdx_properties(c: dict[str, Any], facts: Facts) -> None:
    """The BSI taxonomy's properties, by their exact names (values of every occurrence, so the
    check can tell a property given twice)."""
    props = [_dict(p) for p in _list(c.get("properties"))]
    for field_id, names in (("filename", ("bsi:component:filename",)),
                            ("executable", ("bsi:component:executable",)),
                            ("archive", ("bsi:component:archive",)),
                            ("structured", ("bsi:component:structured",)),
                            ("effective-licence", EFFECTIVE_LICENCE)):
        facts.add(field_id, *[p.get("value") for p in props if p.get("name") in names])


def _cdx_dependencies(c: dict[str, Any], facts: Facts, graph: Graph, nested: bool) -> None:
    """Declared: an entry in ``dependencies`` (an empty one states there are none) or nested
    components that it contains, with the completeness a composition states for it. A
    component only nested inside another states nothing about its own dependencies: that is
    inferred."""
    ref = c.get("bom-ref")
    if ref in graph.declared or _list(c.get("components")):
        facts.add("dependencies", declared(graph.completeness.get(str(ref))))
    elif nested:
        facts.infer("dependencies", "nested in another component, without a dependencies entry "
                    "of its own", "declared")


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


def _hashes(items: Any) -> list[str]:
    return [f"{_dict(h).get('alg')}:{_dict(h).get('content')}" for h in _list(items)]


def _cdx_references(c: dict[str, Any], facts: Facts) -> None:
    for ref in (_dict(r) for r in _list(c.get("externalReferences"))):
        kind, url = ref.get("type"), ref.get("url")
        if kind == "distribution":
            facts.add("deployable-uri", url)
            facts.add("deployable-hash", *_hashes(ref.get("hashes")))
        elif kind == "source-distribution":
            facts.add("source-code-uri", url)
            facts.add("source-code-hash", *_hashes(ref.get("hashes")))
        elif kind == "vcs":
            facts.infer("source-code-uri", "externalReferences[type=vcs] (the TR maps "
                        "source-distribution)", url)
        elif kind == "rfc-9116":
            facts.add("security-txt-url", url)
    _cdx_own_hashes(c, facts)


def _cdx_own_hashes(c: dict[str, Any], facts: Facts) -> None:
    """``components[].hashes``: a SHA-512 there is the deployable's hash only by inference (the
    TR maps it to the distribution reference); any other algorithm is unusable for the field."""
    own = _hashes(c.get("hashes"))
    sha512 = [h for h in own if h.split(":")[0].replace("-", "").lower() == "sha512"]
    facts.infer("deployable-hash", "components[].hashes (the TR maps the deployable's SHA-512 "
                "to externalReferences[type=distribution].hashes)", *sha512)
    if own and not sha512:
        facts.misplaced["deployable-hash"] = (
            f"hash {own[0].split(':')[0]} given in components[].hashes; the TR asks for the "
            "SHA-512 of the deployable, in externalReferences[type=distribution].hashes")


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
            _spdx3_agent(sbom, "sbom-creator", nodes.get(str(agent)), "CreationInfo.createdBy")
        sbom.add("timestamp", info.get("created"))
    sbom.add("sbom-uri", *[e.get("spdxId") for e in graph if e.get("type") == "software_Sbom"])
    version = next((str(i.get("specVersion")) for i in infos if i.get("specVersion")), "")
    packages = [e for e in graph if e.get("type") == "software_Package"]
    components = [_spdx3_package(p, nodes, relations) for p in packages]
    return Document("SPDX", version, sbom, components)


def _spdx3_agent(facts: Facts, field_id: str, agent: Any, via: str) -> None:
    """An agent's e-mail or URL: its ``externalIdentifier`` (types email, urlScheme or other, as
    tables 8 and 9 map them) is the field; its ``externalRef`` locators are inferred."""
    identifiers, references = _spdx3_contacts(agent)
    facts.add(field_id, *identifiers)
    facts.infer(field_id, f"{via} → the agent's externalRef (the TR maps its externalIdentifier)",
                *references)


def _spdx3_contacts(agent: Any) -> tuple[list[Any], list[Any]]:
    """An agent's (externalIdentifier e-mails and URLs, externalRef locators)."""
    agent = _dict(agent)
    return ([i.get("identifier") for i in map(_dict, _list(agent.get("externalIdentifier")))
             if _name(i.get("externalIdentifierType")) in ("email", "urlScheme", "other")],
            [loc for r in map(_dict, _list(agent.get("externalRef")))
             for loc in _list(r.get("locator"))])


def _targets(relations: list[dict[str, Any]], source: str, kind: str) -> list[str]:
    return [str(t) for r in relations if r.get("from") == source
            and _name(r.get("relationshipType")) == kind for t in _list(r.get("to"))]


def _spdx3_package(p: dict[str, Any], nodes: dict[str, Any],
                   relations: list[dict[str, Any]]) -> Facts:
    ref = str(p.get("spdxId"))
    facts = Facts(ref, str(p.get("name") or ref))
    for agent in _list(p.get("originatedBy")):
        _spdx3_agent(facts, "component-creator", nodes.get(str(agent)), "originatedBy")
    for agent in _list(p.get("suppliedBy")):
        facts.infer("component-creator", "suppliedBy (TR 3.2.9: the supplier is not the creator)",
                    *[c for found in _spdx3_contacts(nodes.get(str(agent))) for c in found])
    facts.add("component-name", p.get("name"))
    facts.add("component-version", p.get("software_packageVersion"))
    _spdx3_dependencies(facts, ref, relations)
    _spdx3_licences(facts, ref, nodes, relations)
    files = [_dict(nodes.get(t)) for t in _targets(relations, ref, "hasDistributionArtifact")]
    for f in files:
        _spdx3_distribution_file(facts, f)
    if not files:
        _spdx3_package_as_file(facts, p)
    _spdx3_sources(facts, ref, nodes, relations)
    _spdx3_references(facts, p)
    return facts


def _spdx3_dependencies(facts: Facts, ref: str, relations: list[dict[str, Any]]) -> None:
    """Table 9: a ``contains`` or ``dependsOn`` relationship from the package (``to`` empty
    states none), its ``completeness`` the indication the TR asks for. Other dependency types,
    or being only another's target, are inferred."""
    own = [r for r in relations if r.get("from") == ref]
    kinds = {_name(r.get("relationshipType")) for r in own}
    if kinds & TR_EDGES:
        stated = [_name(r.get("completeness")) for r in own
                  if _name(r.get("relationshipType")) in TR_EDGES and r.get("completeness")]
        facts.add("dependencies", declared(stated[0] if stated else None))
    elif kinds & OTHER_EDGES:
        facts.infer("dependencies", f"relationship {sorted(kinds & OTHER_EDGES)[0]} (table 9 "
                    "names contains / dependsOn)", "declared")
    elif any(ref in _list(r.get("to")) for r in relations
             if _name(r.get("relationshipType")) in TR_EDGES | OTHER_EDGES):
        facts.infer("dependencies", "the target of another package's dependency relationship, "
                    "with none of its own", "declared")


def _spdx3_licences(facts: Facts, ref: str, nodes: dict[str, Any],
                    relations: list[dict[str, Any]]) -> None:
    def expressions(targets: list[str]) -> list[Any]:
        return [_dict(nodes.get(t)).get("simplelicensing_licenseExpression") for t in targets]

    facts.add("distribution-licences", *expressions(_targets(relations, ref, "hasConcludedLicense")))
    facts.add("original-licences", *expressions(_targets(relations, ref, "hasDeclaredLicense")))
    effective = [str(t) for r in relations if r.get("from") == ref
                 and _name(r.get("relationshipType")) == "other"
                 and str(r.get("comment") or "").strip() == "hasEffectiveLicense"
                 for t in _list(r.get("to"))]
    facts.add("effective-licence", *expressions(effective))


def _purposes(element: dict[str, Any]) -> tuple[set[str], str]:
    return ({_name(x) for x in _list(element.get("software_additionalPurpose"))},
            _name(element.get("software_primaryPurpose")))


def _spdx3_distribution_file(facts: Facts, f: dict[str, Any]) -> None:
    """Tables 9 and 11: filename, SHA-512, deployable URI and the three properties of the
    file the package's ``hasDistributionArtifact`` points to. The properties are purposes in
    ``software_additionalPurpose``: 'executable' / 'archive' there, or their absence, is the
    value; 'container' means structured, 'firmware' unstructured, neither: not stated."""
    facts.add("filename", f.get("name") if f.get("type") == "software_File" else None)
    facts.add("deployable-hash", *_spdx3_hashes(f))
    facts.add("deployable-uri", *[loc for r in map(_dict, _list(f.get("externalRef")))
                                  if _name(r.get("externalRefType")) == "binaryArtifact"
                                  for loc in _list(r.get("locator"))])
    extra, primary = _purposes(f)
    via = "software_primaryPurpose of the distribution file (table 9 uses software_additionalPurpose)"
    for field_id, word, no in (("executable", "executable", "non-executable"),
                               ("archive", "archive", "no archive")):
        if word in extra:
            facts.add(field_id, word)
        elif primary == word:
            facts.infer(field_id, via, word)
        else:
            facts.add(field_id, no)
    structured = _structured(extra)
    if structured:
        facts.add("structured", structured)
    else:
        facts.infer("structured", via, _structured({primary}))


def _structured(purposes: set[str]) -> str | None:
    if "container" in purposes:
        return "structured"  # also when 'firmware' is there too: TR 5.2.2, both parts
    return "unstructured" if "firmware" in purposes else None


def _spdx3_package_as_file(facts: Facts, p: dict[str, Any]) -> None:
    """No distribution file: hashes and purposes on the package itself say the same only by
    inference (the TR puts them on the file)."""
    via = "the package itself (no hasDistributionArtifact file, where the TR maps it)"
    facts.infer("deployable-hash", via, *_spdx3_hashes(p))
    extra, primary = _purposes(p)
    purposes = extra | {primary} - {""}
    if purposes:
        facts.infer("executable", via, "executable" if "executable" in purposes else "non-executable")
        facts.infer("archive", via, "archive" if "archive" in purposes else "no archive")
        facts.infer("structured", via, _structured(purposes))


def _spdx3_hashes(element: dict[str, Any]) -> list[str]:
    return [f"{_name(h.get('algorithm'))}:{h.get('hashValue')}"
            for h in map(_dict, _list(element.get("verifiedUsing")))]


def _spdx3_sources(facts: Facts, ref: str, nodes: dict[str, Any],
                   relations: list[dict[str, Any]]) -> None:
    """Tables 11 and 12: the source artifact that ``generates`` the package carries the source
    code URI (externalRef sourceArtifact) and the source code hash (verifiedUsing)."""
    for r in relations:
        if _name(r.get("relationshipType")) == "generates" and ref in _list(r.get("to")):
            source = _dict(nodes.get(str(r.get("from"))))
            facts.add("source-code-uri", *[loc for x in map(_dict, _list(source.get("externalRef")))
                                           if _name(x.get("externalRefType")).lower() == "sourceartifact"
                                           for loc in _list(x.get("locator"))])
            facts.add("source-code-hash", *_spdx3_hashes(source))


def _spdx3_references(facts: Facts, p: dict[str, Any]) -> None:
    """The package's own references and identifiers: other identifiers and security.txt are
    where tables 11 and 12 put them; a download location or a source reference on the package
    is inferred (the TR puts them on the distribution file and on the source artifact)."""
    location = p.get("software_downloadLocation")
    facts.infer("deployable-uri", "software_downloadLocation of the package",
                None if location in ("NOASSERTION", "NONE") else location)
    for ext in map(_dict, _list(p.get("externalRef"))):
        kind, locators = _name(ext.get("externalRefType")), _list(ext.get("locator"))
        if kind == "securityOther":
            facts.add("security-txt-url", *locators)
        elif kind == "binaryArtifact":
            facts.infer("deployable-uri", "externalRef binaryArtifact of the package", *locators)
        elif kind in ("sourceArtifact", "vcs"):
            facts.infer("source-code-uri", f"externalRef {kind} of the package", *locators)
    facts.add("other-identifiers", *[
        i.get("identifier") for i in map(_dict, _list(p.get("externalIdentifier")))
        if _name(i.get("externalIdentifierType")) in ("packageUrl", "cpe22", "cpe23", "swid")])
    facts.infer("other-identifiers", "software_packageUrl (table 11 maps externalIdentifier "
                "packageUrl)", p.get("software_packageUrl"))


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
    facts.add("component-creator", _email(p.get("originator")))
    facts.infer("component-creator", "supplier (TR 3.2.9: the supplier is not the creator)",
                _email(p.get("supplier")))
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
        via = f"primaryPackagePurpose {purpose}"
        facts.infer("executable", via, "executable" if purpose == "APPLICATION" else "non-executable")
        facts.infer("archive", via, "archive" if purpose == "ARCHIVE" else "no archive")
    for ext in map(_dict, _list(p.get("externalRefs"))):
        kind = ext.get("referenceType")
        if kind in ("purl", "cpe22Type", "cpe23Type", "swid"):
            facts.add("other-identifiers", ext.get("referenceLocator"))
        elif kind == "vcs":
            facts.add("source-code-uri", ext.get("referenceLocator"))
        elif ext.get("referenceCategory") == "SECURITY" and kind == "url":
            facts.add("security-txt-url", ext.get("referenceLocator"))
    return facts
