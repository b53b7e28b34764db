"""Real data for the vulnerability tests (shipped in tests/data): the proton-bridge SBOMs (Go)
and the subset of the real Go OSV advisories that concerns their modules (plus unrelated ones),
so that importing it into a database per test stays fast on both backends."""

from __future__ import annotations

import json
import shutil
from functools import lru_cache
from pathlib import Path

from tests.realdata import DATA

PROTON = DATA / "sbom" / "cyclonedx" / "SBOM" / "proton-bridge"
SBOM_A = PROTON / "proton-bridge-v1.6.3.bom.json"
SBOM_B = PROTON / "proton-bridge-v1.8.0.bom.json"
GO_OSV = DATA / "osv" / "go" / "osv"


def _modules() -> set[str]:
    modules = set()
    for path in (SBOM_A, SBOM_B):
        for component in json.loads(path.read_text())["components"]:
            purl = component.get("purl", "")
            if purl.startswith("pkg:golang/"):
                modules.add(purl.removeprefix("pkg:golang/").split("@")[0])
    return modules


@lru_cache(maxsize=1)
def relevant_files() -> tuple[Path, ...]:
    """Go advisories naming a module of either SBOM, and the first 40 others."""
    modules = _modules()
    hits: list[Path] = []
    others: list[Path] = []
    for path in sorted(GO_OSV.glob("GO-*.json")):
        doc = json.loads(path.read_text())
        names = {a["package"]["name"] for a in doc.get("affected", [])}
        (hits if names & modules else others).append(path)
    return tuple(hits + others[:40])


def make_osv_dir(target: Path) -> Path:
    """A directory with the relevant subset (copies of the real files)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in relevant_files():
        shutil.copy(path, target / path.name)
    return target


def kev_catalogue(entries: dict[str, str | None], version: str = "2026.12.01") -> bytes:
    """A CISA KEV catalogue in the real layout (catalogVersion, count, vulnerabilities), listing
    these CVEs with their dateAdded: what ``prodsec feeds import`` and ``advisories import
    --kev`` read."""
    return json.dumps({"title": "CISA Catalog of Known Exploited Vulnerabilities",
                       "catalogVersion": version, "count": len(entries),
                       "vulnerabilities": [{"cveID": cve, "dateAdded": added}
                                           for cve, added in entries.items()]}).encode()
