"""A release's SBOM assembled from several (firmware, application, cloud service, hardware BOM).

Pure: parts in, one de-duplicated component list out, each component keeping where it came
from. Two components are the same when they have the same purl (else the same CPE); a
component without either cannot be matched safely and stays one per part. The same package
(purl without version and qualifiers, or CPE without its version field) at different versions
in different parts is not merged: both are kept, and the pair is reported as a conflict, item by
item, since a firmware may really ship an older library than the app beside it — or one SBOM is
stale, which only a person can tell.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from prodsec.core.sbom import Component, Dependency, Sbom

#: What a part is, and the CycloneDX component type that stands for it in an export.
PART_KINDS = {"firmware": "firmware", "application": "application", "service": "platform",
              "hardware": "device", "operating-system": "operating-system",
              "container": "container"}


@dataclass(frozen=True)
class Part:
    """One SBOM of the release, under the name it was added with (unique in the release)."""

    name: str
    kind: str
    sbom: Sbom


@dataclass(frozen=True)
class Origin:
    """A component as one part lists it."""

    part: str
    ref: str


@dataclass(frozen=True)
class Merged:
    """A de-duplicated component; ``ref`` is unique in the assembly, ``origins[0]`` is the part
    it is nested under in an export and the others list it too."""

    ref: str
    component: Component
    origins: tuple[Origin, ...]


@dataclass(frozen=True)
class Conflict:
    """One package at different versions in different parts."""

    identity: str
    versions: tuple[tuple[str, str | None, str], ...]  # (part, version, ref)

    def message(self) -> str:
        """One line per conflict: the package, then each part's version and where it is."""
        listed = "; ".join(f"{part}: {version or 'no version'} ({ref})"
                           for part, version, ref in self.versions)
        return f"{self.identity} has conflicting versions across parts — {listed}"


@dataclass(frozen=True)
class Assembly:
    """The merged view of a release's parts."""

    parts: tuple[Part, ...]
    components: tuple[Merged, ...]
    dependencies: tuple[Dependency, ...]
    conflicts: tuple[Conflict, ...]

    def sbom(self, name: str | None = None) -> Sbom:
        """The whole as one ``Sbom`` (merged refs), for the quality report and matching."""
        formats = sorted({p.sbom.format for p in self.parts})
        versions = sorted({p.sbom.spec_version for p in self.parts})
        return Sbom(format=formats[0] if len(formats) == 1 else "assembled",
                    spec_version=versions[0] if len(versions) == 1 else "",
                    components=tuple(replace(m.component, ref=m.ref) for m in self.components),
                    dependencies=self.dependencies, name=name)


def identity(component: Component) -> str | None:
    """The package regardless of version: purl without version/qualifiers, or CPE 2.3 without
    its version field (None when the component has neither)."""
    if component.purl:
        return component.purl.split("?")[0].split("#")[0].rsplit("@", 1)[0]
    if component.cpe:
        fields = component.cpe.split(":")
        if len(fields) > 5:
            fields[5] = "*"
        return ":".join(fields)
    return None


def _key(component: Component) -> str | None:
    return component.purl or component.cpe or None


def assemble(parts: list[Part]) -> Assembly:
    """Merge the parts in name order (so the result does not depend on import order)."""
    ordered = tuple(sorted(parts, key=lambda p: p.name))
    merged: dict[str, Merged] = {}
    local: dict[tuple[str, str], str] = {}  # (part, ref) -> merged ref
    for part in ordered:
        for component in part.sbom.components:
            origin = Origin(part.name, component.ref)
            key = _key(component)
            found = merged.get(key) if key else None
            if found is None:
                ref = f"{part.name}/{component.ref}"
                found = Merged(ref, component, (origin,))
                merged[key or ref] = found
            elif origin not in found.origins:
                found = replace(found, origins=(*found.origins, origin))
                merged[key or found.ref] = found
            local[(part.name, component.ref)] = found.ref
    edges = {Dependency(local[(p.name, d.source)], local[(p.name, d.target)])
             for p in ordered for d in p.sbom.dependencies
             if (p.name, d.source) in local and (p.name, d.target) in local}
    items = tuple(merged.values())
    return Assembly(ordered, items, tuple(sorted(edges, key=lambda d: (d.source, d.target))),
                    _conflicts(items))


def _conflicts(items: tuple[Merged, ...]) -> tuple[Conflict, ...]:
    by_identity: dict[str, list[tuple[str, str | None, str]]] = {}
    for item in items:
        name = identity(item.component)
        if name is not None:
            by_identity.setdefault(name, []).extend(
                (o.part, item.component.version, o.ref) for o in item.origins)
    conflicts = []
    for name, seen in sorted(by_identity.items()):
        versions_by_part: dict[str, set[str | None]] = {}
        for part, version, _ in seen:
            versions_by_part.setdefault(part, set()).add(version)
        every = set().union(*versions_by_part.values())
        # Only across parts: one part listing two versions of a package is ordinary (npm).
        if len(versions_by_part) > 1 and len(every) > 1 and any(
                versions_by_part[a] != versions_by_part[b]
                for a in versions_by_part for b in versions_by_part):
            conflicts.append(Conflict(name, tuple(sorted(seen, key=lambda s: (s[0], str(s[1]))))))
    return tuple(conflicts)
