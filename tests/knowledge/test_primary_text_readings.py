"""Facts corrected on reading the primary texts (issue #13): each test pins the reading, so that
a later edit back to the secondary-source version fails here and has to be argued afresh.

The texts were read in vendored copies of the OJ, EUR-Lex and legislation.gov.uk publications;
every citation verified that way names the copy it was read in (the last test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prodsec.core.knowledge import KnowledgeBase


def _text(doc: dict[str, Any]) -> str:
    return " ".join(str(doc["text"]).split())


def test_psti_northern_ireland_exception_is_not_limited_to_vehicles(kb: KnowledgeBase) -> None:
    """SI 2023/1007 Sch. 3 para. 1: any product under Windsor Framework Annex 2 legislation
    with a free movement article, made available for supply in Northern Ireland."""
    (item,) = [i for i in kb.lists["uk-psti:schedule-3"]["items"] if i["id"] == "uk-psti:schedule-3:1"]
    text = _text(item)
    assert "Annex 2 to the Windsor Framework" in text and "free movement article" in text
    assert "Not limited to vehicles" in text
    assert item["citation"].get("verified", True) is True


def test_psti_importer_and_manufacturer_duties_read_as_enacted(kb: KnowledgeBase) -> None:
    assert "knows or believes" in _text(kb.requirement("uk-psti:s-14"))          # Act s. 16(1)(b)
    s11 = _text(kb.requirement("uk-psti:s-11"))                                 # Act s. 11(2)
    assert "prevent the product being made available" in s11 and "and to remedy" in s11


def test_psti_deemed_compliance_for_support_periods_needs_more_than_5_3_13(
        kb: KnowledgeBase) -> None:
    """Sch. 2 para. 3(2): 5.3-13 only subject to Sch. 1 para. 3(3), (5), (6)."""
    relations = {other: rel for other, rel, _ in kb.mapped("uk-psti:schedule-1:3")}
    assert relations["etsi-en-303-645:5.3-13"] == "superset"


def test_cra_ehr_conformity_follows_the_inserted_article_32_5a(kb: KnowledgeBase) -> None:
    req = kb.requirement("eu-cra:art-32:5a")
    assert "Chapter III" in _text(req) and "together with" not in _text(req)
    assert req["citation"].get("verified", True) is True


def test_cra_csirt_delay_act_covers_every_notification_and_its_date(kb: KnowledgeBase) -> None:
    (entry,) = [d for d in kb.regulation("eu-cra")["dates"] if d["id"] == "csirt-delay-grounds"]
    assert entry["date"] == "2026-05-10"              # OJ 20.4.2026 + 20 days (Art. 6)
    assert "severe incident" in _text(entry) and entry["citation"].get("verified", True) is True


def test_nist_ir_8425_outcomes_are_cited_by_section_not_table(kb: KnowledgeBase) -> None:
    reqs = kb.standard("nist-ir-8425")["requirements"]
    assert len(reqs) == 10
    for req in reqs:
        assert req["citation"]["ref"].startswith(("Sec. 2.2.1", "Sec. 2.2.2")), req["id"]


def _citations(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "ref" in node and "note" in node:
            yield node
        for value in node.values():
            yield from _citations(value)
    elif isinstance(node, list):
        for value in node:
            yield from _citations(value)


def test_every_citation_verified_in_a_vendored_copy_names_the_copy(kb: KnowledgeBase) -> None:
    readings = [c for c in _citations(kb.data) if "Verified 2026-12-03" in str(c["note"])]
    assert len(readings) >= 30
    for citation in readings:
        assert "github.com/" in citation["note"], citation["ref"]
        assert citation.get("verified", True) is True, citation["ref"]
