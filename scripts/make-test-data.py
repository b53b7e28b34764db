#!/usr/bin/env python3
"""Cut the tests' own data (tests/data/) out of the larger real-world set (../shared/data).

The tests must run on a fresh clone with nothing beside it, so they carry a small slice of the
real data they assert on. This script is how the slice was chosen; run it again only to change
the choice (it rewrites the copied files, never the folder READMEs, which are written by hand):

    python3 scripts/make-test-data.py [SOURCE]     # SOURCE defaults to ../shared/data

Every file is an unmodified copy, except the KEV catalogue (its entries filtered, the rest kept)
and the CISA advisories' manifest (rows filtered).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "tests" / "data"

# Go: every advisory naming a module of the two proton-bridge SBOMs (so their findings are the
# full database's), the 40 lowest ids (tests/workspace/vuln_data.py imports those), those whose
# CVE is in the KEV catalogue, and one in STRIDE of the rest (every year and shape represented).
GO_STRIDE = 24
# PyPI: every advisory with a CVSS v3 vector (the scoring tests), the withdrawn ones (a matcher
# must ignore them), those whose CVE is in the KEV catalogue, and every advisory of these
# packages (the matching tests probe them).
PYPI_PACKAGES = ("django", "werkzeug")
# KEV entries beyond those whose CVE an advisory of the slice names.
KEV_OTHERS = 40
CISA_ADVISORIES = ("icsa-24-289-01.json", "icsa-24-177-01.json", "icsma-24-200-01.json",
                   "va-24-254-01.json")
CYCLONEDX = ("LICENSE", "SBOM/proton-bridge", "SBOM/laravel-7.12.0",
             "SBOM/cern-lhc-vdm-editor-e564943", "HBOM", "SaaSBOM", "CBOM", "VEX")
#: the READMEs of tests/data (source, commit, licence, what was kept): written by hand
READMES = {f"{folder}/README.md" for folder in
           ("osv", "sbom", "sbom-conformance", "csaf", "csaf-conformance", "oscal", "kev")}
SPDX3_KEPT = ("example13.spdx3.json", "example01.spdx3.json", "example7-go-module.spdx3.json")


def copy(source: Path, relative: str) -> None:
    """Copy one file or a whole folder, keeping its path below the data root."""
    origin, target = source / relative, TARGET / relative
    if relative in READMES:
        return
    if origin.is_dir():
        for path in sorted(p for p in origin.rglob("*") if p.is_file()):
            copy(source, str(path.relative_to(source)))
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(origin, target)


def exploited(source: Path) -> set[str]:
    """The CVE ids of the KEV catalogue."""
    catalogue = json.loads((source / "kev/known_exploited_vulnerabilities.json").read_text())
    return {e["cveID"] for e in catalogue["vulnerabilities"]}


def go_slice(source: Path, kev: set[str]) -> list[str]:
    modules = set()
    for name in ("proton-bridge-v1.6.3.bom.json", "proton-bridge-v1.8.0.bom.json"):
        doc = json.loads((source / "sbom/cyclonedx/SBOM/proton-bridge" / name).read_text())
        modules |= {c["purl"].removeprefix("pkg:golang/").split("@")[0]
                    for c in doc["components"] if c.get("purl", "").startswith("pkg:golang/")}
    hits, others = [], []
    for path in sorted((source / "osv/go/osv").glob("GO-*.json")):
        doc = json.loads(path.read_text())
        names = {a["package"]["name"] for a in doc.get("affected", [])}
        (hits if names & modules or kev & set(doc.get("aliases") or ()) else others).append(path)
    chosen = hits + others[:40] + others[40::GO_STRIDE]
    return sorted(str(p.relative_to(source)) for p in chosen)


def pypi_slice(source: Path, kev: set[str]) -> list[str]:
    import yaml

    chosen = []
    for path in sorted((source / "osv/pypi/vulns").rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        cvss = any(s.get("type") == "CVSS_V3" for s in doc.get("severity") or [])
        known = kev & set(doc.get("aliases") or ())
        if cvss or known or doc.get("withdrawn") or path.parent.name in PYPI_PACKAGES:
            chosen.append(str(path.relative_to(source)))
    return chosen


def aliases(paths: list[Path]) -> set[str]:
    import yaml

    found: set[str] = set()
    for path in paths:
        text = path.read_text()
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        found |= {a for a in doc.get("aliases") or [] if a.startswith("CVE-")}
    return found


def kev_slice(source: Path) -> None:
    catalogue = json.loads((source / "kev/known_exploited_vulnerabilities.json").read_text())
    named = aliases([p for p in (TARGET / "osv").rglob("*") if p.suffix in (".json", ".yaml")
                     and p.name.startswith(("GO-", "PYSEC-"))])
    entries = catalogue["vulnerabilities"]
    kept = [e for e in entries if e["cveID"] in named]
    kept += [e for e in entries if e["cveID"] not in named][:KEV_OTHERS]
    catalogue["vulnerabilities"] = sorted(kept, key=entries.index)
    catalogue["count"] = len(kept)
    target = TARGET / "kev/known_exploited_vulnerabilities.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(catalogue, indent=2, ensure_ascii=False) + "\n")
    copy(source, "kev/known_exploited_vulnerabilities_schema.json")


def cisa_manifest(source: Path) -> None:
    manifest = json.loads((source / "csaf/real/cisa/manifest.json").read_text())
    manifest["files"] = [f for f in manifest["files"] if f["file"] in CISA_ADVISORIES]
    target = TARGET / "csaf/real/cisa/manifest.json"
    target.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def spdx_files(source: Path) -> list[str]:
    kept = []
    for path in sorted((source / "sbom/spdx").rglob("*")):
        if not path.is_file():
            continue
        spdx3 = "spdx3" in str(path.relative_to(source / "sbom/spdx"))
        if not spdx3 or path.name in SPDX3_KEPT:
            kept.append(str(path.relative_to(source)))
    return kept


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "data").resolve()
    if not source.is_dir():
        sys.exit(f"error: {source} is not a directory (the larger data set)")
    for folder in ("osv", "sbom", "sbom-conformance", "csaf", "csaf-conformance", "oscal", "kev"):
        for path in (TARGET / folder).rglob("*"):
            if path.is_file() and str(path.relative_to(TARGET)) not in READMES:
                path.unlink()
    kev = exploited(source)
    files = ["osv/go/LICENSE", "osv/go/NOTICES", "osv/pypi/LICENSE", *go_slice(source, kev),
             *pypi_slice(source, kev), *(f"sbom/cyclonedx/{p}" for p in CYCLONEDX), *spdx_files(source),
             "sbom-conformance/cyclonedx/1.4", "sbom-conformance/cyclonedx/1.5",
             "sbom-conformance/cyclonedx/1.6", "sbom-conformance/cyclonedx/1.7",
             "sbom-conformance/cyclonedx/manifest.json", "csaf-conformance", "csaf/LICENSE-OASIS.md",
             "csaf/examples/csaf", *(f"csaf/real/cisa/{n}" for n in CISA_ADVISORIES),
             "oscal/LICENSE-NIST.md", "oscal/schema"]
    for relative in files:
        copy(source, relative)
    cisa_manifest(source)
    kev_slice(source)
    total = sum(p.stat().st_size for p in TARGET.rglob("*") if p.is_file())
    count = sum(1 for p in TARGET.rglob("*") if p.is_file())
    print(f"{count} files, {total / 1e6:.2f} MB in {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
