"""The answers an edit changes (issue #16, m4: the review said "the profile changes, but no
verdict does" without saying which answers): each field from → to, lists with what came and
went, and nothing for answers that stay."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from prodsec.core.profile_diff import diff_profiles, label, shown

MARKETS = st.lists(st.sampled_from(["EU", "DE", "GB", "SG", "US"]), unique=True)
ANSWER = st.one_of(st.none(), st.booleans())
PROFILES = st.fixed_dictionaries(
    {"name": st.sampled_from(["Cam", "Lock"]), "markets": MARKETS},
    optional={"internet": st.booleans(), "consumer": ANSWER, "radio": MARKETS,
              "vehicle": st.fixed_dictionaries({"category": st.sampled_from(["M1", "N1"])},
                                               optional={"ecus": st.booleans()})})


def _flat(profile: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in profile.items() if k != "vehicle"}
    return out | {f"vehicle.{k}": v for k, v in (profile.get("vehicle") or {}).items()}


def test_the_review_names_each_changed_answer() -> None:
    before = {"format": 1, "name": "Baby Cam", "markets": ["EU", "GB", "US"], "internet": True}
    after = {"format": 1, "name": "Baby Cam", "markets": ["EU", "SG", "US"], "internet": False,
             "consumer": True}
    changes = diff_profiles(before, after)
    assert [(c["label"], c["from"], c["to"]) for c in changes] == [
        ("markets", "EU, GB, US", "EU, SG, US"), ("internet", "yes", "no"),
        ("consumer", "unknown", "yes")]
    assert changes[0]["added"] == ["SG"] and changes[0]["removed"] == ["GB"]
    assert changes[1]["added"] == changes[1]["removed"] == []


def test_vehicle_facts_and_removed_answers_are_named() -> None:
    before = {"name": "TCU", "markets": ["EU"], "vehicle": {"category": "M1", "ecus": True},
              "radio": ["cellular"]}
    after = {"name": "TCU", "markets": ["EU"], "vehicle": {"category": "N1", "ecus": True}}
    assert [(c["label"], c["from"], c["to"]) for c in diff_profiles(before, after)] == [
        ("vehicle: category", "M1", "N1"), ("radio", "cellular", "unknown")]


def test_words_of_a_field_and_a_value() -> None:
    assert label("software_only") == "software only"
    assert [shown(v) for v in (None, True, False, [], ["wifi", "nfc"], 3)] == [
        "unknown", "yes", "no", "none", "wifi, nfc", "3"]


@given(PROFILES)
def test_the_same_answers_change_nothing(profile: dict[str, Any]) -> None:
    reordered = {k: list(reversed(v)) if isinstance(v, list) else v for k, v in profile.items()}
    assert diff_profiles(profile, reordered) == []


@given(PROFILES, PROFILES)
def test_exactly_the_differing_answers_are_listed(before: dict[str, Any],
                                                  after: dict[str, Any]) -> None:
    changes = diff_profiles(before, after)
    old, new = _flat(before), _flat(after)

    def same(key: str) -> bool:
        a, b = old.get(key), new.get(key)
        if isinstance(a, list) and isinstance(b, list):
            return set(a) == set(b)
        return a == b

    assert {c["field"] for c in changes} == {k for k in {*old, *new} if not same(k)}
    for c in changes:
        if isinstance(old.get(c["field"]), list) and isinstance(new.get(c["field"]), list):
            assert set(c["added"]) == set(new[c["field"]]) - set(old[c["field"]])
            assert set(c["removed"]) == set(old[c["field"]]) - set(new[c["field"]])
        assert c["from"] != c["to"] or c["added"] or c["removed"]
