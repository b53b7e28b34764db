"""Queries over the knowledge base, returning plain JSON-ready data.

The CLI (both its fast path and its Typer commands), the future API and the documents all call
these functions, so every face of prodsec shows the same content.
"""

from __future__ import annotations

from functools import lru_cache

from prodsec.core.knowledge import CATEGORIES, Doc, KnowledgeBase
from prodsec.core.limits import MAPPING_DEPTH
from prodsec.errors import InputError, NotFoundError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any

SUMMARY_FIELDS = (
    "id", "title", "short_name", "legal_reference", "jurisdiction", "markets", "kind", "binding",
    "binding_note", "product_level", "rigor", "rigor_note", "conformity", "strategy",
    "strategy_note", "scope", "goals", "dates", "standards", "authority", "penalties", "sources",
    "verified", "verified_note",
)


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """The shipped knowledge base, loaded once per process (from the hash-keyed cache)."""
    from prodsec.knowledge.loader import load_data

    return KnowledgeBase(load_data())


def eu_member_states() -> frozenset[str]:
    """The 27 EU member states, from the vocabulary's ``market_groups.EU`` (TEU Art. 52).

    Every list of member states in prodsec (Article 14 cases, document inputs) is this one, so
    a hand-written copy cannot drift from it (one once left out Hungary).
    """
    return frozenset(knowledge_base().vocabulary.market_groups["EU"])


def eu_member_state_names() -> list[tuple[str, str]]:
    """The codes of ``eu_member_states`` (the list that validates a Member State) with their
    names from the vocabulary's ISO 3166-1 countries, ordered by name: a form's choices."""
    names = knowledge_base().data["vocabulary"]["countries"]
    return sorted(((code, str(names.get(code, code))) for code in eu_member_states()),
                  key=lambda pair: pair[1])


def regulations(kb: KnowledgeBase) -> list[dict[str, Any]]:
    """Every instrument with its attributes and requirement counts by category."""
    return [_summary(reg) for reg in kb.regulations.values()]


def _summary(reg: Doc) -> dict[str, Any]:
    out = {k: reg.get(k) for k in SUMMARY_FIELDS}
    out["requirement_counts"] = {
        c: sum(1 for r in reg["requirements"] if r["category"] == c) for c in CATEGORIES
    }
    return out


def regulation(kb: KnowledgeBase, reg_id: str) -> dict[str, Any]:
    """One instrument in full: attributes, dated timeline, requirements by category, lists."""
    reg = kb.regulation(reg_id)
    out = _summary(reg)
    out["dates"] = sorted(reg["dates"], key=lambda d: d["date"])
    out["requirements"] = {
        c: [_requirement(kb, r, reg) for r in reg["requirements"] if r["category"] == c]
        for c in CATEGORIES
    }
    out["lists"] = reg["lists"]
    out["applicability"] = reg.get("applicability")
    return out


def _requirement(kb: KnowledgeBase, req: Doc, doc: Doc) -> dict[str, Any]:
    return {
        "id": req["id"], "document": doc["id"], "title": req["title"], "text": req["text"],
        "category": req["category"], "kind": req["kind"], "role": req["role"],
        "status": req.get("status"), "condition": req.get("condition"),
        "params": req.get("params") or {}, "deadlines": req.get("deadlines") or [],
        "citation": kb.cite(req["citation"], doc), "url": req["citation"].get("url"),
        "verified": req["citation"].get("verified", True),
    }


def requirements(
    kb: KnowledgeBase, regulation_id: str | None = None, category: str | None = None
) -> list[dict[str, Any]]:
    """Requirements of one or all instruments and standards, optionally of one category."""
    if category is not None and category not in CATEGORIES:
        raise NotFoundError("category", category, CATEGORIES)
    if regulation_id is not None:
        docs = [kb.document(regulation_id)] if regulation_id in kb.standards else [
            kb.regulation(regulation_id)]
    else:
        docs = [*kb.regulations.values(), *kb.standards.values()]
    return [
        _requirement(kb, r, doc)
        for doc in docs for r in doc["requirements"]
        if category is None or r["category"] == category
    ]


