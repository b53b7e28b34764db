"""The knowledge base against the law: counts, dates, deadlines, citations, mapping ends."""

from __future__ import annotations

from typing import Any

import pytest

from prodsec.core.knowledge import KnowledgeBase

INSTRUMENTS = {
    "eu-cra", "eu-red-da", "uk-psti", "unece-r155", "unece-r156", "sg-cls",
    "de-it-security-label", "fi-cybersecurity-label", "us-cyber-trust-mark",
    "us-cisa-sbd-pledge", "eu-nis2",
}


def test_exactly_the_eleven_instruments(kb: KnowledgeBase) -> None:
    assert set(kb.regulations) == INSTRUMENTS
    assert {r["id"] for r in kb.product_regulations} == INSTRUMENTS - {"eu-nis2"}


def _list(kb: KnowledgeBase, list_id: str) -> list[dict[str, Any]]:
    return kb.lists[list_id]["items"]


@pytest.mark.parametrize(("list_id", "count"), [
    ("eu-cra:annex-iii:class-i", 19),   # CRA Annex III, Class I, points 1-19
    ("eu-cra:annex-iii:class-ii", 4),   # CRA Annex III, Class II, points 1-4
    ("eu-cra:annex-iv", 3),             # CRA Annex IV, points 1-3
])
def test_cra_category_counts(kb: KnowledgeBase, list_id: str, count: int) -> None:
    items = _list(kb, list_id)
    assert len(items) == count
    assert all(item["functions"] for item in items), "every category maps to profile functions"


def test_cra_annex_i_items(kb: KnowledgeBase) -> None:
    ids = {r["id"] for r in kb.regulation("eu-cra")["requirements"]}
    part_i = {f"eu-cra:annex-i:part-i:2:{c}" for c in "abcdefghijklm"} | {"eu-cra:annex-i:part-i:1"}
    part_ii = {f"eu-cra:annex-i:part-ii:{n}" for n in range(1, 9)}
    assert part_i <= ids and part_ii <= ids
    annex_i = [i for i in ids if i.startswith("eu-cra:annex-i:")]
    assert len(annex_i) >= 21


def test_cra_key_dates(kb: KnowledgeBase) -> None:
    dates = {d["id"]: d["date"] for d in kb.regulation("eu-cra")["dates"]}
    assert dates["entry-into-force"] == "2024-12-10"       # Art. 71(1)
    assert dates["notified-bodies"] == "2026-06-11"        # Art. 71(2), Chapter IV
    assert dates["reporting"] == "2026-09-11"              # Art. 71(2), Art. 14
    assert dates["application"] == "2027-12-11"            # Art. 71(2)


def test_red_da_application_date(kb: KnowledgeBase) -> None:
    dates = {d["kind"]: d["date"] for d in kb.regulation("eu-red-da")["dates"]}
    assert dates["application"] == "2025-08-01"            # DR 2022/30 Art. 3 as amended by 2023/2444


def _deadline(kb: KnowledgeBase, req_id: str) -> dict[str, Any]:
    (deadline,) = kb.requirement(req_id)["deadlines"]
    return deadline


def test_cra_article_14_deadlines(kb: KnowledgeBase) -> None:
    assert _deadline(kb, "eu-cra:art-14:2:a")["hours"] == 24
    assert _deadline(kb, "eu-cra:art-14:2:b")["hours"] == 72
    assert _deadline(kb, "eu-cra:art-14:2:c")["days"] == 14
    assert _deadline(kb, "eu-cra:art-14:4:a")["hours"] == 24
    assert _deadline(kb, "eu-cra:art-14:4:b")["hours"] == 72
    assert _deadline(kb, "eu-cra:art-14:4:c")["months"] == 1


def test_cra_article_13_periods(kb: KnowledgeBase) -> None:
    assert kb.requirement("eu-cra:art-13:8")["params"]["support_period_min_years"] == 5
    params = {k: v for r in kb.regulation("eu-cra")["requirements"] for k, v in r["params"].items()}
    assert params["documentation_retention_min_years"] == 10


