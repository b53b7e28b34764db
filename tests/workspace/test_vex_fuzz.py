"""Fuzzing the VEX import parsers (CycloneDX VEX, OpenVEX, CSAF VEX): random bytes, random JSON,
documents of the right kind with random values anywhere, and real VEX documents with one value
replaced must give statements of the right types or an ``InputError`` — never another exception.

``parse_vex`` is the database-free half of the import, so no database is needed.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodsec.errors import InputError
from prodsec.formats.vex import check_openvex, parse_vex
from tests.realdata import DATA

SEEDS = [DATA / "sbom" / "cyclonedx" / "VEX" / "vex.json",
         DATA / "csaf" / "examples" / "csaf" / "csaf_vex" / "sec-vex-2022-0001.json"]
OPENVEX = {
    "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1",
    "author": "Supplier", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
    "statements": [
        {"vulnerability": {"name": "CVE-2024-0001"}, "status": "not_affected",
         "justification": "vulnerable_code_not_present",
         "products": [{"@id": "pkg:pypi/django@4.2.0", "identifiers": {"purl": "pkg:pypi/django@4.2.0"}}]},
        {"vulnerability": {"name": "CVE-2024-0002"}, "status": "affected",
         "action_statement": "upgrade", "products": [{"@id": "pkg:golang/example.com/m@v1.0.0"}]},
    ],
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
    | st.sampled_from(["pkg:pypi/x@1", "not_affected", "affected", "fixed", "known_affected",
                       "CVE-2024-1", "code_not_present", "update"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10) | st.sampled_from(
        ["product_id", "purl", "ref", "state", "name", "status", "products", "label"]),
        children, max_size=4),
    max_leaves=16,
)
openvex_like = st.fixed_dictionaries(
    {"@context": st.just("https://openvex.dev/ns/v0.2.0")},
    optional={"@id": json_values, "author": json_values, "timestamp": json_values,
              "version": json_values, "statements": json_values | st.lists(st.fixed_dictionaries(
                  {}, optional={"vulnerability": json_values | st.fixed_dictionaries({"name": json_values}),
                                "status": json_values, "products": json_values,
                                "justification": json_values, "impact_statement": json_values,
                                "action_statement": json_values}), max_size=3)})
cyclonedx_like = st.fixed_dictionaries(
    {"bomFormat": st.just("CycloneDX")},
    optional={"components": json_values, "vulnerabilities": json_values | st.lists(
        st.fixed_dictionaries({}, optional={
            "id": json_values, "analysis": json_values | st.fixed_dictionaries(
                {}, optional={"state": json_values, "justification": json_values,
                              "response": json_values, "detail": json_values}),
            "affects": json_values}), max_size=3)})
csaf_like = st.fixed_dictionaries(
    {"document": st.fixed_dictionaries({"csaf_version": json_values})},
    optional={"product_tree": json_values, "vulnerabilities": json_values | st.lists(
        st.fixed_dictionaries({}, optional={
            "cve": json_values, "ids": json_values, "flags": json_values,
            "product_status": json_values | st.dictionaries(
                st.sampled_from(["known_affected", "known_not_affected", "fixed", "other"]),
                json_values, max_size=3)}), max_size=3)})


def _parse_or_refuse(data: bytes) -> None:
    """parse_vex gives well-typed statements or an InputError; anything else fails the test."""
    try:
        statements = parse_vex(data, "fuzz.json")
    except InputError:
        return
    for s in statements:
        assert isinstance(s.vulnerability, str) and isinstance(s.state, str)
        assert isinstance(s.detail, str) and isinstance(s.where, str)
        assert all(v is None or isinstance(v, str)
                   for v in (s.product, s.component, s.justification, s.problem))
        assert isinstance(s.responses, list) and all(isinstance(r, str) for r in s.responses)
        assert all(isinstance(a, str) for a in s.aliases)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_random_input_raises_only_input_errors(data: bytes) -> None:
    _parse_or_refuse(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(openvex_like, cyclonedx_like, csaf_like))
def test_garbled_vex_documents_raise_only_input_errors(doc: dict[str, Any]) -> None:
    _parse_or_refuse(json.dumps(doc).encode())


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_openvex_checker_never_raises(value: Any) -> None:
    assert isinstance(check_openvex(value), list)
    assert isinstance(check_openvex({**OPENVEX, "statements": [value]}), list)
    assert isinstance(check_openvex({**OPENVEX, "statements": value}), list)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _seeds() -> list[dict[str, Any]]:
    docs = [copy.deepcopy(OPENVEX)]
    docs += [json.loads(p.read_text()) for p in SEEDS if p.is_file()]
    return docs


SEED_DOCS = _seeds()


def test_seed_documents_parse() -> None:
    for doc in SEED_DOCS:
        statements = parse_vex(json.dumps(doc).encode(), "seed.json")
        assert statements, doc.get("bomFormat") or doc.get("@context") or doc.get("document")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_real_vex_with_one_value_replaced_raises_only_input_errors(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(SEED_DOCS)))
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    replacement = data.draw(json_values)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = replacement
    _parse_or_refuse(json.dumps(doc).encode())


@pytest.mark.parametrize("doc", [
    {"bomFormat": "CycloneDX", "components": [{"bom-ref": ["x"]}],
     "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "exploitable"}, "affects": [{"ref": ["x"]}]}]},
    {"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": 3}}]},
    {"document": {"csaf_version": "2.0"}, "product_tree": {"product_id": ["x"]}},
    {"document": {"csaf_version": "2.0"}, "vulnerabilities": [{"cve": "CVE-1", "flags": [{"label": [],
                                                                                          "product_ids": ["p"]}],
                                                              "product_status": {"known_affected": 5}}]},
    {**OPENVEX, "statements": [{**OPENVEX["statements"][0], "products": ["pkg:pypi/x@1"]}]},
])
def test_known_crashers_are_input_errors(doc: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        parse_vex(json.dumps(doc).encode(), "bad.json")


@pytest.mark.parametrize(("change", "reason"), [
    ({"justification": ["x"]}, "/statements/0/justification: ['x'] is not an OpenVEX"),
    ({"status": "maybe"}, "/statements/0/status: 'maybe' is not an OpenVEX status"),
    ({"justification": None}, "not_affected needs a justification or impact_statement"),
])
def test_a_statement_breaking_the_rules_is_kept_with_its_problem(change: dict[str, Any],
                                                                  reason: str) -> None:
    """Vocabulary breaks are the statement's, not the document's: the importer refuses that
    statement alone (a type error anywhere still refuses the document)."""
    doc = {**OPENVEX, "statements": [{**OPENVEX["statements"][0], **change},
                                     OPENVEX["statements"][1]]}
    first, second = parse_vex(json.dumps(doc).encode(), "supplier.json")
    assert first.problem is not None and reason in first.problem
    assert second.problem is None and second.state == "exploitable"
