"""SPDX 3.0.1 JSON-LD: read with spdx-python-model (the SPDX project's generated bindings).

The bindings decode the ``@graph``, type-check every property against the SPDX 3.0.1 model and
link references between elements; this module maps the result onto the same component model as
SPDX 2 and CycloneDX: ``software_Package`` elements become components (purl from
``software_packageUrl`` or a ``packageUrl`` external identifier, CPE from ``cpe23``/``cpe22``,
supplier from ``suppliedBy``, licences from ``hasDeclaredLicense``/``hasConcludedLicense``) and
the dependency-like relationships between packages become edges.

A graph whose references do not resolve is refused: a reference must name an element of the
graph, or one that the ``SpdxDocument`` declares in its ``import`` list (an element of another
document). Otherwise a component's supplier or an edge would silently vanish.
"""

from __future__ import annotations

from typing import Any

from prodsec.core.sbom import (
    Component,
    Dependency,
    ExternalReference,
    Hash,
    Issue,
    Licence,
    Sbom,
    ValidationReport,
)
from prodsec.errors import SbomFormatError, UnsupportedSbomVersion
from prodsec.formats._io import expect_object, load_json

CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
VERSIONS = ("3.0.1",)
#: Relationship types (SPDX 3.0.1 Core/Vocabularies/RelationshipType) that mean "from needs to".
EDGES = {"dependsOn", "contains", "hasStaticLink", "hasDynamicLink", "hasOptionalDependency",
         "hasProvidedDependency", "hasPrerequisite"}
#: Licence relationships and the CycloneDX acknowledgement each stands for.
LICENCES = {"hasDeclaredLicense": "declared", "hasConcludedLicense": "concluded"}
_DECODE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def is_jsonld(doc: Any) -> bool:
    """True for a JSON object that is JSON-LD (SPDX 3) rather than an SPDX 2 document."""
    return isinstance(doc, dict) and ("@context" in doc or "@graph" in doc)


def validate(data: bytes, source: str) -> ValidationReport:
    """Parse errors refuse the document (``SbomFormatError``); what remains are the elements
    missing a property the SPDX 3.0.1 model requires, each with its ``/@graph`` location."""
    doc = _json(data, source)
    _model, objects = _decode(doc, source)
    return ValidationReport(source, "SPDX", "SPDX-3.0.1", tuple(_required(doc, objects)))


def parse(data: bytes, source: str) -> Sbom:
    """The packages (as components) and dependency relationships of an SPDX 3.0.1 document."""
    return parse_document(_json(data, source), source)


def parse_document(doc: dict[str, Any], source: str) -> Sbom:
    """As ``parse``, from the decoded JSON (``formats.spdx`` hands JSON-LD documents here)."""
    model, objects = _decode(doc, source)
    packages = sorted(objects.foreach_type(model.software_Package), key=lambda p: p._id or "")
    licences = _licences(model, objects)
    components = tuple(_component(model, p, licences.get(p._id, ())) for p in packages)
    refs = {c.ref for c in components}
    document = next(iter(objects.foreach_type(model.SpdxDocument)), None)
    root = _root(model, objects, document, refs)
    return Sbom(
        format="SPDX",
        spec_version="SPDX-3.0.1",
        components=components,
        dependencies=tuple(_edges(model, objects, refs)),
        name=_text(getattr(document, "name", None)) or (root.name if root else None),
        subject=root,
    )


# ---- decoding -----------------------------------------------------------------------------


def _json(data: bytes, source: str) -> dict[str, Any]:
    return expect_object(load_json(data, source, error=SbomFormatError), source,
                         "an SPDX 3 JSON-LD document", error=SbomFormatError)


def _decode(doc: dict[str, Any], source: str) -> tuple[Any, Any]:
    """The bindings module and the linked object set; every refusal names its location."""
    graph = _graph(doc, source)
    _check_versions(graph, source)
    _check_duplicates(graph, source)
    from spdx_python_model import v3_0_1 as model

    _check_types(model, graph, source)
    objects = model.SHACLObjectSet()
    try:
        model.JSONLDDeserializer().deserialize_data(doc, objects)
    except _DECODE_ERRORS as exc:
        raise SbomFormatError(f"{source}: {_locate_failure(model, doc, graph, exc)}") from exc
    except RecursionError as exc:
        raise SbomFormatError(f"{source}: /@graph: elements nested too deeply to link") from exc
    _check_references(model, objects, graph, source)
    return model, objects


