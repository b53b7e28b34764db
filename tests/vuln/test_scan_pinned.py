"""Pinned results of the fast scan path: the counts the 10 000-component benchmark SBOM and real
SBOMs give, and the rank tables agreeing with direct library comparison for every package."""

from __future__ import annotations

import json
import random

import pytest

from prodsec.core.sbom import Component, Finding, Sbom
from prodsec.formats import cyclonedx
from prodsec.vuln import AdvisoryIndex, scan, versions
from prodsec.vuln.scan import scan_component
from tests.realdata import DATA, extended

PROTON = DATA / "sbom" / "cyclonedx" / "SBOM" / "proton-bridge"
# Over the shipped slice (tests/data/osv): the bench SBOM's findings, components with one and
# advisories found; the rank-table probes (2 545).
BENCH_SLICE = (8239, 5346, 475)
RANK_PROBES_SLICE = 2_500


def _bench_sbom(index: AdvisoryIndex, n: int = 10_000) -> Sbom:
    """The SBOM bench/scan.py builds (same seed and recipe)."""
    rng = random.Random(7)
    packages = [p for p in index.packages() if p[0] in ("Go", "PyPI")]
    components = []
    for i in range(n):
        ecosystem, name = rng.choice(packages)
        version = f"{rng.randint(0, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
        purl = f"pkg:golang/{name}@v{version}" if ecosystem == "Go" else f"pkg:pypi/{name}@{version}"
        components.append({"type": "library", "bom-ref": f"c{i}", "name": name, "version": version,
                           "purl": purl})
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": components}
    return cyclonedx.parse(json.dumps(doc).encode(), "bench.json")


def test_bench_sbom_findings_are_pinned(index) -> None:
    """Over the shipped slice (tests/data/osv)."""
    _assert_bench_findings(index, findings=BENCH_SLICE[0], components=BENCH_SLICE[1],
                           vulnerabilities=BENCH_SLICE[2])


@extended
def test_bench_sbom_findings_are_pinned_over_the_full_databases(full_index) -> None:
    """The numbers bench/scan.py reports, over the full databases of ../shared/data."""
    _assert_bench_findings(full_index, findings=20392, components=4648, vulnerabilities=4474)


def _assert_bench_findings(index, findings: int, components: int, vulnerabilities: int) -> None:
    sbom = _bench_sbom(index)
    found = scan(sbom, index)
    assert len(found) == findings
    assert len({f.component_ref for f in found}) == components
    assert len({f.vulnerability for f in found}) == vulnerabilities
    assert scan(sbom, index) == found  # memoised answers give the same findings


def test_real_sbom_findings_are_pinned(index) -> None:
    """The slice keeps every Go advisory naming a module of these SBOMs: the full numbers."""
    _assert_real_findings(index)


@extended
def test_real_sbom_findings_are_pinned_over_the_full_databases(full_index) -> None:
    _assert_real_findings(full_index)


def _assert_real_findings(index) -> None:
    for name in ("proton-bridge-v1.6.3.bom.json", "proton-bridge-v1.8.0.bom.json"):
        sbom = cyclonedx.parse((PROTON / name).read_bytes(), name)
        findings = scan(sbom, index)
        assert (len(findings), len({f.component for f in findings})) == (58, 14), name


def test_fast_findings_equal_constructed_ones(index) -> None:
    sbom = _bench_sbom(index, 300)
    fast = scan(sbom, index)
    slow = [f for c in sbom.components for f in scan_component(c, index)]
    assert fast == slow and [repr(f) for f in fast] == [repr(f) for f in slow]
    assert all(type(f) is Finding and f._fields == slow[0]._fields for f in fast)
    first = fast[0]
    entry = index.lookup(*_key(first.component))[0]
    assert first == Finding(first.component, entry.advisory.id, entry.advisory.aliases,
                            entry.described, entry.fixed, entry.advisory.severity,
                            entry.advisory.summary, first.component_ref)


def _key(purl: str) -> tuple[str, str, str]:
    from prodsec.formats.purl import package_key

    key = package_key(purl)
    assert key is not None
    return key


def test_rank_tables_agree_with_library_comparison(index) -> None:
    """For every package, at every bound and between bounds, the table's answer is the entries
    whose intervals contain the version by the library's own comparison (or that list it)."""
    assert _check_rank_tables(index) > RANK_PROBES_SLICE


@extended
def test_rank_tables_agree_with_library_comparison_over_the_full_databases(full_index) -> None:
    assert _check_rank_tables(full_index) > 10_000


def _check_rank_tables(index: AdvisoryIndex) -> int:
    rng = random.Random(3)
    checked = 0
    for ecosystem, name in index.packages():
        entries = index.entries(ecosystem, name)
        probes = {ev.version for e in entries for r in e.affected.ranges for ev in r.events
                  if ev.version != "0"}
        probes |= {v for e in entries for v in list(e.versions)[:3]}
        probes |= {f"{rng.randint(0, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}" for _ in range(3)}
        for probe in probes:
            text = f"v{probe}" if ecosystem == "Go" else probe
            parsed = versions.parse(ecosystem, text)
            plain = versions.plain(ecosystem, text)
            expected = [e for e in entries if e.matches(parsed, plain)]
            assert index.lookup(ecosystem, name, text) == expected, (ecosystem, name, text)
            checked += 1
    return checked


def test_unknown_and_unmatchable_components_give_nothing(index) -> None:
    components = (Component("a", "x", "1.0", "pkg:pypi/surely-not-a-package-xyz@1.0"),
                  Component("b", "y", None, "pkg:pypi/django"),
                  Component("c", "z", "1", "not a purl"),
                  Component("d", "w", "1", None))
    assert scan(Sbom("CycloneDX", "1.6", components), index) == []
    assert index.lookup("PyPI", "django", "not-a-version") == [
        e for e in index.entries("PyPI", "django") if "not-a-version" in e.versions]


@pytest.mark.parametrize("purl", [
    "pkg:pypi/django@3.2.0", "pkg:pypi/Django@3.2.0", "pkg:pypi/DJANGO@3.2.0",
    "pkg:pypi/django@3.2.0?repository_url=https://pypi.org", "pkg:pypi/django@3.2.0#sub/path",
    "pkg:pypi/django@3.2%2E0", "pkg:pypi/django@", "pkg:pypi/django",
    "pkg:golang/golang.org/x/net@v0.0.1", "pkg:golang/golang.org/x/net@0.0.1",
    "pkg:golang/golang.org/x/net@v0.0.0-20200301022130-244492dfa37a",
    "pkg:golang/golang.org/x/net@v0.17.0", "pkg:golang/golang.org/x/net@not-a-version",
])
def test_purl_heads_resolve_like_the_purl_parser(index, purl) -> None:
    """A purl resolved by its head (the fast path) gets exactly the entries that parsing it with
    the purl library and looking the package up gives — asked twice, the memoised answer too."""
    from prodsec.formats.purl import parse_key

    key = parse_key(purl)
    expected = [] if key is None else index.lookup(*key)
    assert list(index.resolve(purl)) == expected  # the head may be learnt here …
    assert list(index.resolve(purl)) == expected  # … and used here
    assert list(index.for_purl(purl)) == expected
