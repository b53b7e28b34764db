"""BSI TR-03183-2 v2.1.0: the field table, and the check on a real SBOM made conformant.

``tests/data/bsi/lhc-vdm-editor.bsi.cdx.json`` is derived from a real CycloneDX SBOM (see the
folder's README): it conforms, so taking one field away must give exactly that one finding.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prodsec.vuln import bsi

DATA = Path(__file__).parents[1] / "data"
CONFORMING = DATA / "bsi" / "lhc-vdm-editor.bsi.cdx.json"
SNAPSHOT = Path(__file__).parent / "snapshots" / "bsi--lhc-vdm-editor.json"
PUPPETEER = "pkg:npm/puppeteer@1.19.0"
SPDX3 = DATA / "spdx3" / "software" / "example11" / "spdx3.0" / "sbom.spdx3.json"


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(CONFORMING.read_text())
    return doc


def _breaking(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(subject, field, status) of every finding that is not 'present' on a required field
    (missing or only inferred), or in the wrong form anywhere."""
    found = [("sbom", d["field"], d["status"]) for d in report["document"]
             if d["status"] != "present" and (d["level"] == "required" or d["status"] == "wrong form")]
    for c in report["components"]:
        found += [(c["ref"], f["field"], f["status"]) for f in c["findings"]
                  if f["status"] == "wrong form"
                  or (f["status"] != "present" and f["level"] == "required")]
    return found


def _props(c: dict[str, Any], name: str) -> None:
    c["properties"] = [p for p in c["properties"] if p["name"] != f"bsi:component:{name}"]


def _refs(c: dict[str, Any], kind: str) -> None:
    c["externalReferences"] = [r for r in c["externalReferences"] if r["type"] != kind]


def _drop_hash(c: dict[str, Any]) -> None:
    for ref in c["externalReferences"]:
        ref.pop("hashes", None)


#: field id → how to take it away from the first component (the document for SBOM fields).
REMOVALS: dict[str, Callable[[dict[str, Any]], None]] = {
    "sbom-creator": lambda d: d["metadata"].pop("manufacturer"),
    "timestamp": lambda d: d["metadata"].pop("timestamp"),
    "component-creator": lambda d: d["components"][0].pop("manufacturer"),
    "component-name": lambda d: d["components"][0].update(name=""),
    "component-version": lambda d: d["components"][0].pop("version"),
    "filename": lambda d: _props(d["components"][0], "filename"),
    "dependencies": lambda d: d.update(dependencies=[x for x in d["dependencies"]
                                                     if x["ref"] != "pkg:npm/puppeteer@1.19.0"]),
    "distribution-licences": lambda d: d["components"][0].update(
        licenses=[x for x in d["components"][0]["licenses"]
                  if x["license"]["acknowledgement"] != "concluded"]),
    "deployable-hash": lambda d: _drop_hash(d["components"][0]),
    "executable": lambda d: _props(d["components"][0], "executable"),
    "archive": lambda d: _props(d["components"][0], "archive"),
    "structured": lambda d: _props(d["components"][0], "structured"),
}


def test_the_table_lists_every_field_with_clause_level_and_mappings() -> None:
    table = bsi.fields()
    assert {f.level for f in table} == {"required", "additional", "optional"}
    assert [f.id for f in table if f.level == "required"] == list(REMOVALS)
    for f in table:
        assert f.clause.startswith("5.2."), f.id
        assert all(f.mapping[k] for k in ("cyclonedx", "spdx3", "spdx2")), f.id
    assert {f.clause for f in table if f.level == "required"} == {"5.2.1", "5.2.2"}
    assert bsi.guideline()["version"] == "2.1.0"


def test_every_verified_row_names_the_text_it_was_checked_in() -> None:
    """A row is ``verified`` only with a ``source`` in the TR v2.1.0 (clause, table)."""
    rows = bsi.guideline()["fields"]
    for row in rows:
        assert not row["verified"] or row["source"].startswith("TR v2.1.0 " + row["clause"]), row["id"]
    assert bsi.guideline()["format"]["source"] == "TR v2.1.0 section 4"


