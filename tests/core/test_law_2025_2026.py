"""The 2025-2026 acts pinned to the verdicts they change (issue #13), each with its citation,
with before/after dates where the act has one; and a table of one product per market class per
instrument (no market silently out)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from prodsec.core.applicability import Engine, Verdict
from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.profile import Profile, ProfileError, parse_profile

AS_OF = dt.date(2026, 11, 27)


def verdict(engine: Engine, profile: Profile, reg: str, as_of: dt.date = AS_OF) -> Verdict:
    return next(v for v in engine.check(profile, as_of).results if v.regulation == reg)


def cited(v: Verdict, needle: str) -> bool:
    return any(needle in (r.citation or "") or needle in r.text for r in v.reasons)


# ---- CRA Art. 2(5): Delegated Regulation (EU) 2025/1535, L-category vehicles ---------------

@pytest.mark.parametrize("category", ["L3e", "l3e", "L3", "L7e", "L2e"])
def test_motorcycle_is_out_of_the_cra_after_2025_1535(make_profile: Any, engine: Engine,
                                                      category: str) -> None:
    bike = make_profile(vehicle={"category": category, "ecus": True, "software_updates": True})
    before = verdict(engine, bike, "eu-cra", dt.date(2025, 11, 17))
    after = verdict(engine, bike, "eu-cra")
    assert before.status == "upcoming"  # CRA obligations start 2026-09-11; not yet excluded
    assert after.status == "not-applicable"
    assert cited(after, "2025/1535")


def test_l1e_not_designed_to_pedal_is_out_of_the_cra(make_profile: Any, engine: Engine) -> None:
    moped = make_profile(vehicle={"category": "L1e", "ecus": True, "designed_to_pedal": False})
    after = verdict(engine, moped, "eu-cra")
    assert after.status == "not-applicable" and cited(after, "2025/1535")


def test_l1e_designed_to_pedal_stays_in_the_cra(make_profile: Any, engine: Engine) -> None:
    """Delegated Reg. (EU) 2025/1535 Art. 1 leaves out L1e vehicles designed to pedal (Reg.
    (EU) No 168/2013 Art. 3(94)(b); Commission CRA FAQs 1.9): a speed pedelec keeps the CRA,
    and DR 2025/1455 (recital (2)) leaves it out of R155 in EU type approval."""
    pedelec = make_profile(vehicle={"category": "L1e", "ecus": True, "software_updates": True,
                                    "designed_to_pedal": True})
    assert verdict(engine, pedelec, "eu-cra").status == "required"
    r155 = verdict(engine, pedelec, "unece-r155")
    assert "eu-l-category" not in {o.id for o in r155.obligations}
    assert r155.status != "upcoming"


def test_l1e_without_the_pedal_fact_is_undetermined_naming_it(make_profile: Any,
                                                              engine: Engine) -> None:
    """Never a silent guess: an L1e vehicle may or may not be designed to pedal."""
    l1e = make_profile(vehicle={"category": "L1e", "ecus": True})
    v = verdict(engine, l1e, "eu-cra")
    assert v.status == "undetermined" and v.missing == ("vehicle.designed_to_pedal",)


def test_designed_to_pedal_is_refused_for_other_categories(kb: KnowledgeBase) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile({"name": "x", "markets": ["EU"],
                       "vehicle": {"category": "L3e", "designed_to_pedal": True}}, kb.vocabulary)
    assert "vehicle.designed_to_pedal: applies to L1e (L1) vehicles only" in str(err.value)
    with pytest.raises(ProfileError) as err:
        parse_profile({"name": "x", "markets": ["EU"],
                       "vehicle": {"category": "L1e", "designed_to_pedal": "yes"}}, kb.vocabulary)
    assert "vehicle.designed_to_pedal: expected true or false, got 'yes'" in str(err.value)


def test_eu_vehicle_category_spelling_is_read_as_unece(kb: KnowledgeBase) -> None:
    p = parse_profile({"name": "x", "markets": ["EU"], "vehicle": {"category": "L3e"}},
                      kb.vocabulary)
    assert p.vehicle is not None and p.vehicle.category == "L3"


def test_unknown_vehicle_category_names_the_accepted_values(kb: KnowledgeBase) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile({"name": "x", "markets": ["EU"], "vehicle": {"category": "L9e"}},
                      kb.vocabulary)
    assert "vehicle.category" in str(err.value) and "L3e" in str(err.value)


def test_car_stays_in_the_cra_rules(make_profile: Any, engine: Engine) -> None:
    car = make_profile(vehicle={"category": "M1", "ecus": True, "software_updates": True})
    assert verdict(engine, car, "eu-cra").status == "required"


# ---- CRA Art. 2(6): identical spare parts ---------------------------------------------------

def test_identical_spare_part_is_out_of_the_cra(make_profile: Any, engine: Engine) -> None:
    assert verdict(engine, make_profile(), "eu-cra").status == "required"
    part = verdict(engine, make_profile(identical_spare_part=True), "eu-cra")
    assert part.status == "not-applicable"
    assert cited(part, "Art. 2(6)")


# ---- computers: PSTI Regs Sch. 3 para. 5(1) -------------------------------------------------

def test_retired_computer_function_names_its_successors(kb: KnowledgeBase) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile({"name": "x", "markets": ["GB"], "functions": ["computer"]}, kb.vocabulary)
    text = str(err.value)
    assert "functions[0]" in text
    for successor in ("desktop_computer", "laptop_computer", "tablet_computer"):
        assert successor in text


@pytest.mark.parametrize(("function", "radio", "status"), [
    ("laptop_computer", ["wifi", "cellular"], "not-applicable"),  # was `required` before #13
    ("laptop_computer", ["wifi"], "not-applicable"),
    ("desktop_computer", ["wifi", "cellular"], "not-applicable"),
    ("tablet_computer", ["wifi"], "not-applicable"),
    ("tablet_computer", ["wifi", "cellular"], "required"),
    ("smartphone", ["wifi", "cellular"], "required"),
])
def test_psti_computer_exception(make_profile: Any, engine: Engine, function: str,
                                 radio: list[str], status: str) -> None:
    v = verdict(engine, make_profile(markets=["GB"], functions=[function], radio=radio),
                "uk-psti")
    assert v.status == status
    if status == "not-applicable":
        assert cited(v, "Sch. 3, para. 5(1)")


# ---- Singapore CLS: consumer IoT devices only -----------------------------------------------

def test_software_password_manager_is_not_eligible_for_cls(make_profile: Any, engine: Engine) -> None:
    app = make_profile(markets=["SG"], functions=["password_manager"], software_only=True)
    assert verdict(engine, app, "sg-cls").status == "not-applicable"
    device = make_profile(markets=["SG"], functions=["smart_lock"])
    assert verdict(engine, device, "sg-cls").status == "voluntary"


# ---- Implementing Regulation (EU) 2025/2392: the categories' technical descriptions ---------

@pytest.mark.parametrize(("function", "category"), [
    ("payment_terminal", "critical"),
    ("hardware_security_module", "critical"),
    ("tachograph", "critical"),
    ("web_application_firewall", "important-class-2"),
    ("smart_home_security_controller", "important-class-1"),
])
def test_2025_2392_descriptions_decide_categories(make_profile: Any, engine: Engine,
                                                  function: str, category: str) -> None:
    v = verdict(engine, make_profile(functions=[function]), "eu-cra")
    assert v.category == category
    assert cited(v, "2025/2392")


def test_every_category_cites_2025_2392(kb: KnowledgeBase) -> None:
    for list_id in ("eu-cra:annex-iii:class-i", "eu-cra:annex-iii:class-ii", "eu-cra:annex-iv"):
        lst = kb.lists[list_id]
        assert "2025/2392" in lst["citation"]["ref"]
        for item in lst["items"]:
            assert "2025/2392" in item["citation"]["ref"], item["id"]
            assert "2025/2392" in item["text"], item["id"]


# ---- EHDS Art. 104: CRA Art. 32(5a) for EHR systems, amended 2027-03-26, applies 2027-12-11 ---

def test_ehr_systems_obligation_binds_when_the_amended_articles_apply(make_profile: Any,
                                                                     engine: Engine) -> None:
    """EHDS Art. 104 amends CRA Arts 13(4), 31(3) and inserts 32(5a) with effect from
    2027-03-26, but Arts 13, 31 and 32 apply only from 2027-12-11 (CRA Art. 71(2)): an
    amendment of a provision not yet applicable does not bring it forward."""
    ehr = make_profile(functions=["ehr_system"], software_only=True)

    def ehr_obligation(day: dt.date) -> Any:
        return next(o for o in verdict(engine, ehr, "eu-cra", day).obligations
                    if o.id == "ehr-systems")

    assert ehr_obligation(AS_OF).applies_from == "2027-12-11"
    assert not ehr_obligation(dt.date(2027, 3, 26)).in_force
    assert not ehr_obligation(dt.date(2027, 12, 10)).in_force
    assert ehr_obligation(dt.date(2027, 12, 11)).in_force
    assert "2025/327" in (ehr_obligation(AS_OF).citation or "")
    assert "Art. 71(2)" in (ehr_obligation(AS_OF).citation or "")
    assert "2027-03-26" in ehr_obligation(AS_OF).text  # the amendment's own date is stated too
    other = verdict(engine, make_profile(), "eu-cra")
    assert "ehr-systems" not in {o.id for o in other.obligations}


# ---- 2026/881, the Art. 64(10) corrigendum, the change log -----------------------------------

def test_csirt_delay_act_and_corrigendum_are_recorded(kb: KnowledgeBase) -> None:
    cra = kb.regulation("eu-cra")
    dates = {d["id"]: d for d in cra["dates"]}
    assert "2026/881" in dates["csirt-delay-grounds"]["text"]
    assert "14(9)" in dates["csirt-delay-grounds"]["citation"]["ref"]
    fines = next(p for p in cra["penalties"] if p["citation"]["ref"] == "Art. 64(10)")
    assert "paragraphs 2 to 9" in fines["citation"]["note"]


def test_change_log_lists_the_acts(kb: KnowledgeBase) -> None:
    acts = " ".join(c["act"] for c in kb.changes)
    for act in ("2025/1535", "2025/2392", "2026/881", "2025/327", "Art. 2(6)", "Corrigendum",
                "SI 2025/211", "SI 2025/1267", "DA 26-75", "Sch. 3 para. 5(1)"):
        assert act in acts, act
    assert kb.law_as_of == "2026-12-03"


# ---- UK PSTI citations and GB vehicle exceptions (SI 2025/211) -------------------------------

def test_psti_citations(kb: KnowledgeBase) -> None:
    assert kb.lists["uk-psti:schedule-3"]["citation"]["ref"].startswith("Regs reg. 6")
    assert kb.lists["uk-psti:schedule-4"]["citation"]["ref"].startswith("Regs reg. 7")
    items = {i["id"] for i in kb.lists["uk-psti:schedule-3"]["items"]}
    assert {"uk-psti:schedule-3:6", "uk-psti:schedule-3:7", "uk-psti:schedule-3:8"} <= items
    assert "own website" in kb.requirement("uk-psti:schedule-1:3")["text"]
    assert kb.requirement("uk-psti:schedule-1:3:6")["citation"]["ref"] == "Regs Sch. 1, para. 3(6)"
    labels = next(d for d in kb.regulation("uk-psti")["dates"] if d["id"] == "amendment-2025-labels")
    assert "reg. 4A" in labels["citation"]["ref"]


def test_gb_vehicle_exception_from_2025_02_25(make_profile: Any, engine: Engine) -> None:
    car = make_profile(markets=["GB"], vehicle={"category": "M1", "ecus": True})
    assert verdict(engine, car, "uk-psti", dt.date(2025, 2, 24)).status == "required"
    after = verdict(engine, car, "uk-psti", dt.date(2025, 2, 25))
    assert after.status == "not-applicable"
    assert cited(after, "SI 2025/211")


# ---- US Cyber Trust Mark: label status as a dated fact --------------------------------------

def test_cyber_trust_mark_paused_with_date_source_and_advice(make_profile: Any,
                                                             engine: Engine) -> None:
    hub = make_profile(markets=["US"], radio=["wifi"])
    assert verdict(engine, hub, "us-cyber-trust-mark", dt.date(2025, 3, 1)).status == "voluntary"
    v = verdict(engine, hub, "us-cyber-trust-mark")
    assert v.status == "not-applicable"
    assert v.reasons[0].text.startswith("Paused to new products since 2025-")
    assert "2025-12-19" in v.reasons[0].text and "DA 26-75" in (v.reasons[0].citation or "")
    assert v.reasons[1].text.startswith("Meanwhile: ")


# ---- markets: YAML booleans, Northern Ireland ------------------------------------------------

def test_unquoted_no_is_refused_with_the_fix(kb: KnowledgeBase) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile({"name": "x", "markets": [False]}, kb.vocabulary)
    assert "markets[0]" in str(err.value) and "quote" in str(err.value)
    assert "'NO'" in str(err.value)


def test_northern_ireland_spellings(kb: KnowledgeBase) -> None:
    for code in ("XI", "GB-NIR", "gb-nir"):
        p = parse_profile({"name": "x", "markets": [code]}, kb.vocabulary)
        assert {"GB-NIR", "GB"} <= p.markets
        assert "GB-GBN" not in p.markets


# ---- no market silently out: one product per market class per instrument -------------------

RADIO_PRODUCT = {"radio": ["wifi"], "functions": ["smart_lock"]}
CAR = {"vehicle": {"category": "M1", "ecus": True, "software_updates": True}, "consumer": False}

# (instrument, product facts, {market class → expected status})
MARKET_TABLE: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("eu-cra", RADIO_PRODUCT, {"DE": "required", "NO": "undetermined", "GB-NIR": "undetermined",
                               "JP": "not-applicable", "KR": "not-applicable"}),
    ("eu-red-da", RADIO_PRODUCT, {"DE": "required", "NO": "undetermined", "IS": "undetermined",
                                  "LI": "undetermined", "GB-NIR": "required",
                                  "JP": "not-applicable", "KR": "not-applicable"}),
    ("uk-psti", RADIO_PRODUCT, {"DE": "not-applicable", "NO": "not-applicable",
                                "GB-NIR": "required", "JP": "not-applicable",
                                "KR": "not-applicable"}),
    ("unece-r155", CAR, {"DE": "required", "NO": "undetermined", "GB-NIR": "required",
                         "JP": "required", "KR": "undetermined", "US": "not-applicable"}),
    ("unece-r156", CAR, {"DE": "required", "NO": "undetermined", "GB-NIR": "required",
                         "JP": "required", "KR": "undetermined", "US": "not-applicable"}),
    ("sg-cls", RADIO_PRODUCT, {"DE": "not-applicable", "NO": "not-applicable",
                               "GB-NIR": "not-applicable", "JP": "not-applicable",
                               "SG": "voluntary"}),
]


@pytest.mark.parametrize(("reg", "facts", "expected"), MARKET_TABLE, ids=[r[0] for r in MARKET_TABLE])
def test_market_classes(make_profile: Any, engine: Engine, reg: str, facts: dict[str, Any],
                        expected: dict[str, str]) -> None:
    for market, status in expected.items():
        v = verdict(engine, make_profile(markets=[market], **facts), reg)
        assert v.status == status, (reg, market, v.reasons)
        if status == "undetermined":
            assert "markets" in v.missing
            assert any(market in r.text for r in v.reasons), v.reasons


def test_territory_memo_does_not_mix_markets(make_profile: Any, engine: Engine) -> None:
    """Two markets outside the rules' own market values must not share a memoised verdict."""
    assert verdict(engine, make_profile(markets=["NO"], **RADIO_PRODUCT), "eu-cra").status == "undetermined"
    assert verdict(engine, make_profile(markets=["JP"], **RADIO_PRODUCT), "eu-cra").status == "not-applicable"


def test_unsettled_market_does_not_pull_in_an_out_of_scope_product(make_profile: Any,
                                                                   engine: Engine) -> None:
    """Korea is a 1958 Agreement party we do not model, but a smart lock is no vehicle: R155
    stays not-applicable; and a product without a data connection is out of the CRA in Norway."""
    lock = make_profile(markets=["KR"], **RADIO_PRODUCT)
    assert verdict(engine, lock, "unece-r155").status == "not-applicable"
    offline = make_profile(markets=["NO"], data_connection=False, internet=False)
    assert verdict(engine, offline, "eu-cra").status == "not-applicable"
