"""The law's own model of each declaration: its items, in the order the provision lists them,
each with the citation of the provision that asks for it.

A declaration template renders one section per item of its model and nothing the model does
not ask for, so the document a manager signs has the shape market surveillance expects:

- CRA EU declaration of conformity: Regulation (EU) 2024/2847, Annex V (Art. 28);
- CRA simplified declaration: Annex VI (Art. 13(20));
- RED EU declaration of conformity: Directive 2014/53/EU, Annex VI (Art. 18) — not the CRA's
  Annex V; the cybersecurity requirements it declares are Art. 3(3)(d)-(f) as made applicable
  by Delegated Regulation (EU) 2022/30;
- UK PSTI statement of compliance: the PSTI Regulations (SI 2023/1007), reg. 7 and Sch. 4.

CRA and PSTI items come from the knowledge base's ``contents`` lists; the RED items are kept
here because the RED file (owned by the knowledge data) has no list of its own yet.
``field_table`` lists every kind's items with their citations; a golden file holds it.
"""

from __future__ import annotations

from typing import Any

from prodsec.core.knowledge import KnowledgeBase
from prodsec.documents.facts import cite

RED_URL = "http://data.europa.eu/eli/dir/2014/53/oj"
RED_NOTE = ("Item wording paraphrased from Directive 2014/53/EU, Annex VI (OJ L 153, 22.5.2014, "
            "p. 62), checked 2026-12-03 against a text copy of the EUR-Lex consolidated version "
            "32014L0053 of 28.12.2024 (Annex VI unamended since the original act), Arts 16, 17 and "
            "18, vendored in github.com/sbd-community/handbook, "
            "source-material/RED-CELEX02014L0053-20241228.md. Point 9 is 'Additional "
            "information'; the signature block follows it.")

RED_ANNEX_VI: tuple[tuple[str, str, str], ...] = (
    ("red:annex-vi:1", "Radio equipment: product, type, batch or serial number.", "Annex VI, point 1"),
    ("red:annex-vi:2", "Name and address of the manufacturer or its authorised representative.",
     "Annex VI, point 2"),
    ("red:annex-vi:3", "Statement that the declaration is issued under the sole responsibility "
     "of the manufacturer.", "Annex VI, point 3"),
    ("red:annex-vi:4", "Object of the declaration: identification of the radio equipment "
     "allowing traceability (a colour image may be added where needed to identify it).",
     "Annex VI, point 4"),
    ("red:annex-vi:5", "Statement that the object is in conformity with the relevant Union "
     "harmonisation legislation: Directive 2014/53/EU and other Union harmonisation "
     "legislation where applicable.", "Annex VI, point 5; Art. 18(3)"),
    ("red:annex-vi:6", "References to the relevant harmonised standards used, or to the other "
     "technical specifications in relation to which conformity is declared, with "
     "identification number, version and, where applicable, date of issue.",
     "Annex VI, point 6; Art. 16"),
    ("red:annex-vi:7", "Where applicable: the notified body (name, number), what it did and "
     "the EU-type examination certificate it issued.", "Annex VI, point 7; Art. 17(3)-(4)"),
    ("red:annex-vi:8", "Where applicable: the accessories and components, including software, "
     "that let the radio equipment operate as intended and are covered by the declaration.",
     "Annex VI, point 8"),
    ("red:annex-vi:9", "Additional information: signed for and on behalf of; place and date of "
     "issue; name, function; signature.", "Annex VI, point 9"),
)

LISTS = {"eu-declaration": "eu-cra:annex-v", "eu-declaration-simplified": "eu-cra:annex-vi",
         "psti-statement": "uk-psti:schedule-4"}
KINDS = ("eu-declaration", "eu-declaration-simplified", "red-declaration", "psti-statement")


def red_citation(ref: str) -> dict[str, Any]:
    return {"ref": ref, "instrument": "Directive 2014/53/EU", "url": RED_URL,
            "verified": True, "note": RED_NOTE}


def items(kb: KnowledgeBase, kind: str) -> list[dict[str, str]]:
    """The model's items for a declaration kind, in order: id, text, citation as printed."""
    if kind == "red-declaration":
        reg = kb.regulation("eu-red-da")
        return [{"id": i, "text": t, "cite": cite(kb, red_citation(ref), reg)}
                for i, t, ref in RED_ANNEX_VI]
    lst = kb.lists[LISTS[kind]]
    doc = kb.document(kb.document_id(LISTS[kind]))
    return [{"id": i["id"], "text": i["text"],
             "cite": cite(kb, i.get("citation") or lst["citation"], doc)} for i in lst["items"]]


def by_id(kb: KnowledgeBase, kind: str) -> dict[str, dict[str, str]]:
    return {i["id"]: i for i in items(kb, kind)}


def field_table(kb: KnowledgeBase) -> str:
    """Every declaration's items and the provision each comes from, as Markdown (a golden)."""
    out = []
    for kind in KINDS:
        out += [f"## {kind}", "", "| Item | Asks for | Provision |", "|---|---|---|"]
        out += [f"| {i['id']} | {i['text']} | {i['cite']} |" for i in items(kb, kind)]
        out.append("")
    return "\n".join(out)