def mappings(kb: KnowledgeBase, requirement_id: str, depth: int = 2) -> dict[str, Any]:
    """A requirement and everything equal or overlapping with it across regimes."""
    if not 1 <= depth <= MAPPING_DEPTH:
        raise InputError(f"--depth must be between 1 and {MAPPING_DEPTH}, got {depth}")
    req = kb.requirement(requirement_id)
    doc = kb.document(kb.document_id(requirement_id))
    related = []
    for rel in kb.related(requirement_id, depth):
        other = kb.requirements[rel["requirement"]]
        other_doc = kb.document(kb.document_id(rel["requirement"]))
        related.append(rel | {
            "document": other_doc["id"], "title": other["title"], "category": other["category"],
            "citation": kb.cite(other["citation"], other_doc),
            "mapping_citations": rel["citations"],
        })
    for rel in related:
        del rel["citations"]
    return {"requirement": _requirement(kb, req, doc), "related": related}


def standards(kb: KnowledgeBase) -> list[dict[str, Any]]:
    """Every standard with the instruments that point to it."""
    users: dict[str, list[dict[str, str]]] = {s: [] for s in kb.standards}
    for reg in kb.regulations.values():
        for ref in reg["standards"]:
            users[ref["standard"]].append({"regulation": reg["id"], "relation": ref["relation"]})
    return [
        {k: std.get(k) for k in ("id", "title", "short_name", "publisher", "version", "status",
                                 "published", "url", "text", "verified")}
        | {"provisions": len(std["requirements"]), "referenced_by": users[std["id"]],
           "oj_listings": [_oj_listing(kb, o) for o in std.get("oj_listings") or []]}
        for std in kb.standards.values()
    ]


def _oj_listing(kb: KnowledgeBase, listing: Doc) -> dict[str, Any]:
    """An OJ listing as stored, with each citation rendered for reading (``kb.cite``) and its
    fields kept, so a declaration can test a restriction's ``applies_when`` itself."""
    act = kb.regulations.get(listing["act"])
    return listing | {
        "citation_text": kb.cite(listing["citation"], act),
        "restrictions": [r | {"citation_text": kb.cite(r["citation"], act)}
                         for r in listing["restrictions"]],
    }


def oj_listing(kb: KnowledgeBase, standard_id: str, act: str) -> dict[str, Any] | None:
    """Whether ``standard_id``'s reference is published in the OJ under ``act`` (a knowledge id
    such as ``eu-red-da``), with its restrictions; None when the knowledge base says nothing."""
    for listing in kb.standard(standard_id).get("oj_listings") or []:
        if listing["act"] == act:
            return _oj_listing(kb, listing)
    return None


def changes(kb: KnowledgeBase, since: str | None = None,
            recorded_since: str | None = None) -> dict[str, Any]:
    """The knowledge change log: changes of the law that can change verdicts, oldest first.

    ``since`` (YYYY-MM-DD) keeps the changes whose law changed on or after it (the entry's
    ``date``: when the act takes effect), so ``--since 2026-01-01`` never lists a 2020 act.
    ``recorded_since`` keeps those recorded in the knowledge base on or after it (``encoded``):
    what a user who last looked on that date has not seen yet, whatever the law's date. Both
    together keep the entries that meet both.
    """
    for option, value in (("--since", since), ("--recorded-since", recorded_since)):
        if value is not None:
            import datetime as dt

            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise InputError(f"{option}: expected a date YYYY-MM-DD, got {value!r}") from None
    rows = [dict(c) | {"citation": kb.cite(c["citation"])} for c in kb.changes
            if (since is None or c["date"] >= since)
            and (recorded_since is None or c["encoded"] >= recorded_since)]
    return {"law_as_of": kb.law_as_of, "since": since, "recorded_since": recorded_since,
            "changes": rows}


def changes_touching(kb: KnowledgeBase, regulations: set[str], functions: set[str],
                     since: str, inclusive: bool = False) -> list[Doc]:
    """Changes encoded after ``since`` (or on it, when ``inclusive``) that touch a product with
    these instruments and functions: a change touches it when it names one of its instruments
    and, if it names functions, one of the product's functions."""
    return [c for c in kb.changes
            if (c["encoded"] >= since if inclusive else c["encoded"] > since)
            and set(c["instruments"]) & regulations
            and (not c["functions"] or set(c["functions"]) & functions)]
