"""SBOM and vulnerability values shared by every format: what an SBOM says, and what a scan finds.

Each external format (CycloneDX, SPDX, OSV, CSAF) is translated into these frozen values at the
edge (``prodsec.formats``), so matching, diffing and storage never see a wire format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Hash:
    """A checksum of a component, as the SBOM gives it (algorithm name kept as written)."""

    algorithm: str
    value: str


@dataclass(frozen=True)
class Licence:
    """One licence as the SBOM states it, kept apart from the flat ``Component.licenses`` text so
    an export can write it back the same way (CycloneDX 1.6 §licenseChoice): ``kind`` is ``id``
    (an SPDX licence id), ``name`` (a free name) or ``expression`` (an SPDX licence expression);
    ``acknowledgement`` is ``declared`` or ``concluded`` when the SBOM says which."""

    kind: str
    value: str
    acknowledgement: str | None = None


@dataclass(frozen=True)
class ExternalReference:
    """A link the SBOM gives for a component (CycloneDX ``externalReferences``: vcs, website,
    issue-tracker…), kept so a merged export does not lose where the source lives."""

    kind: str
    url: str


@dataclass(frozen=True)
class Component:
    """One package or artefact in an SBOM.

    ``ref`` is the document-local identifier (CycloneDX bom-ref, SPDX SPDXID) that dependency
    edges and VEX statements point to; ``purl`` is the cross-document identity used for matching.
    ``licenses`` is each licence's text (for quality checks and search); ``licence_choices``
    the same licences with their kind and acknowledgement, as far as the format says them.
    """

    ref: str
    name: str
    version: str | None = None
    purl: str | None = None
    cpe: str | None = None
    supplier: str | None = None
    kind: str | None = None
    hashes: tuple[Hash, ...] = ()
    licenses: tuple[str, ...] = ()
    licence_choices: tuple[Licence, ...] = ()
    external_references: tuple[ExternalReference, ...] = ()


@dataclass(frozen=True)
class Dependency:
    """A directed edge: ``source`` depends on ``target`` (both component refs)."""

    source: str
    target: str


@dataclass(frozen=True)
class Sbom:
    """A parsed SBOM: its format, spec version, subject and components with their edges."""

    format: str
    spec_version: str
    components: tuple[Component, ...]
    dependencies: tuple[Dependency, ...] = ()
    name: str | None = None
    subject: Component | None = None


@dataclass(frozen=True)
class Issue:
    """One validation problem: where it is (a JSON pointer, XML line or tag-value line) and what."""

    location: str
    message: str


@dataclass(frozen=True)
class ValidationReport:
    """The verdict on one document: valid when it has no issue."""

    source: str
    format: str
    spec_version: str
    issues: tuple[Issue, ...] = ()

    @property
    def valid(self) -> bool:
        """True when the document conforms to its format's schema."""
        return not self.issues


class Finding(NamedTuple):
    """A component that falls in an advisory's affected range.

    A named tuple rather than a frozen dataclass: a scan builds one per (component, advisory)
    pair — 20 000 for a 10 000-component SBOM — and a tuple is built in one C call where a
    frozen dataclass sets each field through ``object.__setattr__``.
    """

    component: str
    vulnerability: str
    aliases: tuple[str, ...] = ()
    affected: str = ""
    fixed: tuple[str, ...] = ()
    severity: str | None = None
    summary: str | None = None
    component_ref: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The stable JSON shape of ``prodsec sbom scan --format json``."""
        return {
            "component": self.component,
            "vulnerability": self.vulnerability,
            "aliases": list(self.aliases),
            "fixed": list(self.fixed),
            "affected": self.affected,
            "severity": self.severity,
            "summary": self.summary,
            "component_ref": self.component_ref,
        }


@dataclass(frozen=True)
class Failure:
    """A file that could not be read during a batch load (reported and skipped, not fatal)."""

    source: str
    message: str