def test_psti_three_requirements(kb: KnowledgeBase) -> None:
    ids = {r["id"] for r in kb.regulation("uk-psti")["requirements"]}
    assert {"uk-psti:schedule-1:1", "uk-psti:schedule-1:2", "uk-psti:schedule-1:3"} <= ids
    assert "uk-psti:schedule-4" in kb.lists


def test_cisa_pledge_seven_goals(kb: KnowledgeBase) -> None:
    goals = [r for r in kb.regulation("us-cisa-sbd-pledge")["requirements"] if r["kind"] == "goal"]
    assert [g["id"] for g in goals] == [f"us-cisa-sbd-pledge:goal-{n}" for n in range(1, 8)]


def test_every_requirement_and_item_is_cited(kb: KnowledgeBase) -> None:
    for req in kb.requirements.values():
        assert req["citation"]["ref"].strip(), req["id"]
        assert req["category"] in ("prevention", "readiness", "handling"), req["id"]
    for reg in kb.regulations.values():
        for part in ("dates", "conformity", "goals", "standards"):
            for fact in reg[part]:
                assert fact["citation"]["ref"].strip(), (reg["id"], part)
        assert reg["sources"], reg["id"]


def test_every_mapping_end_exists(kb: KnowledgeBase) -> None:
    assert len(kb.mappings) >= 50
    for m in kb.mappings:
        assert m["source"] in kb.requirements and m["target"] in kb.requirements


@pytest.mark.parametrize(("source", "target"), [
    ("uk-psti:schedule-1:1", "etsi-en-303-645:5.1-1"),
    ("uk-psti:schedule-1:1", "etsi-en-303-645:5.1-2"),
    ("uk-psti:schedule-1:2", "etsi-en-303-645:5.2-1"),
    ("uk-psti:schedule-1:3", "etsi-en-303-645:5.3-13"),
])
def test_required_psti_mappings(kb: KnowledgeBase, source: str, target: str) -> None:
    linked = {other for other, _, _ in kb.mapped(source)}
    assert target in linked


def test_red_maps_to_each_en_18031_part(kb: KnowledgeBase) -> None:
    for letter, part in (("d", "1"), ("e", "2"), ("f", "3")):
        linked = {kb.document_id(o) for o, _, _ in kb.mapped(f"eu-red-da:art-3:3:{letter}")}
        assert f"en-18031-{part}" in linked


def test_cisa_goals_map_to_cra_annex_i(kb: KnowledgeBase) -> None:
    for n in range(1, 8):
        linked = {o for o, _, _ in kb.mapped(f"us-cisa-sbd-pledge:goal-{n}")}
        assert any(o.startswith("eu-cra:annex-i:") for o in linked), n


# ---- Facts verified against primary texts on 2026-11-28 (pinned because they drive verdicts) ----

def _dates(kb: KnowledgeBase, reg_id: str) -> dict[str, str]:
    return {d["id"]: d["date"] for d in kb.regulation(reg_id)["dates"]}


def _exclusion(kb: KnowledgeBase, reg_id: str, excl_id: str) -> dict[str, Any]:
    (excl,) = [e for e in kb.regulation(reg_id)["applicability"]["exclusions"] if e["id"] == excl_id]
    return excl


def test_cyber_trust_mark_dates(kb: KnowledgeBase) -> None:
    dates = _dates(kb, "us-cyber-trust-mark")
    # FCC 24-26 cover page: "Adopted: March 14, 2024 Released: March 15, 2024"
    # https://docs.fcc.gov/public/attachments/FCC-24-26A1.pdf
    assert dates["adopted"] == "2024-03-14"
    # 89 FR 61242, Vol. 89 No. 146, Tuesday July 30, 2024; DATES: "effective August 29, 2024"
    # https://www.govinfo.gov/content/pkg/FR-2024-07-30/html/2024-14148.htm
    assert dates["published"] == "2024-07-30"
    assert dates["effective"] == "2024-08-29"


