"""Scanning an SBOM against the advisory index: every component with a purl, one finding per
(component, advisory)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prodsec.core.sbom import Component, Finding, Sbom
from prodsec.vuln.index import AdvisoryIndex, Entry

# A finding is the component's purl, the entry's shared fields and the component's ref: built
# as one tuple in Finding's field order (checked here once, at import).
_FIELDS = ("component", "vulnerability", "aliases", "affected", "fixed", "severity", "summary",
           "component_ref")
assert Finding._fields == _FIELDS, "Entry.shared no longer lines up with Finding"
_new = tuple.__new__


def scan(sbom: Sbom, index: AdvisoryIndex, progress: Callable[[int], None] | None = None) -> list[Finding]:
    """Findings for every component whose purl falls in an advisory's affected versions."""
    findings: list[Finding] = []
    with _collector_paused():
        _scan(sbom, index, findings, progress)
    return findings


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the duration of a scan.

    A scan allocates tens of thousands of acyclic values (findings, memo entries); each batch of
    allocations can trigger a full collection, which walks every object of the loaded advisory
    databases — measured at 100–150 ms, several times the scan itself. Nothing a scan allocates
    can form a cycle, so pausing the collector loses nothing; it is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _scan(sbom: Sbom, index: AdvisoryIndex, findings: list[Finding],
          progress: Callable[[int], None] | None) -> None:
    add = findings.append
    remember = index.remember
    known = index.memoised_purls()
    for component in sbom.components:
        purl = component.purl
        if purl:
            entries = known.get(purl)
            if entries is None:
                entries = remember(purl)
            if entries:
                ref = component.ref
                for entry in entries:
                    add(_new(Finding, (purl, *entry.shared, ref)))
        if progress is not None:
            progress(1)


def scan_component(component: Component, index: AdvisoryIndex) -> list[Finding]:
    """Findings for one component (none without a matchable purl)."""
    if not component.purl:
        return []
    return [_finding(component.purl, component.ref, entry) for entry in index.for_purl(component.purl)]


def _finding(purl: str, ref: str | None, entry: Entry) -> Finding:
    return Finding(purl, *entry.shared, ref)
