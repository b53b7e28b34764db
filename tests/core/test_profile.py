"""Profile parsing: normalisation, defaults, and every bad-input case named by field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.profile import ProfileError, parse_profile
from prodsec.services.schemas import profile_schema_path


def _problems(kb: KnowledgeBase, raw: Any) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        parse_profile(raw, kb.vocabulary, "p.yaml")
    assert str(caught.value).startswith("p.yaml: invalid product profile")
    return [str(p) for p in caught.value.problems]


def test_member_state_implies_eu_and_uk_is_gb(kb: KnowledgeBase) -> None:
    p = parse_profile({"name": "x", "markets": ["de", "UK"]}, kb.vocabulary)
    assert p.markets == {"DE", "EU", "GB", "GB-GBN", "GB-NIR"}
    assert p.declared_markets == ("DE", "GB")


def test_function_implications(kb: KnowledgeBase) -> None:
    p = parse_profile({"name": "x", "markets": ["EU"], "functions": ["baby_monitor"]}, kb.vocabulary)
    assert {"baby_monitor", "childcare", "smart_home_security"} <= p.functions
    p = parse_profile({"name": "x", "markets": ["EU"], "functions": ["connected_toy"]}, kb.vocabulary)
    assert "toy" in p.functions


def test_defaults_and_unknowns(kb: KnowledgeBase) -> None:
    p = parse_profile({"name": "x", "markets": ["EU"]}, kb.vocabulary)
    assert p.commercial is True and p.software_only is False and p.money_transfer is False
    assert p.internet is None and p.consumer is None and p.radio is None


def test_missing_required_fields(kb: KnowledgeBase) -> None:
    assert _problems(kb, {}) == ["name: missing (required)", "markets: missing (required)"]


def test_unknown_market_suggests(kb: KnowledgeBase) -> None:
    (problem,) = _problems(kb, {"name": "x", "markets": ["XX"]})
    assert problem.startswith("markets[0]: unknown market 'XX'")


def test_unknown_function_suggests_nearest(kb: KnowledgeBase) -> None:
    (problem,) = _problems(kb, {"name": "x", "markets": ["EU"], "functions": ["rooter"]})
    assert "unknown value 'rooter'" in problem and "router" in problem


def test_unknown_field_suggests(kb: KnowledgeBase) -> None:
    (problem,) = _problems(kb, {"name": "x", "markets": ["EU"], "interent": True})
    assert problem == "interent: unknown field; did you mean internet?"


def test_wrong_types_all_reported(kb: KnowledgeBase) -> None:
    problems = _problems(kb, {"name": 3, "markets": "EU", "internet": "yes",
                              "vehicle": {"category": "Q9", "automated_driving_level": 7}})
    assert "name: expected a non-empty text, got int" in problems
    assert "markets: expected a list, got str" in problems
    assert "internet: expected true or false, got 'yes'" in problems
    assert any(p.startswith("vehicle.category: unknown vehicle category 'Q9'") for p in problems)
    assert "vehicle.automated_driving_level: expected a whole number 0-5, got 7" in problems


def test_not_a_mapping(kb: KnowledgeBase) -> None:
    assert _problems(kb, ["a"]) == ["(document): expected a mapping of fields"]


def test_round_trip(kb: KnowledgeBase) -> None:
    raw = {"name": "x", "markets": ["FI"], "internet": True, "radio": ["wifi"],
           "functions": ["router"], "vehicle": {"category": "M1", "ecus": True}}
    p = parse_profile(raw, kb.vocabulary)
    assert parse_profile(p.to_dict(), kb.vocabulary) == p


# ---- the hand-written parser and the published JSON Schema agree -----------------------------

BOOLS = ["software_only", "data_connection", "internet", "consumer", "personal_data",
         "money_transfer", "commercial", "open_source", "remote_service_only"]


def _values(kb: KnowledgeBase) -> dict[str, Any]:
    voc = kb.vocabulary
    junk = st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans())
    return {
        "name": st.one_of(st.text(min_size=1, max_size=8), junk),
        "markets": st.one_of(st.lists(st.sampled_from([*sorted(voc.countries)[:40], "EU", "UK", "XX", "de"]),
                                      max_size=3, unique=True), junk),
        "radio": st.one_of(st.lists(st.sampled_from([*sorted(voc.radio), "wlan"]), max_size=3, unique=True), junk),
        "functions": st.one_of(st.lists(st.sampled_from([*sorted(voc.functions), "rooter"]), max_size=3,
                                        unique=True), junk),
        **{b: st.one_of(st.booleans(), junk) for b in BOOLS},
        "bogus": junk,
    }


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_parser_agrees_with_json_schema(kb: KnowledgeBase, data: st.DataObject) -> None:
    import jsonschema

    schema = json.loads(profile_schema_path().read_text())
    fields = _values(kb)
    chosen = data.draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=6))
    raw = {k: data.draw(fields[k]) for k in ["name", "markets", *chosen] if k in fields}
    raw = {k: v for k, v in raw.items() if v is not None}
    schema_ok = jsonschema.Draft202012Validator(schema).is_valid(raw)
    try:
        parse_profile(raw, kb.vocabulary)
        parser_ok = True
    except ProfileError:
        parser_ok = False
    assert parser_ok == schema_ok, raw


def test_unhashable_vehicle_category_is_a_profile_error(kb: KnowledgeBase) -> None:
    """A list in ``vehicle.category`` (via /api/v1/check) raised TypeError: a 500."""
    problems = _problems(kb, {"name": "x", "markets": ["EU"], "vehicle": {"category": ["M1"]}})
    assert problems == ["vehicle.category: expected a text, got list"]


def test_huge_numbers_are_quoted_not_crashed_on(kb: KnowledgeBase) -> None:
    """``repr`` of an integer past 4 300 digits raises ValueError; the message must not."""
    problems = _problems(kb, {"name": "x", "markets": ["EU"],
                              "vehicle": {"automated_driving_level": 10 ** 5000}})
    assert problems == ["vehicle.automated_driving_level: expected a whole number 0-5, got a "
                        "number of 16610 bits"]


@pytest.mark.parametrize(("field", "limit"), [("name", 200), ("manufacturer", 200),
                                              ("description", 10_000)])
def test_overlong_texts_are_refused_with_the_workspace_limit(kb: KnowledgeBase, field: str,
                                                             limit: int) -> None:
    """``prodsec check`` printed a 100 000-character name that ``product add`` refused: one
    bound (core/limits.py) for every face, and the JSON Schema states it too."""
    import jsonschema

    raw = {"name": "x", "markets": ["EU"], field: "x" * limit}
    parse_profile(raw, kb.vocabulary)  # exactly at the limit: accepted
    raw[field] = "x" * (limit + 1)
    assert _problems(kb, raw) == [f"{field}: is {limit + 1} characters long; the limit is {limit}"]
    schema = json.loads(profile_schema_path().read_text())
    assert not jsonschema.Draft202012Validator(schema).is_valid(raw)
