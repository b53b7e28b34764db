"""Findings on real SBOMs against the real Go and PyPI databases, checked against the advisories'
own ranges and enumerated versions."""

from __future__ import annotations

import json

import semver
from packaging.version import Version

from prodsec.core.sbom import Component, Sbom
from prodsec.formats import cyclonedx, osv
from prodsec.formats.purl import package_key
from prodsec.vuln import scan
from tests.realdata import DATA, extended

PROTON = DATA / "sbom" / "cyclonedx" / "SBOM" / "proton-bridge"


def test_databases_load_without_failures(go_db, pypi_db) -> None:
    _assert_loaded(go_db, pypi_db, go=294, pypi=337)


@extended
def test_full_databases_load_without_failures(full_go_db, full_pypi_db) -> None:
    _assert_loaded(full_go_db, full_pypi_db, go=4291, pypi=2661)


def _assert_loaded(go_db, pypi_db, go: int, pypi: int) -> None:
    assert go_db.failures == () and pypi_db.failures == ()
    assert pypi_db.withdrawn == 10
    assert len(go_db.advisories) + go_db.withdrawn == go
    assert len(pypi_db.advisories) + pypi_db.withdrawn == pypi
    ids = {a.id for a in pypi_db.advisories}
    assert all(i.startswith("PYSEC-") for i in ids)


def _raw_go_affected(module: str, version: str) -> set[str]:
    """An independent reading of the Go JSON files: introduced/fixed pairs as listed, semver."""
    hits = set()
    v = semver.Version.parse(version.removeprefix("v"))
    for path in (DATA / "osv" / "go" / "osv").glob("GO-*.json"):
        doc = json.loads(path.read_text())
        if doc.get("withdrawn"):
            continue
        for aff in doc.get("affected", []):
            if aff["package"]["name"] != module:
                continue
            for rng in aff.get("ranges", []):
                lo, open_ = None, False  # "0" means before every version, pseudo-versions included
                for event in rng["events"]:
                    if "introduced" in event:
                        lo = None if event["introduced"] == "0" else semver.Version.parse(event["introduced"])
                        open_ = True
                    elif "fixed" in event and open_:
                        if (lo is None or lo <= v) and v < semver.Version.parse(event["fixed"]):
                            hits.add(doc["id"])
                        open_ = False
                if open_ and (lo is None or lo <= v):
                    hits.add(doc["id"])
    return hits


def test_go_sbom_findings_match_the_advisories_ranges(index) -> None:
    path = PROTON / "proton-bridge-v1.6.3.bom.json"
    sbom = cyclonedx.parse(path.read_bytes(), str(path))
    findings = scan(sbom, index)
    assert findings
    by_component: dict[str, set[str]] = {}
    for f in findings:
        by_component.setdefault(f.component, set()).add(f.vulnerability)
    checked = 0
    for component in sbom.components:
        key = package_key(component.purl or "")
        if key is None or key[1] not in {n for _, n in index.packages()}:
            continue
        assert by_component.get(component.purl or "", set()) == _raw_go_affected(key[1], key[2]), component.purl
        checked += 1
    assert checked >= 20


def test_findings_carry_aliases_and_fixed_versions(index) -> None:
    path = PROTON / "proton-bridge-v1.8.0.bom.json"
    findings = scan(cyclonedx.parse(path.read_bytes(), str(path)), index)
    gin = [f for f in findings if f.vulnerability == "GO-2020-0001"]
    assert gin and gin[0].fixed == ("1.6.0",) and "CVE-2020-36567" in gin[0].aliases
    assert set(gin[0].to_dict()) >= {"component", "vulnerability", "aliases", "fixed"}


def test_every_enumerated_pypi_version_is_found(index, pypi_db) -> None:
    """PyPA lists affected versions explicitly: each must produce a finding (purls not normalised)."""
    missing = []
    for advisory in pypi_db.advisories[:800]:
        for aff in advisory.affected:
            for version in aff.versions[:5]:
                purl = f"pkg:pypi/{aff.name.upper()}@{version}"
                hits = scan(Sbom("test", "0", (Component("c", aff.name, version, purl),)), index)
                if advisory.id not in {f.vulnerability for f in hits}:
                    missing.append((advisory.id, version))
    assert missing == []


def test_fixed_pypi_versions_are_not_findings(index, pypi_db) -> None:
    wrong = []
    for advisory in pypi_db.advisories[:800]:
        for aff in advisory.affected:
            for fixed in aff.fixed:
                if fixed in aff.versions or not _pep440(fixed):
                    continue
                hits = index.lookup("PyPI", aff.name, fixed)
                if any(e.advisory.id == advisory.id and fixed not in e.versions for e in hits):
                    # still affected only when another range of the advisory covers it
                    wrong.append((advisory.id, fixed))
    assert len(wrong) <= 5, wrong


def _pep440(text: str) -> bool:
    try:
        Version(text)
    except ValueError:
        return False
    return True


def test_bad_advisory_file_is_reported_and_skipped(tmp_path) -> None:
    good = DATA / "osv" / "go" / "osv" / "GO-2020-0001.json"
    (tmp_path / "GO-2020-0001.json").write_bytes(good.read_bytes())
    (tmp_path / "broken.json").write_text("{ not json")
    (tmp_path / "wrong.yaml").write_text("id: X\naffected: 3\n")
    result = osv.load(tmp_path)
    assert [a.id for a in result.advisories] == ["GO-2020-0001"]
    assert len(result.failures) == 2
    assert any("line 1" in f.message for f in result.failures)


def test_zip_is_read(tmp_path) -> None:
    import zipfile

    target = tmp_path / "db.zip"
    with zipfile.ZipFile(target, "w") as archive:
        archive.write(DATA / "osv" / "go" / "osv" / "GO-2020-0001.json", "GO-2020-0001.json")
    assert [a.id for a in osv.load(target).advisories] == ["GO-2020-0001"]
