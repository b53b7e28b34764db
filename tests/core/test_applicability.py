"""The applicability engine: a table of (profile facts → verdict) per rule, and properties."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodsec.core.applicability import Check, Engine, Verdict
from prodsec.core.profile import Profile, parse_profile

AS_OF = dt.date(2026, 11, 27)


def verdict(engine: Engine, profile: Profile, reg: str, as_of: dt.date = AS_OF) -> Verdict:
    return next(v for v in engine.check(profile, as_of).results if v.regulation == reg)


# (facts, regulation, status, category, assessment)
TABLE: list[tuple[dict[str, Any], str, str, str | None, str | None]] = [
    # CRA scope, exclusions, classes (Art. 2, 7, 8, 32; Annex III/IV)
    ({}, "eu-cra", "required", "default", "self"),
    ({"markets": ["US"]}, "eu-cra", "not-applicable", None, None),
    ({"data_connection": False}, "eu-cra", "not-applicable", None, None),
    ({"commercial": False}, "eu-cra", "not-applicable", None, None),
    ({"remote_service_only": True}, "eu-cra", "not-applicable", None, None),
    ({"sector_law": ["medical_device"]}, "eu-cra", "not-applicable", None, None),
    ({"sector_law": ["motor_vehicle"]}, "eu-cra", "not-applicable", None, None),
    ({"sector_law": ["national_security"]}, "eu-cra", "not-applicable", None, None),
    ({"functions": ["router"]}, "eu-cra", "required", "important-class-1", "self-if-harmonised"),
    ({"functions": ["password_manager"]}, "eu-cra", "required", "important-class-1", "self-if-harmonised"),
    ({"functions": ["baby_monitor"]}, "eu-cra", "required", "important-class-1", "self-if-harmonised"),
    ({"functions": ["firewall"]}, "eu-cra", "required", "important-class-2", "third-party"),
    ({"functions": ["hypervisor"]}, "eu-cra", "required", "important-class-2", "third-party"),
    ({"functions": ["smartcard"]}, "eu-cra", "required", "critical", "third-party"),
    ({"functions": ["smart_meter_gateway"]}, "eu-cra", "required", "critical", "third-party"),
    ({"functions": ["router", "firewall"]}, "eu-cra", "required", "important-class-2", "third-party"),
    ({"data_connection": ...}, "eu-cra", "undetermined", None, None),
    # RED delegated act 2022/30 (Art. 1-2)
    ({"radio": ["wifi"]}, "eu-red-da", "required", None, "self-if-harmonised"),
    ({"radio": []}, "eu-red-da", "not-applicable", None, None),
    ({"radio": ["wifi"], "markets": ["GB-GBN"]}, "eu-red-da", "not-applicable", None, None),
    # a UK market reaches Northern Ireland, where the RED applies (Windsor Framework, Annex 2)
    ({"radio": ["wifi"], "markets": ["GB"]}, "eu-red-da", "required", None, "self-if-harmonised"),
    ({"radio": ["wifi"], "markets": ["XI"]}, "eu-red-da", "required", None, "self-if-harmonised"),
    ({"radio": ["bluetooth"], "internet": False, "functions": ["children_wearable"],
      "personal_data": True}, "eu-red-da", "required", None, "self-if-harmonised"),
    ({"radio": ["bluetooth"], "internet": False, "personal_data": False}, "eu-red-da",
     "not-applicable", None, None),
    ({"radio": ["wifi"], "sector_law": ["medical_device"]}, "eu-red-da", "not-applicable", None, None),
    ({"radio": ...}, "eu-red-da", "undetermined", None, None),
    # UK PSTI (Act s. 4-5; Regulations 2023 Sch. 3)
    ({"markets": ["GB"]}, "uk-psti", "required", None, "self"),
    ({"markets": ["UK"]}, "uk-psti", "required", None, "self"),
    ({"markets": ["GB"], "consumer": False}, "uk-psti", "not-applicable", None, None),
    ({"markets": ["GB"], "sector_law": ["medical_device"]}, "uk-psti", "not-applicable", None, None),
    ({"markets": ["GB"], "functions": ["ev_charge_point"], "sector_law": ["ev_charge_point"]},
     "uk-psti", "not-applicable", None, None),
    ({"markets": ["EU"]}, "uk-psti", "not-applicable", None, None),
    # UN R155 / R156
    ({"markets": ["EU"], "vehicle": {"category": "M1", "ecus": True, "software_updates": True}},
     "unece-r155", "required", None, "third-party"),
    ({"markets": ["EU"], "vehicle": {"category": "M1", "ecus": True, "software_updates": True}},
     "unece-r156", "required", None, "third-party"),
    ({"markets": ["EU"]}, "unece-r155", "not-applicable", None, None),
    ({"markets": ["US"], "vehicle": {"category": "M1", "ecus": True}}, "unece-r155",
     "not-applicable", None, None),
    # voluntary labels and the pledge
    ({"markets": ["SG"]}, "sg-cls", "voluntary", None, "self"),
    ({"markets": ["SG"], "functions": ["router"]}, "sg-cls", "required", None, "self"),
    ({"markets": ["FI"]}, "fi-cybersecurity-label", "not-applicable", None, None),
    # paused since 2025 (Lead Administrator withdrew 2025-12-19): not obtainable on AS_OF
    ({"markets": ["US"], "radio": ["wifi"]}, "us-cyber-trust-mark", "not-applicable", None, None),
    ({"markets": ["US"], "radio": []}, "us-cyber-trust-mark", "not-applicable", None, None),
    ({"markets": ["US"], "software_only": True, "consumer": False}, "us-cisa-sbd-pledge",
     "voluntary", None, None),
]


@pytest.mark.parametrize(("facts", "reg", "status", "category", "assessment"), TABLE)
def test_rule_table(make_profile: Any, engine: Engine, facts: dict[str, Any], reg: str,
                    status: str, category: str | None, assessment: str | None) -> None:
    v = verdict(engine, make_profile(**facts), reg)
    assert (v.status, v.category, v.assessment) == (status, category, assessment), v.reasons
    assert v.reasons, "every verdict explains itself"
    if status != "undetermined":
        assert any(r.citation for r in v.reasons), "reasons cite their source"
    else:
        assert v.missing


def test_undetermined_names_missing_field(make_profile: Any, engine: Engine) -> None:
    v = verdict(engine, make_profile(data_connection=...), "eu-cra")
    assert v.missing == ("data_connection",)


def test_cra_dates(make_profile: Any, engine: Engine) -> None:
    p = make_profile()
    assert verdict(engine, p, "eu-cra", dt.date(2026, 9, 10)).status == "upcoming"
    v = verdict(engine, p, "eu-cra", dt.date(2026, 9, 11))
    assert v.status == "required"
    in_force = {o.id for o in v.obligations if o.in_force}
    assert in_force == {"reporting"}
    assert {o.id: o.applies_from for o in v.obligations}["essential-requirements"] == "2027-12-11"
    assert verdict(engine, p, "eu-cra", dt.date(2024, 1, 1)).status == "upcoming"


def test_red_da_repealed_when_cra_applies(make_profile: Any, engine: Engine) -> None:
    p = make_profile(radio=["wifi"])
    assert verdict(engine, p, "eu-red-da", dt.date(2025, 7, 31)).status == "upcoming"
    assert verdict(engine, p, "eu-red-da", dt.date(2025, 8, 1)).status == "required"
    assert verdict(engine, p, "eu-red-da", dt.date(2027, 12, 11)).status == "not-applicable"


def test_cra_reporting_deadlines_in_verdict(make_profile: Any, engine: Engine) -> None:
    v = verdict(engine, make_profile(), "eu-cra")
    reporting = next(o for o in v.obligations if o.id == "reporting")
    hours = sorted(d["hours"] for d in reporting.deadlines if d.get("hours"))
    assert hours == [24, 24, 72, 72]


def test_requirements_grouped_and_comply_once(make_profile: Any, engine: Engine) -> None:
    check = engine.check(make_profile(markets=["DE", "GB"], radio=["wifi"]), AS_OF)
    cra = next(v for v in check.results if v.regulation == "eu-cra")
    assert "eu-cra:annex-i:part-i:2:d" in cra.requirements["prevention"]
    assert "eu-cra:art-14:2:a" in cra.requirements["handling"]
    groups = [g for g in check.comply_once if "uk-psti:schedule-1:1" in g["requirements"]]
    assert groups and "eu-cra" in groups[0]["regulations"]


def test_nis2_is_not_a_product_result(make_profile: Any, engine: Engine) -> None:
    regs = [v.regulation for v in engine.check(make_profile(), AS_OF).results]
    assert "eu-nis2" not in regs and len(regs) == 10


# ---- properties over generated profiles ------------------------------------------------------

EU_ONLY = {"eu-cra", "eu-red-da"}
STATUSES = {"required", "upcoming", "voluntary", "not-applicable", "undetermined"}


def profiles(kb_vocab: Any) -> st.SearchStrategy[dict[str, Any]]:
    maybe_bool = st.sampled_from([True, False, None])
    return st.fixed_dictionaries({
        "name": st.just("generated"),
        "markets": st.lists(st.sampled_from(["EU", "DE", "FI", "GB", "US", "SG", "JP", "CH"]),
                            min_size=1, max_size=4, unique=True),
        "software_only": maybe_bool, "data_connection": maybe_bool, "internet": maybe_bool,
        "consumer": maybe_bool, "personal_data": maybe_bool, "money_transfer": maybe_bool,
        "commercial": maybe_bool, "open_source": maybe_bool, "remote_service_only": maybe_bool,
        "radio": st.one_of(st.none(), st.lists(st.sampled_from(sorted(kb_vocab.radio)), max_size=2,
                                               unique=True)),
        "functions": st.lists(st.sampled_from(sorted(kb_vocab.functions)), max_size=3, unique=True),
        "sector_law": st.lists(st.sampled_from(sorted(kb_vocab.sector_law)), max_size=1, unique=True),
        "vehicle": st.one_of(st.none(), st.fixed_dictionaries({
            "category": st.sampled_from(sorted(kb_vocab.vehicle_categories)),
            "ecus": maybe_bool, "software_updates": maybe_bool})),
    }).map(lambda d: {k: v for k, v in d.items() if v is not None})


def _statuses(check: Check) -> dict[str, str]:
    return {v.regulation: v.status for v in check.results}


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_valid_profile_gets_a_verdict_per_instrument(kb: Any, engine: Engine,
                                                         data: st.DataObject) -> None:
    raw = data.draw(profiles(kb.vocabulary))
    check = engine.check(parse_profile(raw, kb.vocabulary), AS_OF)
    assert len(check.results) == 10
    for v in check.results:
        assert v.status in STATUSES
        assert (v.status == "undetermined") == bool(v.missing)
        assert v.reasons
        check.to_dict()  # serialisable


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_removing_eu_markets_never_makes_an_eu_instrument_apply(kb: Any, engine: Engine,
                                                                data: st.DataObject) -> None:
    raw = data.draw(profiles(kb.vocabulary))
    # EU law also reaches Northern Ireland (a UK market) and, where incorporated, the EEA
    eu = kb.vocabulary.market_groups["EU"] | {"EU", "GB", "UK", "GB-NIR", "XI", "NO", "IS", "LI"}
    rest = [m for m in raw["markets"] if m not in eu] or ["US"]
    after = _statuses(engine.check(parse_profile(raw | {"markets": rest}, kb.vocabulary), AS_OF))
    for reg in EU_ONLY:
        assert after[reg] == "not-applicable"


@settings(max_examples=100, deadline=None)
@given(data=st.data(), days=st.lists(st.integers(0, 365 * 6), min_size=2, max_size=4))
def test_required_stays_required_until_repeal(kb: Any, engine: Engine, data: st.DataObject,
                                              days: list[int]) -> None:
    profile = parse_profile(data.draw(profiles(kb.vocabulary)), kb.vocabulary)
    dates = sorted(dt.date(2024, 1, 1) + dt.timedelta(days=d) for d in days)
    history = [_statuses(engine.check(profile, d)) for d in dates]
    for reg in history[0]:
        app = kb.regulations[reg]["applicability"]
        ends = [d["date"] for d in kb.regulations[reg]["dates"] if d["kind"] in ("repeal", "closure")]
        ends += [e["applies_from"] for e in app["exclusions"] if e.get("applies_from")]
        for i in range(len(dates) - 1):
            d1, d2 = dates[i], dates[i + 1]
            ended = any(d1.isoformat() < e <= d2.isoformat() for e in ends)
            if history[i][reg] == "required" and not ended:
                assert history[i + 1][reg] == "required", (reg, d1, d2)


def test_comply_once_reads_as_links_between_regimes(make_profile: Any, engine: Engine) -> None:
    """Each link names a requirement of another instrument, the clause it goes through and a
    confidence no higher than the mappings' on the way."""
    check = engine.check(make_profile(markets=["DE", "GB"], radio=["wifi"]), AS_OF)
    links = {link["requirement"]: link for g in check.comply_once for link in g["links"]}
    psti = links["uk-psti:schedule-1:1"]
    assert psti["regulation"] == "uk-psti"
    targets = {s["requirement"]: s for s in psti["satisfies"]}
    assert "eu-cra:annex-i:part-i:2:b" in targets
    assert all(s["regulation"] != "uk-psti" for s in psti["satisfies"])
    assert all(s["confidence"] in ("high", "medium", "low") for s in psti["satisfies"])
    ranks = [("low", "medium", "high").index(s["confidence"]) for s in psti["satisfies"]]
    assert ranks == sorted(ranks, reverse=True), "best match first"
    for group in check.comply_once:
        named = {link["requirement"] for link in group["links"]}
        assert named <= set(group["requirements"])


def test_only_the_deciding_branch_is_shown_as_the_reason(make_profile: Any,
                                                           engine: Engine) -> None:
    """A connected baby monitor is in the RED delegated act's scope as internet-connected; the
    childcare branch also holds but is only 'also checked' (it is not what decides)."""
    red = verdict(engine, make_profile(radio=["wifi"], internet=True, personal_data=True,
                                       functions=["baby_monitor"]), "eu-red-da")
    shown = [r for r in red.reasons if r.decisive]
    folded = [r for r in red.reasons if not r.decisive]
    assert any("Internet-connected" in r.text for r in shown)
    assert any("Childcare" in r.text for r in folded)
    assert not any("Childcare" in r.text for r in shown)
    assert all(r.holds for r in folded)
    assert all(d.get("decisive", True) is False for d in (r.to_dict() for r in folded))