def test_the_derived_sbom_conforms() -> None:
    report = bsi.check(_doc())
    assert report["conforms"], _breaking(report)
    assert report["summary"] == "conforms to BSI TR-03183-2 v2.1.0"
    assert "CRA Annex I Part II (1)" in report["evidence"]
    assert [c["name"] for c in report["components"]] == ["puppeteer", "debug", "concat-stream"]


@pytest.mark.parametrize("field_id", list(REMOVALS))
def test_each_required_field_taken_away_is_exactly_one_finding(field_id: str) -> None:
    doc = _doc()
    REMOVALS[field_id](doc)
    report = bsi.check(doc)
    subject = "sbom" if field_id in ("sbom-creator", "timestamp") else PUPPETEER
    assert _breaking(report) == [(subject, field_id, "missing")]
    assert not report["conforms"]
    assert report["summary"].startswith("does not conform to BSI TR-03183-2 v2.1.0")
    finding = next(f for f in (report["document"] if subject == "sbom"
                               else report["components"][0]["findings"])
                   if f["field"] == field_id)
    assert finding["clause"] == ("5.2.1" if subject == "sbom" else "5.2.2")


def _set_prop(name: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        for p in d["components"][0]["properties"]:
            if p["name"] == f"bsi:component:{name}":
                p["value"] = value
    return change


def _sha256(d: dict[str, Any]) -> None:
    d["components"][0]["externalReferences"][0]["hashes"] = [
        {"alg": "SHA-256", "content": "a" * 64}]


WRONG_FORMS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "filename": (_set_prop("filename", "node_modules/puppeteer-1.19.0.tgz"), "is a path"),
    "executable": (_set_prop("executable", "yes"), "is not one of"),
    "deployable-hash": (_sha256, "the TR asks for SHA-512"),
    "component-creator": (lambda d: d["components"][0].update(
        manufacturer={"name": "Google", "url": ["not a url"]}), "neither an email"),
    "timestamp": (lambda d: d["metadata"].update(timestamp="03.08.2020"), "RFC 3339"),
    "distribution-licences": (lambda d: d["components"][0]["licenses"][0].update(
        license={"name": "Apache License", "acknowledgement": "concluded"}), "SPDX identifier"),
    "sbom-creator": (lambda d: d["metadata"].update(manufacturer={"name": "CERN", "url": ["cern"]}),
                     "neither an email"),
    "archive": (_set_prop("archive", "zip"), "is not one of"),
    "dependencies": (lambda d: d["compositions"][0]["dependencies"].remove(PUPPETEER),
                     "completeness is not indicated"),
    "structured": (_set_prop("structured", "maybe"), "is not one of"),
}
#: Required fields whose form cannot be wrong: any text (name, version).
FREE_FORM = {"component-name": "text", "component-version": "text"}


def test_every_required_field_has_a_wrong_form_case_or_has_none() -> None:
    assert set(WRONG_FORMS) | set(FREE_FORM) == set(REMOVALS)
    assert {f.id: f.form for f in bsi.fields() if f.id in FREE_FORM} == FREE_FORM


@pytest.mark.parametrize("field_id", list(WRONG_FORMS))
def test_a_value_in_the_wrong_form_is_named(field_id: str) -> None:
    doc = _doc()
    change, words = WRONG_FORMS[field_id]
    change(doc)
    report = bsi.check(doc)
    subject = "sbom" if field_id in ("timestamp", "sbom-creator") else PUPPETEER
    assert _breaking(report) == [(subject, field_id, "wrong form")]
    found = [f for f in report["document"] + report["components"][0]["findings"]
             if f["field"] == field_id]
    assert words in found[0]["message"]


