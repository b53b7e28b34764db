"""Scanning an SBOM against the advisory index: every component with a purl, one finding per
(component, advisory)."""

from __future__ import annotations

from collections.abc import Callable

from prodsec.core.sbom import Component, Finding, Sbom
from prodsec.formats.purl import package_key
from prodsec.vuln.index import AdvisoryIndex, Entry


def scan(sbom: Sbom, index: AdvisoryIndex, progress: Callable[[int], None] | None = None) -> list[Finding]:
    """Findings for every component whose purl falls in an advisory's affected versions."""
    findings: list[Finding] = []
    for component in sbom.components:
        findings.extend(scan_component(component, index))
        if progress is not None:
            progress(1)
    return findings


def scan_component(component: Component, index: AdvisoryIndex) -> list[Finding]:
    """Findings for one component (none without a matchable purl)."""
    key = package_key(component.purl) if component.purl else None
    if key is None:
        return []
    ecosystem, name, version = key
    return [_finding(component, entry) for entry in index.lookup(ecosystem, name, version)]


def _finding(component: Component, entry: Entry) -> Finding:
    advisory = entry.advisory
    return Finding(
        component=component.purl or component.name,
        vulnerability=advisory.id,
        aliases=advisory.aliases,
        affected=entry.described,
        fixed=entry.fixed,
        severity=advisory.severity,
        summary=advisory.summary,
        component_ref=component.ref,
    )
