"""SPDX 2.2 / 2.3, JSON (and YAML) and tag-value: parsed and validated with spdx-tools; SPDX
3.0.1 JSON-LD handed to ``formats.spdx3`` (spdx-tools 0.8 does not read it).

Packages become components (purl and CPE from ``externalRefs``); DEPENDS_ON, CONTAINS and the
*_OF inverses become dependency edges.
"""

from __future__ import annotations

import threading
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
from prodsec.formats import spdx3
from prodsec.formats._io import decode_text, load_json, load_yaml, refuse_unstorable

VERSIONS = ("SPDX-2.2", "SPDX-2.3")
FORWARD = {"DEPENDS_ON", "CONTAINS"}
BACKWARD = {"DEPENDENCY_OF", "CONTAINED_BY", "BUILD_DEPENDENCY_OF", "DEV_DEPENDENCY_OF",
            "OPTIONAL_DEPENDENCY_OF", "PROVIDED_DEPENDENCY_OF", "RUNTIME_DEPENDENCY_OF",
            "TEST_DEPENDENCY_OF"}


def looks_like_spdx(data: bytes) -> bool:
    """True for SPDX tag-value or JSON/YAML with an spdxVersion (sniffed from the first 4 kB)."""
    head = data[:4096]
    return b"SPDXVersion:" in head or b"spdxVersion" in head or b"spdx.org/rdf/3" in head


def validate(data: bytes, source: str) -> ValidationReport:
    """Validate an SPDX 2.2/2.3 document: parse errors and spdx-tools' validation messages
    (SPDX 3.0.1: ``spdx3.validate``)."""
    if _is_jsonld(data, source):
        return spdx3.validate(data, source)
    document, version = _document(data, source)
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    messages = validate_full_spdx_document(document, version)
    issues = tuple(Issue(_context(m.context), m.validation_message) for m in messages)
    return ValidationReport(source, "SPDX", version, issues)


def parse(data: bytes, source: str) -> Sbom:
    """Packages (as components) and relationships (as dependency edges) of an SPDX document."""
    if _is_jsonld(data, source):
        return spdx3.parse(data, source)
    document, version = _document(data, source)
    components = tuple(_component(p) for p in document.packages)
    return refuse_unstorable(Sbom(
        format="SPDX",
        spec_version=version,
        components=components,
        dependencies=tuple(_edges(document.relationships)),
        name=document.creation_info.name,
    ), source)