def test_the_real_sbom_it_comes_from_is_read_with_inferences_named() -> None:
    """The real SBOM the test file comes from: SHA-512 on the component (inferred: the TR
    wants it on the distribution reference), licences without 'concluded'/'declared' (wrong
    form), CycloneDX 1.2 (refused by clause 4) — none reported as merely missing or present."""
    doc = json.loads((DATA / "sbom/cyclonedx/SBOM/cern-lhc-vdm-editor-e564943/bom.json").read_text())
    report = bsi.check(doc)
    assert not report["format"]["ok"] and "CycloneDX 1.2" in report["format"]["message"]
    first = {f["field"]: f for f in report["components"][0]["findings"]}
    assert first["deployable-hash"]["status"] == "inferred"
    assert first["deployable-hash"]["inferred_from"][0].startswith("components[].hashes")
    assert "externalReferences[type=\"distribution\"]" in first["deployable-hash"]["message"]
    assert first["distribution-licences"]["status"] == "wrong form"
    assert first["other-identifiers"]["status"] == "present"
    totals = next(f for f in report["fields"] if f["field"] == "deployable-hash")
    # 17 components carry a SHA-512 (inferred), 26 only a SHA-1 (wrong form); none present.
    assert (totals["present"], totals["inferred"], totals["wrong_form"]) == (0, 17, 26)


def test_an_additional_field_missing_is_listed_but_does_not_decide() -> None:
    doc = _doc()
    _refs(doc["components"][0], "source-distribution")
    report = bsi.check(doc)
    assert report["conforms"]
    found = next(f for f in report["components"][0]["findings"] if f["field"] == "source-code-uri")
    assert (found["status"], found["clause"], found["level"]) == ("missing", "5.2.4", "additional")
    assert "required if the information exists" in found["message"]


def test_a_real_spdx3_document_is_checked_with_spdx3_locations() -> None:
    report = bsi.check(json.loads(SPDX3.read_text()))
    assert report["format"] == {"clause": "4", "format": "SPDX", "spec_version": "3.0.1",
                                "ok": True, "message": "SPDX 3.0.1 is allowed"}
    assert len(report["components"]) == 4  # the software_Package elements
    licences = next(f for f in report["fields"] if f["field"] == "distribution-licences")
    assert licences["present"] == 4
    stamp = next(d for d in report["document"] if d["field"] == "timestamp")
    assert stamp["status"] == "present"
    creator = next(f for f in report["components"][0]["findings"]
                   if f["field"] == "component-creator")
    assert creator["status"] == "missing" and "SPDX 3: software_Package.originatedBy" in creator["message"]


def test_the_report_matches_its_golden_file() -> None:
    doc = _doc()
    _props(doc["components"][1], "archive")  # one finding, so the file shows one
    for ref in doc["components"][2]["externalReferences"]:  # and one inferred value
        ref["type"] = "vcs" if ref["type"] == "source-distribution" else ref["type"]
    report = json.dumps(bsi.check(doc), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("PRODSEC_REGEN_SNAPSHOTS"):
        SNAPSHOT.write_text(report)
    assert report == SNAPSHOT.read_text()


def test_spdx2_is_refused_by_clause_4_but_its_fields_are_read() -> None:
    doc = json.loads((DATA / "sbom/spdx/spec-examples-2.3/SPDXJSONExample-v2.3.spdx.json").read_text())
    report = bsi.check(doc)
    assert report["format"]["ok"] is False
    assert copy.deepcopy(report["document"])[1]["status"] == "present"  # creationInfo.created


def _nest_first(d: dict[str, Any]) -> None:
    """puppeteer moved inside debug, its own dependencies entry dropped."""
    first = d["components"].pop(0)
    d["components"][0]["components"] = [first]
    d["dependencies"] = [x for x in d["dependencies"] if x["ref"] != PUPPETEER]


def _hash_on_component(d: dict[str, Any]) -> None:
    first = d["components"][0]
    first["hashes"] = first["externalReferences"][0].pop("hashes")


#: required field → (how its value moves to a place the TR does not map it to, that place).
INFERENCES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "sbom-creator": (lambda d: d["metadata"].update(
        manufacturer={"name": "CERN"}, authors=[{"name": "A", "email": "a@cern.example"}]),
        "metadata.authors[].email"),
    "component-creator": (lambda d: d["components"][0].update(
        manufacturer={"name": "puppeteer"},
        supplier={"name": "Google", "contact": [{"email": "oss@google.example"}]}),
        "components[].supplier"),
    "dependencies": (_nest_first, "nested in another component"),
    "deployable-hash": (_hash_on_component, "components[].hashes"),
}
#: Required fields with no other place to infer them from in CycloneDX (the three properties
#: are inferred in SPDX only: tests/vuln/test_bsi_spdx3.py).
NO_INFERENCE = {"timestamp", "component-name", "component-version", "filename",
                "distribution-licences", "executable", "archive", "structured"}


