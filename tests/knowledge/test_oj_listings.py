"""OJ listings of standards: the shipped data (EN 18031 under RED with the restrictions of
Implementing Decision (EU) 2025/138; nothing listed under the CRA) and the refusals of bad files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.errors import NotFoundError
from prodsec.knowledge import loader
from prodsec.knowledge.loader import KnowledgeBaseError, build, knowledge_files
from prodsec.services import knowledge as service

DECISION = "Commission Implementing Decision (EU) 2025/138"
PARTS = {"1": "d", "2": "e", "3": "f"}


def _listing(kb: KnowledgeBase, std: str, act: str) -> dict[str, Any]:
    found = [o for o in kb.standard(std)["oj_listings"] if o["act"] == act]
    assert len(found) == 1, f"{std}: one {act} listing expected"
    return found[0]


def test_every_standard_states_its_cra_listing(kb: KnowledgeBase) -> None:
    for std_id in kb.standards:
        cra = _listing(kb, std_id, "eu-cra")
        assert cra["status"] == "not-listed"
        assert cra["as_of"] == "2026-12-03"
        assert cra["citation"]["verified"] is False  # an absence is not read in one text


@pytest.mark.parametrize(("part", "letter"), PARTS.items())
def test_en_18031_listed_under_red_with_restrictions(kb: KnowledgeBase, part: str,
                                                      letter: str) -> None:
    red = _listing(kb, f"en-18031-{part}", "eu-red-da")
    assert red["status"] == "listed-with-restrictions"
    assert red["reference"] == DECISION
    assert (red["date"], red["published"]) == ("2025-01-28", "2025-01-30")
    assert red["oj"] == "OJ L, 2025/138, 30.1.2025"
    assert red["url"] == "http://data.europa.eu/eli/dec_impl/2025/138/oj"
    assert red["essential_requirements"] == [f"eu-red-da:art-3:3:{letter}"]
    assert "2022/2191" in red["amends"]
    for r in red["restrictions"]:
        assert r["citation"]["instrument"] == DECISION
        assert r["essential_requirements"] == [f"eu-red-da:art-3:3:{letter}"]
    password = next(r for r in red["restrictions"] if r["id"] == "password-optional")
    assert password["clauses"] == ["6.2.5.1", "6.2.5.2"]
    assert password["requirements"] == [f"en-18031-{part}:aum-5-1", f"en-18031-{part}:aum-5-2"]
    assert password["effect"] == "no-presumption"


def test_restrictions_differ_by_part(kb: KnowledgeBase) -> None:
    ids = {p: {r["id"] for r in _listing(kb, f"en-18031-{p}", "eu-red-da")["restrictions"]}
           for p in PARTS}
    common = {"rationale-guidance", "password-optional"}
    assert ids == {"1": common, "2": common | {"toys-childcare-parental-control"},
                   "3": common | {"secure-update-assessment"}}
    update = next(r for r in _listing(kb, "en-18031-3", "eu-red-da")["restrictions"]
                  if r["id"] == "secure-update-assessment")
    assert update["clauses"] == ["6.3.2.4"] and update["requirements"] == ["en-18031-3:sum-2"]


class _Profile:
    def __init__(self, functions: list[str]) -> None:
        self.functions = functions

    def fact(self, path: str) -> Any:
        return self.functions if path == "functions" else None


@pytest.mark.parametrize(("functions", "bites"), [
    (["toy"], True), (["childcare"], True), (["smart_speaker"], False), ([], False),
])
def test_parental_control_restriction_follows_the_profile(
    kb: KnowledgeBase, functions: list[str], bites: bool
) -> None:
    red = _listing(kb, "en-18031-2", "eu-red-da")
    rule = next(r for r in red["restrictions"]
                if r["id"] == "toys-childcare-parental-control")["applies_when"]
    node = kb.compile(rule, kb.regulation("eu-red-da"))
    assert node is not None
    assert node.value(_Profile(functions)) is bites


def test_etsi_en_303_645_is_not_harmonised(kb: KnowledgeBase) -> None:
    for act in ("eu-red-da", "eu-cra"):
        assert _listing(kb, "etsi-en-303-645", act)["status"] == "not-listed"


def test_service_gives_the_listing_with_readable_citations(kb: KnowledgeBase) -> None:
    got = service.oj_listing(kb, "en-18031-2", "eu-red-da")
    assert got is not None and got["status"] == "listed-with-restrictions"
    assert got["citation_text"].startswith(DECISION) and "[unverified]" in got["citation_text"]
    assert all(r["citation_text"].startswith(DECISION) for r in got["restrictions"])
    assert service.oj_listing(kb, "en-18031-2", "uk-psti") is None
    with pytest.raises(NotFoundError):
        service.oj_listing(kb, "en-99999", "eu-red-da")
    listed = {s["id"]: s["oj_listings"] for s in service.standards(kb)}
    assert {o["act"] for o in listed["en-18031-1"]} == {"eu-red-da", "eu-cra"}


# ---- bad files ----------------------------------------------------------------------------

GOOD = """\
id: test-std
title: Test standard
short_name: TS
publisher: Test
version: "1"
text: A standard for tests.
sources: [{title: t, url: "https://example.org"}]
verified: true
oj_listings:
  - act: eu-red-da
    status: listed-with-restrictions
    as_of: 2026-12-03
    reference: Decision X
    date: 2025-01-28
    url: https://example.org/x
    essential_requirements: [eu-red-da:art-3:3:d]
    text: Listed.
    citation: Annex
    restrictions:
      - id: one
        text: A restriction.
        effect: no-presumption
        requirements: [test-std:1]
        applies_when: {fact: functions, op: contains_any, value: [toy]}
        citation: Annex
