"""BSI TR-03183-2 v2.1.0 on SPDX 3.0.1: the places the TR's tables 8-12 name, and what is only
inferred from elsewhere (purposes on the package, ``software_primaryPurpose``, a supplier).

The document is built here, field by field after the TR's SPDX column: one package, its
distribution file (``hasDistributionArtifact``), its source artifact (``generates``), its
licences; it conforms, so each change below must give exactly one finding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from prodsec.vuln import bsi

NS = "https://example.org/spdx/"
PKG, FILE, SRC, MAKER = NS + "pkg", NS + "file", NS + "src", NS + "maker"


def _rel(kind: str, source: str, *targets: str, **extra: str) -> dict[str, Any]:
    return {"type": "Relationship", "spdxId": f"{NS}rel-{kind}-{source[-3:]}",
            "relationshipType": kind, "from": source, "to": list(targets),
            "completeness": "complete", **extra}


def _doc() -> dict[str, Any]:
    sha512 = {"type": "Hash", "algorithm": "sha512", "hashValue": "ab" * 64}
    return {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": [
        {"@id": "_:ci", "type": "CreationInfo", "specVersion": "3.0.1",
         "created": "2026-12-01T10:00:00Z", "createdBy": [MAKER]},
        {"spdxId": MAKER, "type": "Organization", "name": "Acme",
         "externalIdentifier": [{"type": "ExternalIdentifier", "externalIdentifierType": "email",
                                 "identifier": "sbom@acme.example"}]},
        {"spdxId": NS + "sbom", "type": "software_Sbom", "rootElement": [PKG]},
        {"spdxId": PKG, "type": "software_Package", "name": "router-fw",
         "software_packageVersion": "2.0.0", "originatedBy": [MAKER],
         "externalIdentifier": [{"type": "ExternalIdentifier", "externalIdentifierType": "packageUrl",
                                 "identifier": "pkg:generic/acme/router-fw@2.0.0"}]},
        {"spdxId": FILE, "type": "software_File", "name": "router-fw-2.0.0.bin",
         "verifiedUsing": [sha512], "software_additionalPurpose": ["executable", "firmware"],
         "externalRef": [{"type": "ExternalRef", "externalRefType": "binaryArtifact",
                          "locator": ["https://dl.acme.example/router-fw-2.0.0.bin"]}]},
        {"spdxId": SRC, "type": "software_SoftwareArtifact", "software_primaryPurpose": "source",
         "externalRef": [{"type": "ExternalRef", "externalRefType": "sourceArtifact",
                          "locator": ["https://git.acme.example/fw@v2.0.0"]}]},
        {"spdxId": NS + "lic", "type": "simplelicensing_LicenseExpression",
         "simplelicensing_licenseExpression": "GPL-2.0-only"},
        _rel("hasDistributionArtifact", PKG, FILE), _rel("generates", SRC, PKG),
        _rel("dependsOn", PKG), _rel("hasConcludedLicense", PKG, NS + "lic"),
        _rel("hasDeclaredLicense", PKG, NS + "lic"),
    ]}


def _element(doc: dict[str, Any], spdx_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in doc["@graph"] if e.get("spdxId") == spdx_id)
    return found


def _findings(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    report = bsi.check(doc)
    return {f["field"]: f for f in report["document"] + report["components"][0]["findings"]}


def _not_present(doc: dict[str, Any]) -> dict[str, str]:
    """Every field of the SBOM or the package that is not 'present' (optional ones aside)."""
    return {k: f["status"] for k, f in _findings(doc).items()
            if f["status"] != "present" and f["level"] != "optional"}


def test_the_document_built_after_the_tables_conforms() -> None:
    doc = _doc()
    report = bsi.check(doc)
    assert report["conforms"], _not_present(doc)
    found = _findings(doc)
    assert found["structured"]["message"] == "unstructured"  # 'firmware' in the file's purposes
    assert found["archive"]["message"] == "no archive"  # not in the purposes: the TR's encoding
    assert found["source-code-uri"]["message"] == "https://git.acme.example/fw@v2.0.0"
    assert _not_present(doc) == {}


def _purposes_on_package(doc: dict[str, Any]) -> None:
    """No distribution file: the hash and the purposes sit on the package itself."""
    file = _element(doc, FILE)
    doc["@graph"] = [e for e in doc["@graph"] if e.get("spdxId") not in (FILE,)
                     and e.get("relationshipType") != "hasDistributionArtifact"]
    _element(doc, PKG).update(verifiedUsing=file["verifiedUsing"],
                              software_additionalPurpose=file["software_additionalPurpose"])


def test_purposes_and_hash_on_the_package_are_inferred_and_the_filename_missing() -> None:
    doc = _doc()
    _purposes_on_package(doc)
    assert _not_present(doc) == {"filename": "missing", "deployable-uri": "missing",
                                 "deployable-hash": "inferred",
                                 "executable": "inferred", "archive": "inferred",
                                 "structured": "inferred"}
    found = _findings(doc)
    assert found["executable"]["message"].startswith("inferred from the package itself")
    assert not bsi.check(doc)["conforms"]


#: required field → a change that leaves it only inferable (SPDX 3's other places).
INFERENCES: dict[str, Callable[[dict[str, Any]], None]] = {
    "executable": lambda d: _element(d, FILE).update(
        software_primaryPurpose="executable", software_additionalPurpose=["firmware"]),
    "archive": lambda d: _element(d, FILE).update(
        software_primaryPurpose="archive", software_additionalPurpose=["executable", "firmware"]),
    "structured": lambda d: _element(d, FILE).update(
        software_primaryPurpose="firmware", software_additionalPurpose=["executable"]),
    "component-creator": lambda d: _element(d, PKG).update(originatedBy=[], suppliedBy=[MAKER]),
    "dependencies": lambda d: next(e for e in d["@graph"] if e.get("relationshipType") == "dependsOn")
    .update(relationshipType="hasStaticLink"),
}


@pytest.mark.parametrize("field_id", list(INFERENCES))
def test_a_value_outside_the_tables_is_inferred_not_present(field_id: str) -> None:
    doc = _doc()
    INFERENCES[field_id](doc)
    assert _not_present(doc) == {field_id: "inferred"}
    assert not bsi.check(doc)["conforms"]
    assert _findings(doc)[field_id]["inferred_from"]


def test_a_file_without_container_or_firmware_does_not_state_structured() -> None:
    """Table 9: 'container' means structured, 'firmware' unstructured; neither states nothing
    (the old reading took silence for 'structured')."""
    doc = _doc()
    _element(doc, FILE)["software_additionalPurpose"] = ["executable"]
    assert _not_present(doc) == {"structured": "missing"}


def test_dependencies_without_completeness_are_wrong_form() -> None:
    """TR 5.2.2: the completeness of the list must be indicated (the relationship's
    ``completeness``, table 9)."""
    doc = _doc()
    next(e for e in doc["@graph"] if e.get("relationshipType") == "dependsOn").pop("completeness")
    assert _not_present(doc) == {"dependencies": "wrong form"}
    assert "completeness is not indicated" in _findings(doc)["dependencies"]["message"]


def test_an_effective_licence_is_read_from_the_tables_other_relationship() -> None:
    doc = _doc()
    doc["@graph"].append(_rel("other", PKG, NS + "lic", comment="hasEffectiveLicense"))
    assert _findings(doc)["effective-licence"]["message"] == "GPL-2.0-only"


def test_an_sbom_creator_only_in_an_external_ref_is_inferred() -> None:
    doc = _doc()
    maker = _element(doc, MAKER)
    maker["externalRef"] = [{"type": "ExternalRef", "externalRefType": "other",
                             "locator": ["https://acme.example"]}]
    maker.pop("externalIdentifier")
    found = _findings(doc)
    assert found["sbom-creator"]["status"] == "inferred"
    assert found["component-creator"]["status"] == "inferred"