def _graph(doc: dict[str, Any], source: str) -> list[Any]:
    context = doc.get("@context")
    names = [context] if isinstance(context, str) else (
        [c for c in context if isinstance(c, str)] if isinstance(context, list) else [])
    if CONTEXT not in names:
        raise UnsupportedSbomVersion(
            f"{source}: /@context: {context!r:.200} is not a supported SPDX 3 context; expected "
            f"{CONTEXT} (SPDX 3.0.1)")
    graph = doc.get("@graph")
    if not isinstance(graph, list):
        raise SbomFormatError(f"{source}: /@graph: expected a list of elements, found "
                              f"{type(graph).__name__}")
    for i, item in enumerate(graph):
        if not isinstance(item, dict):
            raise SbomFormatError(f"{source}: /@graph/{i}: expected an element object, found "
                                  f"{type(item).__name__}")
        if not isinstance(item.get("type"), str):
            raise SbomFormatError(f"{source}: /@graph/{i}/type: expected the element's type name")
    return graph


def _check_types(model: Any, graph: list[Any], source: str) -> None:
    """An element type the SPDX 3.0.1 model does not define, named with the closest one (the
    bindings would take it for an extension and complain about its first property)."""
    import difflib

    known = [name for name in model.SHACLObject.CLASSES if "/" not in name]
    for i, item in enumerate(graph):
        if item["type"] not in model.SHACLObject.CLASSES:
            close = difflib.get_close_matches(item["type"], known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SbomFormatError(
                f"{source}: /@graph/{i}/type: unknown type {item['type']!r:.100} at "
                f"/@graph/{i}{hint}")


def _check_duplicates(graph: list[Any], source: str) -> None:
    """Two different elements under one ``spdxId`` are refused: the bindings would keep one
    silently, and which version of a package the SBOM means would be a guess."""
    first: dict[str, int] = {}
    for j, item in enumerate(graph):
        element_id = item.get("spdxId", item.get("@id"))
        if not isinstance(element_id, str):
            continue
        i = first.setdefault(element_id, j)
        if i != j and graph[i] != item:
            differ = sorted(k for k in set(graph[i]) | set(item) if graph[i].get(k) != item.get(k))
            raise SbomFormatError(
                f"{source}: /@graph/{i} and /@graph/{j}: two different elements with the spdxId "
                f"{element_id!r:.200} (they differ in {', '.join(differ[:5])})")


def _locate_failure(model: Any, doc: dict[str, Any], graph: list[Any], exc: Exception) -> str:
    """Which element the bindings refused: decode them one by one to find it (only on failure,
    so a valid document is decoded once)."""
    for i, item in enumerate(graph):
        try:
            model.JSONLDDeserializer().deserialize_data(
                {"@context": doc["@context"], "@graph": [item]}, model.SHACLObjectSet())
        except _DECODE_ERRORS as inner:
            return f"/@graph/{i} ({item.get('type')}): {_message(inner)}"
    return f"/@graph: {_message(exc)}"


def _message(exc: Exception) -> str:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return f"{text}"[:300]


def _check_versions(graph: list[Any], source: str) -> None:
    """Every CreationInfo (a graph node, or inline in an element) must say 3.0.1: checked on
    the JSON, before decoding, since linking drops the blank-node ids that locate them."""
    for i, item in enumerate(graph):
        inline = item.get("creationInfo")
        for where, info in ((f"/@graph/{i}", item), (f"/@graph/{i}/creationInfo", inline)):
            if not isinstance(info, dict) or info.get("type") != "CreationInfo":
                continue
            version = info.get("specVersion")
            if version not in VERSIONS:
                raise UnsupportedSbomVersion(
                    f"{source}: {where}/specVersion: {version!r:.100} is not a supported SPDX "
                    f"version; expected {', '.join(VERSIONS)}")


def _check_references(model: Any, objects: Any, graph: list[Any], source: str) -> None:
    """Refuse references to elements neither in the graph nor imported by the document."""
    imported = {e.externalSpdxId for d in objects.foreach_type(model.SpdxDocument)
                for e in d.import_}
    unresolved = sorted(set(objects.missing_ids) - imported)
    if not unresolved:
        return
    listed = "; ".join(f"{_referrer(graph, ref)}: {ref!r:.200} is not an element of the graph "
                       "nor imported by the SpdxDocument" for ref in unresolved[:10])
    more = f" (and {len(unresolved) - 10} more)" if len(unresolved) > 10 else ""
    raise SbomFormatError(f"{source}: unresolved references: {listed}{more}")


def _where(graph: list[Any], element_id: str | None) -> str:
    for i, item in enumerate(graph):
        if element_id is not None and element_id in (item.get("spdxId"), item.get("@id")):
            return f"/@graph/{i}"
    return "/@graph"


def _referrer(graph: list[Any], ref: str) -> str:
    """The JSON pointer of the first property that names ``ref``."""
    for i, item in enumerate(graph):
        for key, value in item.items():
            values = value if isinstance(value, list) else [value]
            for j, v in enumerate(values):
                if v == ref and key not in ("spdxId", "@id"):
                    return f"/@graph/{i}/{key}" + (f"/{j}" if isinstance(value, list) else "")
    return "/@graph"


def _required(doc: dict[str, Any], objects: Any) -> list[Issue]:
    """Elements missing a property the model requires (``min_count``), as the bindings'
    serialiser would refuse them; located by the element's ``spdxId``."""
    graph = doc["@graph"]
    issues = []
    for obj in objects.foreach():
        for prop in type(obj)._OBJ_PY_PROPS.values():
            if not prop.min_count:
                continue
            value = getattr(obj, prop.pyname)
            if prop.prop.elide(value) or not prop.prop.check_min_count(value, prop.min_count):
                issues.append(Issue(_where(graph, obj._id),
                                    f"{type(obj).__name__} requires {prop.pyname!r}"))
    return issues


# ---- mapping ------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _iri_name(value: Any) -> str | None:
    """The last segment of a vocabulary IRI (``.../RelationshipType/dependsOn`` → dependsOn)."""
    return value.rsplit("/", 1)[-1] if isinstance(value, str) and value else None


def _ref(value: Any) -> str | None:
    """An element's id, whether linked (an object) or kept as an IRI string."""
    return _text(value) or _text(getattr(value, "_id", None))


def _component(model: Any, package: Any, licences: tuple[Licence, ...]) -> Component:
    identifiers = [(_iri_name(i.externalIdentifierType), _text(i.identifier))
                   for i in package.externalIdentifier]
    purl = _text(package.software_packageUrl) or next(
        (v for k, v in identifiers if k == "packageUrl" and v), None)
    cpe = next((v for k, v in identifiers if k in ("cpe23", "cpe22") and v), None)
    supplier = package.suppliedBy
    hashes = tuple(Hash(_iri_name(h.algorithm) or "", h.hashValue) for h in package.verifiedUsing
                   if isinstance(h, model.Hash) and h.hashValue)
    return Component(
        ref=package._id,
        name=_text(package.name) or package._id,
        version=_text(package.software_packageVersion),
        purl=purl,
        cpe=cpe,
        supplier=_text(getattr(supplier, "name", None)),
        kind=_iri_name(package.software_primaryPurpose),
        hashes=hashes,
        licenses=tuple(dict.fromkeys(licence.value for licence in licences)),
        licence_choices=licences,
        external_references=tuple(
            ExternalReference(kind, url) for kind, url in (
                ("website", package.software_homePage),
                ("distribution", package.software_downloadLocation))
            if isinstance(url, str) and url.startswith(("http://", "https://"))),
    )


def _licences(model: Any, objects: Any) -> dict[str, tuple[Licence, ...]]:
    """element id → its declared then concluded licence expressions (NOASSERTION dropped)."""
    found: dict[str, list[Licence]] = {}
    for rel in sorted(objects.foreach_type(model.Relationship),
                      key=lambda r: _iri_name(r.relationshipType) or ""):
        acknowledgement = LICENCES.get(_iri_name(rel.relationshipType) or "")
        if acknowledgement is None or _ref(rel.from_) is None:
            continue
        for target in rel.to:
            text = _text(getattr(target, "simplelicensing_licenseExpression", None))
            if text and text not in ("NOASSERTION", "NONE"):
                found.setdefault(str(_ref(rel.from_)), []).append(
                    Licence("expression", text, acknowledgement))
    return {k: tuple(dict.fromkeys(v)) for k, v in found.items()}


def _edges(model: Any, objects: Any, refs: set[str]) -> list[Dependency]:
    """Dependency-like relationships between packages, in a stable order."""
    edges = []
    for rel in objects.foreach_type(model.Relationship):
        source = _ref(rel.from_)
        if _iri_name(rel.relationshipType) not in EDGES or source not in refs:
            continue
        edges += [Dependency(source, str(_ref(t))) for t in rel.to if _ref(t) in refs]
    return sorted(set(edges), key=lambda d: (d.source, d.target))


def _root(model: Any, objects: Any, document: Any, refs: set[str]) -> Component | None:
    """The package the SBOM is about: a root element of the document or of a software_Sbom."""
    roots = list(getattr(document, "rootElement", None) or [])
    for sbom in objects.foreach_type(model.software_Sbom):
        roots += list(sbom.rootElement)
    for root in roots:
        if isinstance(root, model.software_Package) and _ref(root) in refs:
            return _component(model, root, ())
    return None

