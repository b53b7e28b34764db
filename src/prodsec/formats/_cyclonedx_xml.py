"""CycloneDX XML (1.2–1.7) elements to components: the XML half of ``formats.cyclonedx``."""

from __future__ import annotations

from typing import Any

from prodsec.core.sbom import Component, Dependency, ExternalReference, Hash, Licence, Sbom


def to_sbom(root: Any, version: str) -> Sbom:
    """Components (nested ones included) and dependency edges of a parsed ``<bom>``."""
    ns = f"{{http://cyclonedx.org/schema/bom/{version}}}"
    metadata = root.find(f"{ns}metadata")
    subject_el = metadata.find(f"{ns}component") if metadata is not None else None
    subject = _component(subject_el, ns, "metadata") if subject_el is not None else None
    return Sbom(
        format="CycloneDX",
        spec_version=version,
        components=tuple(_walk(root.find(f"{ns}components"), ns, "components")),
        dependencies=tuple(_dependencies(root.find(f"{ns}dependencies"), ns)),
        name=subject.name if subject else None,
        subject=subject,
    )


def _walk(parent: Any, ns: str, path: str) -> list[Component]:
    found: list[Component] = []
    if parent is None:
        return found
    for i, element in enumerate(parent.findall(f"{ns}component")):
        found.append(_component(element, ns, f"{path}/{i}"))
        found.extend(_walk(element.find(f"{ns}components"), ns, f"{path}/{i}/components"))
    return found


def _child(element: Any, ns: str, tag: str) -> str | None:
    found = element.find(f"{ns}{tag}")
    text = found.text.strip() if found is not None and found.text else ""
    return text or None


def _component(element: Any, ns: str, path: str) -> Component:
    group, name = _child(element, ns, "group"), _child(element, ns, "name") or ""
    supplier = element.find(f"{ns}supplier")
    return Component(
        ref=element.get("bom-ref") or path,
        name=f"{group}/{name}" if group else name,
        version=_child(element, ns, "version"),
        purl=_child(element, ns, "purl"),
        cpe=_child(element, ns, "cpe"),
        supplier=_child(supplier, ns, "name") if supplier is not None else None,
        kind=element.get("type"),
        hashes=tuple(Hash(h.get("alg", ""), (h.text or "").strip())
                     for h in element.iterfind(f"{ns}hashes/{ns}hash")),
        licenses=tuple(_licenses(element, ns)),
        licence_choices=tuple(_licence_choices(element, ns)),
        external_references=tuple(
            ExternalReference(r.get("type"), url)
            for r in element.iterfind(f"{ns}externalReferences/{ns}reference")
            if r.get("type") and (url := _child(r, ns, "url"))),
    )


def _licenses(element: Any, ns: str) -> list[str]:
    found: list[str] = []
    for licence in element.iterfind(f"{ns}licenses/{ns}license"):
        value = _child(licence, ns, "id") or _child(licence, ns, "name")
        if value:
            found.append(value)
    found.extend((e.text or "").strip() for e in element.iterfind(f"{ns}licenses/{ns}expression"))
    return found


def _licence_choices(element: Any, ns: str) -> list[Licence]:
    """As the JSON reader's: each licence with its kind and acknowledgement."""
    found: list[Licence] = []
    for choice in element.iterfind(f"{ns}licenses/*"):
        tag = str(choice.tag).split("}")[-1]
        acknowledgement = choice.get("acknowledgement")
        if tag == "expression" and (choice.text or "").strip():
            found.append(Licence("expression", choice.text.strip(), acknowledgement))
        elif tag == "license":
            kind = "id" if _child(choice, ns, "id") else "name"
            value = _child(choice, ns, kind)
            if value:
                found.append(Licence(kind, value, acknowledgement))
    return found


def _dependencies(parent: Any, ns: str) -> list[Dependency]:
    edges: list[Dependency] = []
    if parent is None:
        return edges
    for dep in parent.findall(f"{ns}dependency"):
        edges.extend(Dependency(dep.get("ref"), d.get("ref")) for d in dep.findall(f"{ns}dependency")
                     if dep.get("ref") and d.get("ref"))
    return edges
