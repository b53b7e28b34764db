"""Scan a ~10 000-component SBOM against both OSV databases.

Prints: database import time (cold parse, and warm from the content-keyed cache), index build
time, scan time as a ratio to plain ``json.load`` of the same SBOM (target <= 2x), and peak memory.

Two SBOMs: the worst case — every component names a package that has advisories, at a random
version, ~2 findings per component — and the real CycloneDX SBOMs of ../shared/data (Maven, npm,
Go, Composer) as one document, where most packages have no advisory.
"""

from __future__ import annotations

import json
import random
import resource
import tempfile
import time
from pathlib import Path

from prodsec.formats import cyclonedx, osv
from prodsec.vuln import AdvisoryIndex, scan
from prodsec.vuln import cache as osv_cache

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED = DATA / "osv"
REAL = DATA / "sbom" / "cyclonedx" / "SBOM"
N = 10_000


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _sbom(index: AdvisoryIndex) -> bytes:
    """Components named after packages in the databases, with random plausible versions."""
    rng = random.Random(7)
    packages = [p for p in index.packages() if p[0] in ("Go", "PyPI")]
    components = []
    for i in range(N):
        ecosystem, name = rng.choice(packages)
        version = f"{rng.randint(0, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
        purl = f"pkg:golang/{name}@v{version}" if ecosystem == "Go" else f"pkg:pypi/{name}@{version}"
        components.append({"type": "library", "bom-ref": f"c{i}", "name": name, "version": version, "purl": purl})
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                       "components": components}).encode()


def _real_sbom() -> bytes:
    """Every component of the real CycloneDX JSON SBOMs, as one document."""
    components = []
    for path in sorted(REAL.rglob("*.json")):
        doc = json.loads(path.read_bytes())
        for i, component in enumerate(doc.get("components") or ()):
            components.append(component | {"bom-ref": f"{path.parent.name}/{i}"})
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                       "components": components}).encode()


def _ratio(label: str, data: bytes, index: AdvisoryIndex) -> None:
    loads = min(_timed(lambda: json.loads(data))[1] for _ in range(5))
    sbom, parse_time = _timed(lambda: cyclonedx.parse(data, "bench.json"))
    findings, scan_time = _timed(lambda: scan(sbom, index))
    _, rescan = _timed(lambda: scan(sbom, index))
    print(f"{label}: {len(sbom.components)} components, {len(data) / 1e6:.1f} MB; "
          f"json.load {loads * 1000:.1f} ms; {len(findings)} findings")
    print(f"  scan: first {scan_time * 1000:.0f} ms = {scan_time / loads:.1f}x json.load, "
          f"second (memoised) {rescan * 1000:.0f} ms = {rescan / loads:.1f}x; "
          f"parse into components {parse_time / loads:.1f}x")


def main() -> None:
    if not DATA.is_dir():
        raise SystemExit(f"bench/scan.py measures the full OSV databases of the larger data set, "
                         f"{DATA}, which is not present (the tests' slice is in tests/data)")
    (go, pypi), cold = _timed(lambda: (osv.load(SHARED / "go"), osv.load(SHARED / "pypi")))
    with tempfile.TemporaryDirectory() as folder:
        for part in ("go", "pypi"):
            osv_cache.load(SHARED / part, Path(folder))
        _, warm = _timed(lambda: [osv_cache.load(SHARED / p, Path(folder)) for p in ("go", "pypi")])
    index, build = _timed(lambda: AdvisoryIndex(go.advisories + pypi.advisories))
    print(f"advisories: {index.size} ({len(go.advisories)} Go, {len(pypi.advisories)} PyPI)")
    print(f"import: cold parse {cold:.2f} s, warm from cache {warm:.2f} s; index build {build:.2f} s")
    _ratio("worst case (every package has advisories)", _sbom(index), index)
    _ratio("real SBOMs (shared/data, one document)", _real_sbom(),
           AdvisoryIndex(go.advisories + pypi.advisories))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MB")


if __name__ == "__main__":
    main()
