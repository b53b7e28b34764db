"""CycloneDX 1.2–1.7, JSON and XML: validation with cyclonedx-python-lib, components out.

Validation uses cyclonedx-python-lib's own schema validators: it ships the official schemas with
the JSF signature schema fixed, so signed BOMs that plain ``jsonschema`` rejects are accepted.
Components are read from the parsed document directly (not through the library's model
deserialiser) so that a BOM which is schema-valid is always readable, whatever its version.
"""

from __future__ import annotations

import json
from functools import lru_cache
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
from prodsec.formats._io import expect_object, load_json, pointer, refuse_unstorable

VERSIONS = ("1.2", "1.3", "1.4", "1.5", "1.6", "1.7")
XML_NAMESPACE = "http://cyclonedx.org/schema/bom/"
MAX_ISSUES = 200
MAX_XML_DEPTH = 200  # a nested component costs two levels (<components><component>)


def is_xml(data: bytes) -> bool:
    """True when the bytes look like XML rather than JSON (first non-blank byte is '<')."""
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def validate(data: bytes, source: str) -> ValidationReport:
    """Validate a CycloneDX document against its declared spec version's official schema."""
    if is_xml(data):
        version = _xml_version(_xml_root(data, source), source)
        issues = _schema_issues("xml", version, data.decode("utf-8", "replace"))
        return ValidationReport(source, "CycloneDX XML", version, issues)
    doc = _json_document(data, source)
    version = doc["specVersion"]
    issues = _schema_issues("json", version, data.decode("utf-8-sig"))
    return ValidationReport(source, "CycloneDX JSON", version, issues)


def parse(data: bytes, source: str) -> Sbom:
    """Read the components and dependency edges of a CycloneDX JSON or XML document."""
    if is_xml(data):
        from prodsec.formats import _cyclonedx_xml

        root = _xml_root(data, source)
        return refuse_unstorable(_cyclonedx_xml.to_sbom(root, _xml_version(root, source)), source)
    doc = _json_document(data, source)
    return refuse_unstorable(_sbom_from_json(doc, source), source)


def _json_document(data: bytes, source: str) -> dict[str, Any]:
    doc = expect_object(load_json(data, source, error=SbomFormatError), source, "a CycloneDX BOM",
                        error=SbomFormatError)
    if doc.get("bomFormat") != "CycloneDX":
        raise SbomFormatError(f"{source}: /bomFormat: expected \"CycloneDX\", found {doc.get('bomFormat')!r}")
    version = doc.get("specVersion")
    if version not in VERSIONS:
        raise UnsupportedSbomVersion(
            f"{source}: /specVersion: {version!r} is not a supported CycloneDX version; "
            f"expected one of {', '.join(VERSIONS)}"
        )
    return doc


def _xml_root(data: bytes, source: str) -> Any:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
    from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

    try:
        root = fromstring(data, forbid_dtd=True)
    except ParseError as exc:
        line, column = exc.position
        raise SbomFormatError(f"{source}: line {line} column {column}: invalid XML: {exc}") from exc
    except DefusedXmlException as exc:
        raise SbomFormatError(f"{source}: refused XML with a DTD or entities: {exc}") from exc
    _check_xml_depth(root, source)
    return root


def _check_xml_depth(root: Any, source: str) -> None:
    """Refuse elements nested deeper than ``MAX_XML_DEPTH`` (expat parses any depth, but the
    component walk recurses and lxml's validator stops at 2 048 with an error of its own)."""
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_XML_DEPTH:
            raise SbomFormatError(f"{source}: <{_local(element.tag)}>: elements nested deeper "
                                  f"than {MAX_XML_DEPTH} levels")
        stack.extend((child, depth + 1) for child in element)


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1][:100]


