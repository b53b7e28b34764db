"""CycloneDX: the spec's own conformance files and the real bom-examples."""

from __future__ import annotations

import json

import pytest

from prodsec.formats import FormatError, UnsupportedVersion, cyclonedx
from tests.realdata import DATA, SHARED, extended

CONFORMANCE = DATA / "sbom-conformance" / "cyclonedx"
EXAMPLES = DATA / "sbom" / "cyclonedx"
ROWS = json.loads((CONFORMANCE / "manifest.json").read_text())["files"]


def test_every_conformance_file_gets_the_expected_verdict() -> None:
    wrong = []
    for row in ROWS:
        path = CONFORMANCE / row["path"]
        report = cyclonedx.validate(path.read_bytes(), str(path))
        if report.valid != (row["expected"] == "valid"):
            wrong.append((row["path"], report.issues[:1]))
    assert wrong == []
    assert len(ROWS) == 179


def test_signed_boms_are_accepted() -> None:
    for name in ("1.4/valid-signatures-1.4.json", "1.6/valid-signatures-1.6.json"):
        path = CONFORMANCE / name
        if path.exists():
            assert cyclonedx.validate(path.read_bytes(), name).valid


EXAMPLE_FILES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".json", ".xml"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_real_examples_are_valid_and_parse(path) -> None:
    _assert_valid_and_parses(path)


def _assert_valid_and_parses(path) -> None:
    data = path.read_bytes()
    assert cyclonedx.validate(data, str(path)).valid
    sbom = cyclonedx.parse(data, str(path))
    assert all(c.ref for c in sbom.components)


@extended
def test_the_larger_sets_sboms_are_valid_and_parse() -> None:
    """The real SBOMs the shipped slice leaves out (Maven and npm, up to 0.8 MB); keycloak
    (2.2 MB, valid, ~2.3 s of schema validation) stays out."""
    folder = SHARED / "sbom" / "cyclonedx"
    paths = [p for p in folder.rglob("*") if p.suffix in (".json", ".xml")
             and not (EXAMPLES / p.relative_to(folder)).exists() and p.stat().st_size < 1_000_000]
    assert len(paths) >= 2
    for path in paths:
        _assert_valid_and_parses(path)


def test_json_and_xml_of_the_same_bom_agree() -> None:
    folder = EXAMPLES / "SBOM" / "laravel-7.12.0"
    from_json = cyclonedx.parse((folder / "bom.1.4.json").read_bytes(), "json")
    from_xml = cyclonedx.parse((folder / "bom.1.4.xml").read_bytes(), "xml")
    assert [c.purl for c in from_json.components] == [c.purl for c in from_xml.components]
    assert set(from_json.dependencies) == set(from_xml.dependencies)
    assert len(from_json.dependencies) == 113


def test_components_carry_purl_hashes_licences_and_edges() -> None:
    path = EXAMPLES / "SBOM" / "proton-bridge" / "proton-bridge-v1.6.3.bom.json"
    sbom = cyclonedx.parse(path.read_bytes(), str(path))
    assert len(sbom.components) == 201
    first = sbom.components[0]
    assert first.purl and first.purl.startswith("pkg:golang/")
    assert first.hashes and first.ref == first.purl
    assert len(sbom.dependencies) == 232


def test_unknown_spec_version_is_refused() -> None:
    with pytest.raises(UnsupportedVersion, match=r"specVersion.*1\.9"):
        cyclonedx.validate(b'{"bomFormat": "CycloneDX", "specVersion": "1.9"}', "x.json")


def test_not_cyclonedx_is_refused() -> None:
    with pytest.raises(FormatError, match="bomFormat"):
        cyclonedx.parse(b'{"spdxVersion": "SPDX-2.3"}', "x.json")


def test_xml_entities_are_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaa">]><bom>&a;</bom>'
    with pytest.raises(FormatError, match="DTD"):
        cyclonedx.parse(bomb, "bomb.xml")


def test_deep_nesting_is_refused() -> None:
    deep = b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    with pytest.raises(FormatError, match="nested"):
        cyclonedx.validate(deep, "deep.json")


def test_deeply_nested_xml_components_are_refused() -> None:
    """3 000 nested components made the component walk raise RecursionError (and lxml's
    validator an XMLSyntaxError): both are now one SbomFormatError."""
    from prodsec.errors import SbomFormatError

    ns = "http://cyclonedx.org/schema/bom/1.5"
    deep = (f'<bom xmlns="{ns}" version="1"><components>'
            + '<component type="library"><name>a</name><components>' * 3000
            + "</components></component>" * 3000 + "</components></bom>").encode()
    for read in (cyclonedx.parse, cyclonedx.validate):
        with pytest.raises(SbomFormatError, match="nested deeper than 200 levels"):
            read(deep, "deep.xml")