def test_every_required_field_is_either_inferable_or_named_as_not() -> None:
    assert set(INFERENCES) | NO_INFERENCE == set(REMOVALS)
    assert not set(INFERENCES) & NO_INFERENCE


@pytest.mark.parametrize("field_id", list(INFERENCES))
def test_an_inferred_required_field_is_named_so_and_does_not_conform(field_id: str) -> None:
    """A value found only elsewhere is 'inferred' with its place, never 'present'; it does not
    fill a required field (the TR's consumers look where its mapping says)."""
    doc = _doc()
    change, source = INFERENCES[field_id]
    change(doc)
    report = bsi.check(doc)
    subject = "sbom" if field_id == "sbom-creator" else PUPPETEER
    assert _breaking(report) == [(subject, field_id, "inferred")]
    assert not report["conforms"] and "only inferred" in report["summary"]
    found = next(f for f in report["document"] + [x for c in report["components"]
                                                  for x in c["findings"] if c["ref"] == subject]
                 if f["field"] == field_id)
    assert found["inferred_from"][0].startswith(source)
    assert found["message"].startswith(f"inferred from {source}")


def test_an_inferred_value_in_the_wrong_form_is_wrong_form() -> None:
    doc = _doc()
    doc["components"][0].update(manufacturer={"name": "p"},
                                supplier={"name": "G", "url": ["not a url"]})
    report = bsi.check(doc)
    assert _breaking(report) == [(PUPPETEER, "component-creator", "wrong form")]
    found = next(f for f in report["components"][0]["findings"] if f["field"] == "component-creator")
    assert "neither an email" in found["message"] and "(inferred from components[].supplier" in found["message"]


def test_a_hash_on_the_component_that_is_not_sha512_is_wrong_form() -> None:
    doc = _doc()
    first = doc["components"][0]
    first["externalReferences"][0].pop("hashes")
    first["hashes"] = [{"alg": "MD5", "content": "0" * 32}]
    report = bsi.check(doc)
    assert _breaking(report) == [(PUPPETEER, "deployable-hash", "wrong form")]


def test_an_inferred_additional_field_is_listed_but_does_not_decide() -> None:
    doc = _doc()
    for ref in doc["components"][0]["externalReferences"]:
        if ref["type"] == "source-distribution":
            ref["type"] = "vcs"
    report = bsi.check(doc)
    assert report["conforms"], _breaking(report)
    found = next(f for f in report["components"][0]["findings"] if f["field"] == "source-code-uri")
    assert found["status"] == "inferred" and found["level"] == "additional"


@pytest.mark.parametrize("name", ["bsi:component:effectiveLicence", "bsi:component:effectiveLicense"])
def test_the_effective_licence_is_read_in_both_of_bsis_spellings(name: str) -> None:
    """The taxonomy v0.1.2 writes effectiveLicence, the TR's table 12 effectiveLicense."""
    doc = _doc()
    doc["components"][0]["properties"].append({"name": name, "value": "Apache-2.0"})
    found = next(f for f in bsi.check(doc)["components"][0]["findings"]
                 if f["field"] == "effective-licence")
    assert (found["status"], found["message"]) == ("present", "Apache-2.0")