def _xml_version(root: Any, source: str) -> str:
    tag = str(root.tag)
    namespace = tag[1:].split("}")[0] if tag.startswith("{") else ""
    if not namespace.startswith(XML_NAMESPACE) or tag.split("}")[-1] != "bom":
        raise SbomFormatError(f"{source}: root element {tag!r}: expected <bom> in namespace {XML_NAMESPACE}<version>")
    version = namespace[len(XML_NAMESPACE):]
    if version not in VERSIONS:
        raise UnsupportedSbomVersion(
            f"{source}: namespace {namespace}: {version!r} is not a supported CycloneDX version; "
            f"expected one of {', '.join(VERSIONS)}"
        )
    return version


@lru_cache(maxsize=16)
def _validator(kind: str, version: str) -> Any:
    """One validator per (format, version): building one compiles the schema (~100 ms).

    JSON uses the library's strict validator's compiled schema and registry (official schemas,
    JSF fixed) with one change: ``uniqueItems`` is checked in linear time. jsonschema's generic
    check compares every pair, which took 4 of the 7 s spent validating a 900-component BOM.
    """
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from cyclonedx.validation.xml import XmlValidator

    schema_version = SchemaVersion.from_version(version)
    if kind == "xml":
        return XmlValidator(schema_version)
    from jsonschema.validators import extend  # type: ignore[import-untyped]

    inner = JsonStrictValidator(schema_version)._validator
    fast = extend(type(inner), {"uniqueItems": _unique_items})
    return fast(inner.schema, registry=inner._registry, format_checker=_format_checker(inner))


def _format_checker(inner: Any) -> Any:
    """The library's format checker with a linear-time IRI check.

    jsonschema checks ``iri``/``iri-reference`` with an Earley parser (rfc3987-syntax) that took
    ~125 ms per value; an IRI maps to a URI by percent-encoding its non-ASCII characters
    (RFC 3987 section 3.1), which rfc3986-validator's regular expressions check in microseconds.
    """
    from jsonschema import FormatChecker  # type: ignore[import-untyped]

    checker = FormatChecker(formats=())
    checker.checkers = dict(inner.format_checker.checkers)
    checker.checkers["iri"] = (lambda v: _iri_ok(v, "URI"), ValueError)
    checker.checkers["iri-reference"] = (lambda v: _iri_ok(v, "URI_reference"), ValueError)
    return checker


def _iri_ok(value: Any, rule: str) -> bool:
    from urllib.parse import quote

    from rfc3986_validator import validate_rfc3986  # type: ignore[import-untyped]

    if not isinstance(value, str):
        return True
    ascii_form = quote(value, safe="".join(chr(c) for c in range(0x21, 0x7F)))
    return bool(validate_rfc3986(ascii_form, rule=rule))


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Any:
    """``uniqueItems`` by canonical JSON text: O(n) instead of jsonschema's O(n²) comparison."""
    import json

    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        key = json.dumps(item, sort_keys=True, default=str)
        if key in seen:
            yield ValidationError(f"{instance!r:.200} has non-unique elements")
            return
        seen.add(key)


def _schema_issues(kind: str, version: str, text: str) -> tuple[Issue, ...]:
    validator = _validator(kind, version)
    if kind == "xml":
        errors = [e.data for e in _xml_errors(validator, text)]
    else:
        errors = validator.iter_errors(json.loads(text))
    issues: list[Issue] = []
    for error in errors:
        issues.append(_issue(kind, error))
        if len(issues) >= MAX_ISSUES:
            break
    return tuple(issues)


def _xml_errors(validator: Any, text: str) -> list[Any]:
    """The schema's errors; a document lxml cannot read at all (an encoding declaration it
    refuses in a decoded string, a limit of its own) is one issue, not a crash."""
    from lxml import etree  # type: ignore[import-untyped]

    try:
        return list(validator.validate_str(text, all_errors=True) or ())
    except (ValueError, etree.LxmlError) as exc:
        return [_XmlProblem(0, f"not readable by the schema validator: {exc}")]


class _XmlProblem:
    """The shape of one of the library's XML validation errors (``line``, ``message``)."""

    def __init__(self, line: int, message: str) -> None:
        self.data = self
        self.line, self.message = line, message