def test_cyber_trust_mark_exclusions_and_route(kb: KnowledgeBase) -> None:
    reg = kb.regulation("us-cyber-trust-mark")
    # 47 CFR 8.203(b) (FCC 24-26 App. A) and para. 32: consumer IoT products exclude FDA-regulated
    # medical devices and NHTSA-regulated motor vehicles and motor vehicle equipment.
    assert "medical_device" in _exclusion(kb, "us-cyber-trust-mark", "fda-medical-device")["when"]["value"]
    assert _exclusion(kb, "us-cyber-trust-mark", "nhtsa-motor-vehicle")["citation"]["ref"].startswith("47 CFR 8.203(b)")
    # FCC 24-26 para. 16 n. 65: the IoT device definition excludes PCs, smartphones and routers.
    general = _exclusion(kb, "us-cyber-trust-mark", "general-purpose-and-network-equipment")
    assert {"desktop_computer", "laptop_computer", "tablet_computer", "smartphone",
            "router"} <= set(general["when"]["value"])
    # FCC 24-26 paras 90-92, 47 CFR 8.208-8.209: lab test report plus CLA grant (third party).
    assert reg["applicability"]["assessment"] == "third-party"
    for excl in reg["applicability"]["exclusions"]:
        assert excl["citation"]["verified"], excl["id"]


def test_nis2_dates(kb: KnowledgeBase) -> None:
    dates = _dates(kb, "eu-nis2")
    # Directive (EU) 2022/2555 (OJ L 333, 27.12.2022): Art. 45 (20th day after publication),
    # Art. 41(1) (transposition 17.10.2024, apply from 18.10.2024), Art. 44 (NIS1 repealed from
    # 18.10.2024), Art. 40 (review by 17.10.2027). http://data.europa.eu/eli/dir/2022/2555/oj
    assert dates["entry-into-force"] == "2023-01-16"
    assert dates["application"] == "2024-10-18"
    assert dates["nis1-repealed"] == "2024-10-18"
    assert dates["review"] == "2027-10-17"


def test_nis2_supply_chain_takes_coordinated_assessments_into_account(kb: KnowledgeBase) -> None:
    # Directive (EU) 2022/2555 Art. 21(3), second sentence: entities are "required to take into
    # account" the results of the Art. 22(1) coordinated risk assessments (corrected from "may").
    req = kb.requirement("eu-nis2:art-21:3")
    assert "required to take into account" in req["text"]
    assert req["citation"]["verified"]


@pytest.mark.parametrize("reg_id", ["unece-r155", "unece-r156"])
def test_unece_entry_into_force(kb: KnowledgeBase, reg_id: str) -> None:
    # UNECE press release "Three landmark UN vehicle regulations enter into force": R155, R156 and
    # R157 entered into force on 22 January 2021.
    # https://unece.org/sustainable-development/press/three-landmark-un-vehicle-regulations-enter-force
    (eif,) = [d for d in kb.regulation(reg_id)["dates"] if d["id"] == "entry-into-force"]
    assert eif["date"] == "2021-01-22"
    assert eif["citation"]["verified"]


def test_red_da_certificates_valid_until(kb: KnowledgeBase) -> None:
    # Regulation (EU) 2024/2847 Art. 69(1): certificates under other Union harmonisation
    # legislation (e.g. RED DA 2022/30) remain valid until 11 June 2028.
    dates = _dates(kb, "eu-red-da")
    assert dates["type-examination-certificates-end"] == "2028-06-11"


def test_psti_consumer_condition_is_verified(kb: KnowledgeBase) -> None:
    # PSTI Act s. 54 (Explanatory Notes, Chapter 4): a UK consumer connectable product is made
    # available to UK consumers (condition A) or is identical to such a product (condition B).
    # https://www.legislation.gov.uk/ukpga/2022/46/notes/division/9/index.htm
    scope = kb.regulation("uk-psti")["applicability"]["scope"]
    (consumer,) = [r for r in scope["all"] if r.get("fact") == "consumer"]
    assert consumer["value"] is True
    assert consumer["citation"]["verified"]
