"""SPDX 3.0.1 JSON-LD (formats.spdx3) on the SPDX project's own examples (tests/data/spdx3),
and one refusal per kind of bad input, each naming where it is."""

from __future__ import annotations

import json

import pytest

from prodsec.errors import SbomFormatError, UnsupportedSbomVersion
from prodsec.formats import spdx, spdx3
from tests.realdata import DATA

EXAMPLES = DATA / "spdx3" / "software"
CARGO = EXAMPLES / "example11/spdx3.0/sbom.spdx3.json"
MAVEN = EXAMPLES / "example9/spdx3.0/appbomination.spdx3.json"
FILES = sorted(EXAMPLES.rglob("*.json"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_example_is_valid_and_read_through_the_spdx_entry_point(path) -> None:
    data = path.read_bytes()
    assert spdx.looks_like_spdx(data)
    report = spdx.validate(data, path.name)
    assert (report.format, report.spec_version, report.issues) == ("SPDX", "SPDX-3.0.1", ())
    assert spdx.parse(data, path.name) == spdx3.parse(data, path.name)


def test_cargo_packages_purls_versions_licences_and_edges() -> None:
    sbom = spdx3.parse(CARGO.read_bytes(), "cargo")
    by_name = {c.name: c for c in sbom.components}
    assert sorted(by_name) == ["hello-server-src", "hyper", "pretty_env_logger", "tokio"]
    assert by_name["tokio"].purl == "pkg:cargo/tokio@1.19.2"
    assert by_name["tokio"].version == "1.19.2"
    assert by_name["pretty_env_logger"].licenses == ("(MIT OR Apache-2.0)",)
    root = by_name["hello-server-src"].ref
    assert {(d.source, d.target) for d in sbom.dependencies} == {
        (root, by_name[n].ref) for n in ("hyper", "tokio", "pretty_env_logger")}
    assert sbom.subject is not None and sbom.subject.name == "hello-server-src"


def test_suppliers_come_from_the_agent_element() -> None:
    sbom = spdx3.parse(MAVEN.read_bytes(), "maven")
    by_name = {c.name: c for c in sbom.components}
    assert by_name["App-BOM-ination"].supplier == "ACT Project"
    assert by_name["slf4j-api"].purl == "pkg:maven/org.slf4j/slf4j-api@1.7.21"
    hello = spdx3.parse((EXAMPLES / "example12/spdx3.0/hello-dist.spdx3.json").read_bytes(), "h")
    assert [(c.name, c.version, c.supplier) for c in hello.components] == [
        ("hello", "0.0.1", "DocFest")]


def test_references_to_imported_elements_are_allowed() -> None:
    """example7-bin names elements of other documents, declared in the document's import."""
    sbom = spdx3.parse((EXAMPLES / "example7/spdx3.0/example7-bin.spdx3.json").read_bytes(), "b")
    assert sbom.components == () and sbom.name == "example7-bin.spdx"


def _doc(**package: object) -> dict:
    return {"@context": spdx3.CONTEXT, "@graph": [
        {"type": "CreationInfo", "@id": "_:c", "created": "2026-01-01T00:00:00Z",
         "createdBy": ["urn:agent"], "specVersion": "3.0.1"},
        {"type": "Organization", "spdxId": "urn:agent", "creationInfo": "_:c", "name": "Maker"},
        {"type": "software_Package", "spdxId": "urn:p", "creationInfo": "_:c", "name": "p",
         **package}]}


def _parse(doc: dict) -> object:
    return spdx3.parse(json.dumps(doc).encode(), "bad.spdx3.json")


def test_cpe_and_purl_external_identifiers_and_hashes() -> None:
    sbom = _parse(_doc(externalIdentifier=[
        {"type": "ExternalIdentifier", "externalIdentifierType": "cpe23",
         "identifier": "cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*"},
        {"type": "ExternalIdentifier", "externalIdentifierType": "packageUrl",
         "identifier": "pkg:generic/busybox@1.36.1"}],
        verifiedUsing=[{"type": "Hash", "algorithm": "sha256", "hashValue": "ab" * 32}],
        suppliedBy="urn:agent", software_primaryPurpose="firmware"))
    (c,) = sbom.components
    assert (c.cpe, c.purl, c.supplier, c.kind) == (
        "cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*", "pkg:generic/busybox@1.36.1", "Maker",
        "firmware")
    assert [(h.algorithm, h.value) for h in c.hashes] == [("sha256", "ab" * 32)]


def test_an_unresolvable_reference_is_refused_with_its_location() -> None:
    with pytest.raises(SbomFormatError, match=r"/@graph/2/suppliedBy: 'urn:nowhere' is not an "
                                               r"element of the graph nor imported"):
        _parse(_doc(suppliedBy="urn:nowhere"))


def test_an_unknown_property_is_refused_naming_the_element() -> None:
    with pytest.raises(SbomFormatError, match=r"/@graph/2 \(software_Package\): Unknown property 'colour'"):
        _parse(_doc(colour="red"))


def test_a_wrongly_typed_value_is_refused() -> None:
    with pytest.raises(SbomFormatError, match=r"/@graph/2 \(software_Package\)"):
        _parse(_doc(software_packageVersion=["1", "2"]))


@pytest.mark.parametrize(("context", "version"), [
    ("https://spdx.org/rdf/3.0.0/spdx-context.jsonld", "3.0.1"),
    (spdx3.CONTEXT, "3.0.0")])
def test_other_versions_are_refused_by_name(context: str, version: str) -> None:
    doc = _doc()
    doc["@context"] = context
    doc["@graph"][0]["specVersion"] = version
    with pytest.raises(UnsupportedSbomVersion, match=r"(/@context|/@graph/0/specVersion): .*3\.0\.0"):
        _parse(doc)


def test_a_graph_that_is_not_a_list_of_elements_is_refused() -> None:
    with pytest.raises(SbomFormatError, match=r"/@graph: expected a list"):
        _parse({"@context": spdx3.CONTEXT, "@graph": {}})
    with pytest.raises(SbomFormatError, match=r"/@graph/0: expected an element object"):
        _parse({"@context": spdx3.CONTEXT, "@graph": ["x"]})


def test_a_missing_required_property_is_a_validation_issue() -> None:
    doc = _doc()
    del doc["@graph"][1]["creationInfo"]
    report = spdx3.validate(json.dumps(doc).encode(), "x")
    assert [i.location for i in report.issues] == ["/@graph/1"]
    assert "creationInfo" in report.issues[0].message


def _with(extra: dict) -> bytes:
    doc = json.loads(MAVEN.read_bytes())
    doc["@graph"].append(extra)
    return json.dumps(doc).encode()


def test_a_duplicate_spdx_id_with_another_version_is_refused_naming_both() -> None:
    """Review h18r M3: the bindings kept the first of two elements silently."""
    doc = json.loads(MAVEN.read_bytes())
    i, package = next((i, e) for i, e in enumerate(doc["@graph"])
                      if e["type"] == "software_Package" and e.get("software_packageVersion"))
    j = len(doc["@graph"])
    with pytest.raises(SbomFormatError, match=rf"/@graph/{i} and /@graph/{j}: .*"
                                              "software_packageVersion"):
        spdx3.parse(_with({**package, "software_packageVersion": "9.9.9"}), "dup.json")
    assert spdx3.parse(_with(dict(package)), "same.json").components  # an exact repeat is fine


def test_a_misspelt_type_is_named_with_the_close_match() -> None:
    """Review h18r L2."""
    bad = {"spdxId": "urn:x:1", "type": "software_Pakage", "creationInfo": "_:creationInfo_0"}
    with pytest.raises(SbomFormatError, match=r"unknown type 'software_Pakage' at /@graph/\d+; "
                                              r"did you mean 'software_Package'\?"):
        spdx3.parse(_with(bad), "typo.json")