def _issue(kind: str, error: Any) -> Issue:
    if kind == "xml":
        return Issue(f"line {error.line}", str(error.message))
    return Issue(pointer(error.absolute_path), str(error.message)[:500])


def _sbom_from_json(doc: dict[str, Any], source: str) -> Sbom:
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    subject_doc = metadata.get("component") if isinstance(metadata, dict) else None
    subject = _component(subject_doc, "metadata") if isinstance(subject_doc, dict) else None
    components = tuple(_walk_components(doc.get("components"), "components"))
    return Sbom(
        format="CycloneDX",
        spec_version=str(doc["specVersion"]),
        components=components,
        dependencies=tuple(_dependencies(doc.get("dependencies"))),
        name=subject.name if subject else None,
        subject=subject,
    )


def _walk_components(items: Any, path: str) -> list[Component]:
    """Components in document order, nested ones (assemblies) included after their parent."""
    found: list[Component] = []
    if not isinstance(items, list):
        return found
    for i, item in enumerate(items):
        if isinstance(item, dict):
            found.append(_component(item, f"{path}/{i}"))
            found.extend(_walk_components(item.get("components"), f"{path}/{i}/components"))
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _component(item: dict[str, Any], path: str) -> Component:
    group, name = _text(item.get("group")), _text(item.get("name")) or ""
    supplier = item.get("supplier")
    return Component(
        ref=_text(item.get("bom-ref")) or path,
        name=f"{group}/{name}" if group else name,
        version=_text(item.get("version")),
        purl=_text(item.get("purl")),
        cpe=_text(item.get("cpe")),
        supplier=_text(supplier.get("name")) if isinstance(supplier, dict) else None,
        kind=_text(item.get("type")),
        hashes=tuple(_hashes(item.get("hashes"))),
        licenses=tuple(_licenses(item.get("licenses"))),
        licence_choices=tuple(_licence_choices(item.get("licenses"))),
        external_references=tuple(_external_references(item.get("externalReferences"))),
    )


def _hashes(items: Any) -> list[Hash]:
    if not isinstance(items, list):
        return []
    return [Hash(str(h.get("alg")), str(h.get("content"))) for h in items
            if isinstance(h, dict) and h.get("alg") and h.get("content")]


def _licenses(items: Any) -> list[str]:
    found: list[str] = []
    for entry in items if isinstance(items, list) else ():
        if not isinstance(entry, dict):
            continue
        if _text(entry.get("expression")):
            found.append(entry["expression"])
        licence = entry.get("license")
        if isinstance(licence, dict):
            value = _text(licence.get("id")) or _text(licence.get("name"))
            if value:
                found.append(value)
    return found


def _licence_choices(items: Any) -> list[Licence]:
    """Each licence with its kind (SPDX id, name, expression) and acknowledgement, so an export
    can write it back as it came in."""
    found: list[Licence] = []
    for entry in items if isinstance(items, list) else ():
        if not isinstance(entry, dict):
            continue
        licence = entry.get("license")
        body = licence if isinstance(licence, dict) else entry
        acknowledgement = _text(body.get("acknowledgement"))
        for kind, value in (("expression", entry.get("expression")), ("id", body.get("id")),
                            ("name", body.get("name"))):
            text = _text(value)
            if text and (kind == "expression") == (body is entry):
                found.append(Licence(kind, text, acknowledgement))
                break
    return found


def _external_references(items: Any) -> list[ExternalReference]:
    return [ExternalReference(item["type"], item["url"])
            for item in (items if isinstance(items, list) else ())
            if isinstance(item, dict) and _text(item.get("type")) and _text(item.get("url"))]


def _dependencies(items: Any) -> list[Dependency]:
    edges: list[Dependency] = []
    for entry in items if isinstance(items, list) else ():
        if not isinstance(entry, dict) or not _text(entry.get("ref")):
            continue
        targets = entry.get("dependsOn")
        for target in targets if isinstance(targets, list) else ():
            if _text(target):
                edges.append(Dependency(entry["ref"], target))
    return edges