def _is_jsonld(data: bytes, source: str) -> bool:
    """True for a JSON-LD (SPDX 3) document; the JSON is only decoded when it names a JSON-LD
    keyword, so SPDX 2 JSON is decoded once, by spdx-tools' path."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] != b"{" or (
            b'"@context"' not in data and b'"@graph"' not in data):
        return False
    return spdx3.is_jsonld(load_json(data, source, error=SbomFormatError))


def _document(data: bytes, source: str) -> tuple[Any, str]:
    """The spdx-tools Document; parse failures become one FormatError listing every message."""
    from spdx_tools.spdx.parser.error import SPDXParsingError

    text = decode_text(data, source, SbomFormatError)
    stripped = text.lstrip()
    try:
        if stripped.startswith("{"):
            return _from_dict(load_json(data, source, error=SbomFormatError), source)
        if "SPDXVersion:" in text[:4096]:
            return _from_tag_value(text, source)
        return _from_dict(load_yaml(data, source, error=SbomFormatError), source)
    except SPDXParsingError as exc:
        found = exc.get_messages()  # type: ignore[no-untyped-call]
        messages = "; ".join(str(m) for m in found[:20])
        raise SbomFormatError(f"{source}: not a valid SPDX document: {messages}") from exc
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise SbomFormatError(f"{source}: not a valid SPDX document: {exc}") from exc


def _check_version(version: Any, source: str, where: str) -> str:
    if version not in VERSIONS:
        raise UnsupportedSbomVersion(
            f"{source}: {where}: {version!r} is not a supported SPDX version; expected one of "
            f"{', '.join(VERSIONS)} (or SPDX 3.0.1 as JSON-LD)"
        )
    return str(version)


def _from_dict(doc: Any, source: str) -> tuple[Any, str]:
    if not isinstance(doc, dict):
        raise SbomFormatError(f"{source}: /: expected an SPDX document object, found {type(doc).__name__}")
    version = _check_version(doc.get("spdxVersion"), source, "/spdxVersion")
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser

    return JsonLikeDictParser().parse(doc), version  # type: ignore[no-untyped-call]


def _from_tag_value(text: str, source: str) -> tuple[Any, str]:
    line = next((ln for ln in text.splitlines() if ln.startswith("SPDXVersion:")), "")
    version = _check_version(line.partition(":")[2].strip(), source, "SPDXVersion")
    return _tag_value_parser().parse(text), version


_PARSERS = threading.local()


def _shared_licensing() -> Any:
    from spdx_tools.common.spdx_licensing import spdx_licensing  # type: ignore[import-untyped]

    return spdx_licensing


def _tag_value_parser() -> Any:
    """spdx-tools' tag-value parser, built once per thread and reset for each document.

    Building one generates PLY's LALR tables: ~0.7 s, every time, since no table cache may be
    written into site-packages (PLY leaks their handles). The grammar actions are bound to the
    instance, so the instance is kept and its per-document state (loggers, elements, lexer) is
    reset as its ``__init__`` sets it (spdx-tools 0.8)."""
    import re

    from spdx_tools.spdx.parser.logger import Logger
    from spdx_tools.spdx.parser.tagvalue import parser as tag_value
    from spdx_tools.spdx.parser.tagvalue.lexer import SPDXLexer
    from spdx_tools.spdx.parser.tagvalue.parser import Parser

    # Its licence rule builds a whole SPDX licence index per expression (0.35 s each, 2.9 s
    # for an 8-licence file); the JSON parser shares one index: so does this one now.
    tag_value.get_spdx_licensing = _shared_licensing  # type: ignore[attr-defined]
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = Parser(debug=False, write_tables=False)  # type: ignore[no-untyped-call]
        _PARSERS.parser = parser
        return parser
    parser.logger = Logger()  # type: ignore[no-untyped-call]
    parser.current_element = {"logger": Logger()}  # type: ignore[no-untyped-call]
    parser.creation_info = {"logger": Logger()}  # type: ignore[no-untyped-call]
    parser.elements_built = {}
    parser.lex = SPDXLexer()  # type: ignore[no-untyped-call]
    parser.lex.build(reflags=re.UNICODE)
    return parser


def _context(context: Any) -> str:
    if context is None:
        return "document"
    parts = [str(p) for p in (getattr(context, "spdx_id", None), getattr(context, "parent_id", None)) if p]
    kind = getattr(context, "element_type", None)
    label = kind.name.lower() if kind is not None else "document"
    return f"{label} {' in '.join(parts)}" if parts else label


def _component(package: Any) -> Component:
    refs = package.external_references or []
    purl = next((r.locator for r in refs if r.reference_type == "purl"), None)
    cpe = next((r.locator for r in refs if r.reference_type in ("cpe23Type", "cpe22Type")), None)
    supplier = getattr(package.supplier, "name", None)
    stated = [Licence("expression", str(x), acknowledgement) for x, acknowledgement in
              ((package.license_declared, "declared"), (package.license_concluded, "concluded"))
              if x is not None and not _is_placeholder(x)]
    licences = [licence.value for licence in stated]
    return Component(
        ref=package.spdx_id,
        name=package.name,
        version=package.version,
        purl=purl,
        cpe=cpe,
        supplier=supplier,
        kind=package.primary_package_purpose.name.lower() if package.primary_package_purpose else None,
        hashes=tuple(Hash(c.algorithm.name.replace("_", "-"), c.value) for c in package.checksums),
        licenses=tuple(dict.fromkeys(licences)),
        licence_choices=tuple(stated),
        external_references=tuple(_external_references(package)),
    )


def _external_references(package: Any) -> list[ExternalReference]:
    """The package's links as CycloneDX reference types: home page, download location and the
    SECURITY ``advisory`` refs (SPDX 2.3 §7.11, §7.7, Annex F)."""
    links = [("website", package.homepage), ("distribution", package.download_location)]
    links += [("advisories", r.locator) for r in package.external_references or []
              if r.reference_type == "advisory"]
    return [ExternalReference(kind, url) for kind, url in links
            if isinstance(url, str) and url.startswith(("http://", "https://"))]


def _is_placeholder(value: Any) -> bool:
    return type(value).__name__ in ("SpdxNoAssertion", "SpdxNone")


def _edges(relationships: Any) -> list[Dependency]:
    edges: list[Dependency] = []
    for rel in relationships:
        kind, target = rel.relationship_type.name, rel.related_spdx_element_id
        if not isinstance(target, str):
            continue
        if kind in FORWARD:
            edges.append(Dependency(rel.spdx_element_id, target))
        elif kind in BACKWARD:
            edges.append(Dependency(target, rel.spdx_element_id))
    return edges
