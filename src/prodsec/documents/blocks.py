"""Building blocks several documents share: the product's identity, the manufacturer, the
signature, standards applied, the notified body, the applicable assessment and its open
requirements. Each reads facts through ``Facts`` so a missing one becomes a named gap."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prodsec.core.knowledge import KnowledgeBase
from prodsec.documents.facts import Facts, Gap, cite
from prodsec.documents.gather import AssessmentData, Inputs, Row, sorted_rows
from prodsec.documents.info import ORG_FIELDS, PRODUCT_FIELDS
from prodsec.errors import InputError

BINDING = ("required", "upcoming", "voluntary")


class NotApplicable(InputError):
    """The document belongs to an instrument that does not apply to this product."""


def list_items(kb: KnowledgeBase, list_id: str) -> dict[str, dict[str, str]]:
    """A 'contents' list of the knowledge base (e.g. Annex V) as id → {text, cite}."""
    lst = kb.lists[list_id]
    doc = kb.document(kb.document_id(list_id))
    return {i["id"]: {"text": i["text"], "cite": cite(kb, i.get("citation") or lst["citation"], doc)}
            for i in lst["items"]}


def org(inputs: Inputs, facts: Facts, name: str) -> Any:
    f = ORG_FIELDS[name]
    return facts.need(inputs.org.get(name), f"org.{name}", f.label, f.where("org"))


def doc_field(inputs: Inputs, facts: Facts, name: str) -> Any:
    f = PRODUCT_FIELDS[name]
    product = inputs.product.name if inputs.product else "PRODUCT"
    where = f"prodsec product docs {product!r} {f.option}"
    return facts.need(inputs.docs.get(name), f"product.{name}", f.label, where)


def product_name(inputs: Inputs) -> str:
    assert inputs.product is not None
    return inputs.product.name


def release_block(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    """The release the document is about: version, market date, end of support and why."""
    name = product_name(inputs)
    r = inputs.release
    where = (f"prodsec product release {name!r} VERSION --placed-on-market YYYY-MM-DD "
             "--support-end YYYY-MM-DD --rationale TEXT")
    if r is None:
        gap = facts.flag("release", "a release of the product (version, market date, support end)",
                         where)
        return {"version": gap, "placed_on_market": gap, "support_end": gap, "rationale": gap,
                "support_years": None}
    rwhere = (f"prodsec product docs {name!r} --release {r.version_label} "
              "--support-end YYYY-MM-DD --support-rationale TEXT")
    end = facts.need(r.support_end, "release.support_end", "the end date of the support period",
                     rwhere)
    start = r.placed_on_market
    years = (round((r.support_end - start).days / 365.25, 1)
             if r.support_end and start else None)
    return {"version": r.version_label,
            "placed_on_market": facts.need(start, "release.placed_on_market",
                                           "the date the release is placed on the market", rwhere),
            "support_end": end, "support_years": years,
            "rationale": facts.need(r.support_rationale, "release.support_rationale",
                                    "how the support period was determined", rwhere)}


def product_block(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    profile = inputs.profile
    return {"name": profile["name"], "type": doc_field(inputs, facts, "type_designation"),
            "description": profile.get("description") or "",
            "software_only": bool(profile.get("software_only")),
            "release": release_block(inputs, facts)}


def manufacturer_block(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    return {"name": org(inputs, facts, "legal_name"),
            "address": org(inputs, facts, "postal_address"),
            "email": org(inputs, facts, "contact_email"),
            "website": inputs.org.get("website") or "",
            "trade_name": inputs.org.get("trade_name") or "",
            "representative": inputs.org.get("authorised_representative") or ""}


def signature_block(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    return {"on_behalf_of": org(inputs, facts, "legal_name"),
            "name": org(inputs, facts, "signatory_name"),
            "function": org(inputs, facts, "signatory_function"),
            "place": org(inputs, facts, "place_of_issue"),
            "date": inputs.today.isoformat()}


def binding_assessment(inputs: Inputs, facts: Facts, reg_id: str) -> AssessmentData | None:
    """The product's current assessment for the instrument; refuse if it does not apply."""
    doc = inputs.kb.regulation(reg_id)
    name = product_name(inputs)
    a = inputs.assessments.get(reg_id)
    if a is None:
        facts.flag(f"assessment.{reg_id}", f"an assessment of the product against {doc['short_name']}",
                   f"prodsec assess {name!r}")
        return None
    if a.status not in BINDING:
        raise NotApplicable(f"{doc['short_name']} does not bind {name!r} (assessed {a.status} "
                            f"as of {a.as_of}); no such document is needed")
    if a.stale:
        facts.flag(f"assessment.{reg_id}.stale",
                   "a current assessment (the profile or knowledge base changed since)",
                   f"prodsec assess {name!r}")
    return a