requirements:
  - id: test-std:1
    title: One
    text: First provision.
    category: prevention
    citation: clause 1
"""


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(loader.DATA_DIR, target)
    return target


def _errors(data_dir: Path, text: str) -> list[str]:
    (data_dir / "standards" / "test-std.yaml").write_text(text)
    with pytest.raises(KnowledgeBaseError) as caught:
        build(knowledge_files(data_dir), data_dir)
    return [str(e) for e in caught.value.errors]


def test_a_good_listing_loads(data_copy: Path) -> None:
    (data_copy / "standards" / "test-std.yaml").write_text(GOOD)
    data = build(knowledge_files(data_copy), data_copy)
    assert data["standards"]["test-std"]["oj_listings"][0]["restrictions"][0]["id"] == "one"


@pytest.mark.parametrize(("old", "new", "message"), [
    ("act: eu-red-da", "act: eu-xyz", "oj_listings[0].act: unknown act 'eu-xyz'"),
    ("[eu-red-da:art-3:3:d]", "[eu-cra:annex-i:part-i:1]",
     "oj_listings[0].essential_requirements: 'eu-cra:annex-i:part-i:1' is not a requirement "
     "of 'eu-red-da'"),
    ("requirements: [test-std:1]", "requirements: [en-18031-1:aum-5-1]",
     "oj_listings[0].restrictions[0].requirements: 'en-18031-1:aum-5-1' is not a requirement "
     "of 'test-std'"),
    ("value: [toy]", "value: [teddy]",
     "oj_listings[0].restrictions[0].applies_when.value: 'teddy' is not a known functions value"),
    ("as_of: 2026-12-03", "as_of: 3.12.2026", "oj_listings[0].as_of: expected an ISO 8601 date"),
])
def test_bad_reference_is_named(data_copy: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    errors = _errors(data_copy, GOOD.replace(old, new, 1))
    assert any(e.startswith("standards/test-std.yaml: ") and message in e for e in errors), errors


@pytest.mark.parametrize(("old", "new", "message"), [
    ("status: listed-with-restrictions", "status: listed",
     "restrictions are given exactly when status is listed-with-restrictions"),
    ("    reference: Decision X\n", "", "a listed-with-restrictions entry needs reference"),
    ("status: listed-with-restrictions", "status: not-listed",
     "a not-listed entry has no reference and no restrictions"),
    ("effect: no-presumption", "effect: maybe", "effect"),
])
def test_inconsistent_listing_is_refused(data_copy: Path, old: str, new: str,
                                         message: str) -> None:
    assert old in GOOD
    errors = _errors(data_copy, GOOD.replace(old, new, 1))
    assert any(e.startswith("standards/test-std.yaml: oj_listings") and message in e
               for e in errors), errors


def test_two_listings_for_one_act_are_refused(data_copy: Path) -> None:
    second = GOOD.split("oj_listings:\n", 1)[1].split("requirements:\n  - id: test-std:1", 1)[0]
    text = GOOD.replace("oj_listings:\n", "oj_listings:\n" + second, 1)
    errors = _errors(data_copy, text)
    assert any("more than one entry for eu-red-da" in e for e in errors), errors