def open_requirements(inputs: Inputs, facts: Facts, a: AssessmentData | None) -> list[Gap]:
    """A declaration states conformity: every requirement must be met or justified as n/a."""
    if a is None:
        return []
    name = product_name(inputs)
    return [facts.flag(f"status.{r.id}", f"{r.id} ({r.title}) is {r.status}",
                       f"prodsec status {name!r} {r.id} --set met --evidence FILE")
            for r in sorted_rows(inputs.kb, a) if r.status not in ("met", "not-applicable")]


def standards_block(inputs: Inputs, reg_id: str) -> list[dict[str, Any]]:
    """The standards the team applied, with what the knowledge base says about each."""
    kb = inputs.kb
    reg = kb.regulation(reg_id)
    relations = {s["standard"]: s for s in reg["standards"]}
    out = []
    for item in inputs.docs.get("standards_applied") or []:
        std = kb.standards[item["standard"]]
        rel = relations.get(item["standard"])
        out.append({"id": std["id"], "name": std.get("short_name") or std["title"],
                    "title": std["title"], "version": std.get("version") or "",
                    "published": str(std.get("published") or ""), "extent": item["extent"],
                    "parts": item["parts"], "relation": rel["relation"] if rel else None,
                    "restriction": (rel or {}).get("restriction") or "",
                    "cite": cite(kb, rel["citation"], reg) if rel else ""})
    return out


def needs_notified_body(inputs: Inputs, a: AssessmentData | None, reg_id: str) -> bool:
    """Third-party routes need one; 'self-if-harmonised' unless a harmonised standard is
    applied in full (Art. 32(2) CRA; Art. 17(3)-(4) RED)."""
    if a is None or a.route in (None, "self", "none"):
        return False
    if a.route != "self-if-harmonised":
        return True
    return not any(s["relation"] == "harmonised" and s["extent"] == "full"
                   for s in standards_block(inputs, reg_id))


def notified_body_block(inputs: Inputs, facts: Facts, a: AssessmentData | None,
                        reg_id: str) -> dict[str, Any] | None:
    if not needs_notified_body(inputs, a, reg_id):
        return None
    value = doc_field(inputs, facts, "notified_body")
    return value if isinstance(value, dict) else {"name": value, "number": value,
                                                  "procedure": value, "certificate": value}


def route_text(kb: KnowledgeBase, reg_id: str, a: AssessmentData | None) -> dict[str, str]:
    """The conformity route the knowledge base gives for the product's category, cited."""
    reg = kb.regulation(reg_id)
    classes = {c["id"]: c for c in (reg.get("applicability") or {}).get("classes", [])}
    cls = classes.get(a.category or "") if a else None
    if cls:
        return {"title": cls["title"], "text": cls["text"], "cite": cite(kb, cls["citation"], reg)}
    for c in reg.get("conformity") or []:
        if a and c["route"] == a.route:
            return {"title": c["applies_to"], "text": c["text"], "cite": cite(kb, c["citation"], reg)}
    return {"title": "", "text": "", "cite": ""}


def requirement_cite(kb: KnowledgeBase, req_id: str) -> str:
    doc = kb.document(kb.document_id(req_id))
    return cite(kb, kb.requirement(req_id)["citation"], doc)


def table_rows(inputs: Inputs, a: AssessmentData) -> list[Row]:
    return sorted_rows(inputs.kb, a)


def iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""
