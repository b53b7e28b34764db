"""One builder per document kind: from the gathered inputs to the template's context.

A builder reads facts only from the workspace (through ``Facts``, so gaps are named) and the
knowledge base (with citations); the fixed sentences in the templates are paraphrases of what
the cited provision asks the document to state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prodsec.documents import blocks as b
from prodsec.documents import models
from prodsec.documents.facts import Facts, cite, formal, month_year
from prodsec.documents.gather import Inputs

Builder = Callable[[Inputs, Facts], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """A document kind: its builder, template, title, formats and whether it needs a product."""

    name: str
    title: str
    build: Builder
    template: str
    formats: tuple[str, ...] = ("md", "html", "pdf")
    needs_product: bool = True


def _base(inputs: Inputs, regulation: str | None = None) -> dict[str, Any]:
    kb = inputs.kb
    out: dict[str, Any] = {"issued": inputs.today.isoformat(), "kb_version": kb.version,
                           "law_as_of": kb.law_as_of}
    if regulation:
        reg = kb.regulation(regulation)
        out["reg"] = {"id": reg["id"], "formal": formal(reg), "short": reg["short_name"],
                      "title": reg["title"], "legal_reference": reg["legal_reference"]}
    return out


# ---- CRA: EU declaration of conformity (Annex V) and the simplified one (Annex VI) --------

OWN_ARTICLES = ("eu-cra:art-28", "eu-cra:art-13:20")  # drawing up the declaration itself


def eu_declaration(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    """Annex V, point by point. Standards are harmonised only where their reference is in the
    OJ under the CRA (none is, as of the knowledge base's date); the rest are named as other
    technical specifications (point 6). Refused for a release placed on the market before
    the CRA's conformity-assessment obligations apply."""
    a = b.binding_assessment(inputs, facts, "eu-cra")
    coverage = b.covers_release(inputs, facts, "eu-cra", "conformity-assessment")
    standards = b.standards_block(inputs, "eu-cra", facts)
    return _base(inputs, "eu-cra") | {
        "coverage": coverage,
        "items": models.by_id(inputs.kb, "eu-declaration"),
        "product": b.product_block(inputs, facts),
        "manufacturer": b.manufacturer_block(inputs, facts),
        "harmonised": [s for s in standards if s["harmonised"]],
        "other_specs": [s for s in standards if not s["harmonised"]],
        "legislation": b.other_legislation(inputs),
        "suggested_legislation": b.suggested_legislation(inputs, "eu-cra"),
        "user_specs": b.other_specifications(inputs),
        "notified_body": b.notified_body_block(inputs, facts, a, "eu-cra"),
        "route": b.route_text(inputs.kb, "eu-cra", a),
        "open": b.open_requirements(inputs, facts, a, OWN_ARTICLES),
        "signature": b.signature_block(inputs, facts),
        "obligation": b.requirement_cite(inputs.kb, "eu-cra:art-28:1"),
    }


def eu_declaration_simplified(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    a = b.binding_assessment(inputs, facts, "eu-cra")
    coverage = b.covers_release(inputs, facts, "eu-cra", "conformity-assessment")
    return _base(inputs, "eu-cra") | {
        "coverage": coverage,
        "items": models.by_id(inputs.kb, "eu-declaration-simplified"),
        "product": b.product_block(inputs, facts),
        "manufacturer": b.manufacturer_block(inputs, facts),
        "doc_url": b.doc_field(inputs, facts, "doc_url"),
        "open": b.open_requirements(inputs, facts, a, OWN_ARTICLES),
        "obligation": b.requirement_cite(inputs.kb, "eu-cra:art-13:20"),
    }


# ---- RED: EU declaration of conformity (Directive 2014/53/EU, Annex VI) -------------------

RED_ROUTES = {
    "module-a": "internal production control (Module A, Annex II)",
    "module-b-c": "EU-type examination (Module B, Annex III) followed by conformity to type "
                  "based on internal production control (Module C)",
    "module-h": "conformity based on full quality assurance (Module H, Annex IV)",
}


def red_declaration(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    """RED Annex VI, item by item; the essential requirements declared are exactly those of
    Art. 3(3)(d), (e), (f) the assessment found applicable; only the route actually used."""
    a = b.binding_assessment(inputs, facts, "eu-red-da")
    coverage = b.covers_release(inputs, facts, "eu-red-da", "essential-requirements")
    standards = b.standards_block(inputs, "eu-red-da", facts)
    route = _red_route(inputs, facts, a, standards)
    return _base(inputs, "eu-red-da") | {
        "coverage": coverage,
        "items": models.by_id(inputs.kb, "red-declaration"),
        "product": b.product_block(inputs, facts),
        "serials": b.doc_field(inputs, facts, "serial_numbers"),
        "manufacturer": b.manufacturer_block(inputs, facts),
        "requirements": [r for r in (b.table_rows(inputs, a) if a else [])
                         if r.status != "not-applicable"],
        "legislation": b.other_legislation(inputs),
        "suggested_legislation": b.suggested_legislation(inputs, "eu-red-da"),
        "user_specs": b.other_specifications(inputs),
        "harmonised": [s for s in standards if s["harmonised"]],
        "other_specs": [s for s in standards if not s["harmonised"]],
        "route": route,
        "notified_body": (b.notified_body_value(inputs, facts)
                          if route["id"] in ("module-b-c", "module-h") else None),
        "accessories": b.doc_field(inputs, facts, "accessories"),
        "open": b.open_requirements(inputs, facts, a),
        "signature": b.signature_block(inputs, facts),
    }


def _red_route(inputs: Inputs, facts: Facts, a: Any,
               standards: list[dict[str, Any]]) -> dict[str, Any]:
    """The conformity assessment procedure the manufacturer used (an input, never guessed).
    Module A is only open where harmonised standards were applied in full with their OJ
    presumption intact (Art. 17(3)); otherwise Art. 17(4) requires B+C or H."""
    reg = inputs.kb.regulation("eu-red-da")
    used = b.doc_field(inputs, facts, "conformity_route")
    name = b.product_name(inputs)
    where = f"prodsec product docs {name!r} --conformity-route {'|'.join(RED_ROUTES)}"
    if not isinstance(used, str):
        return {"id": "", "text": used, "cite": ""}
    if used not in RED_ROUTES:
        gap = facts.flag("product.conformity_route.invalid",
                         f"a conformity route among {', '.join(RED_ROUTES)} (got {used!r})", where)
        return {"id": "", "text": gap, "cite": ""}
    full = b.presumed(standards, a)
    if used == "module-a" and not full:
        gap = facts.flag("product.conformity_route.module-a",
                         "Module A is not open: not every applicable requirement is covered by a "
                         "harmonised standard applied in full with its OJ presumption intact "
                         "(Directive 2014/53/EU, Art. 17(4))", where)
        return {"id": used, "text": gap, "cite": ""}
    article = "Art. 17(3)" if full else "Art. 17(4)"
    citation = next((c["citation"] for c in reg.get("conformity") or []
                     if c["citation"]["ref"].startswith(article)), None)
    return {"id": used, "text": RED_ROUTES[used],
            "cite": cite(inputs.kb, citation, reg) if citation else ""}


# ---- CRA technical documentation (Annex VII) ----------------------------------------------


def technical_file(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    kb = inputs.kb
    a = b.binding_assessment(inputs, facts, "eu-cra")
    product = b.product_block(inputs, facts)
    return _base(inputs, "eu-cra") | {
        "items": b.list_items(kb, "eu-cra:annex-vii"),
        "product": product,
        "manufacturer": b.manufacturer_block(inputs, facts),
        "assessment": a,
        "route": b.route_text(kb, "eu-cra", a),
        "purpose": b.doc_field(inputs, facts, "intended_purpose"),
        "illustrations": ("" if product["software_only"]
                          else b.doc_field(inputs, facts, "illustrations")),
        "design": b.doc_field(inputs, facts, "design_description"),
        "vulnerability": _vulnerability_handling(inputs, facts),
        "production": b.doc_field(inputs, facts, "production_monitoring"),
        "risk": _risk(inputs, facts),
        "support": _support(inputs, product),
        "standards": b.standards_block(inputs, "eu-cra", facts),
        "rows": b.table_rows(inputs, a) if a else [],
        "reports": _reports(inputs, a),
        "notified_body": b.notified_body_block(inputs, facts, a, "eu-cra"),
        "annex_i_points": [r for r in (b.table_rows(inputs, a) if a else [])
                           if r.id.startswith("eu-cra:annex-i:part-i:")],
    }


def _vulnerability_handling(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    return {"contact": b.org(inputs, facts, "security_contact"),
            "vdp_url": b.org(inputs, facts, "vdp_url"),
            "sbom": b.doc_field(inputs, facts, "sbom_url"),
            "updates": b.doc_field(inputs, facts, "update_mechanism"),
            "cite": b.requirement_cite(inputs.kb, "eu-cra:annex-i:part-ii:5")}


def _risk(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    import hashlib

    text = b.doc_field(inputs, facts, "risk_assessment")
    sha = hashlib.sha256(text.encode()).hexdigest() if isinstance(text, str) else ""
    return {"text": text, "sha256": sha,
            "cite": b.requirement_cite(inputs.kb, "eu-cra:art-13:3")}


def _support(inputs: Inputs, product: dict[str, Any]) -> dict[str, Any]:
    req = inputs.kb.requirement("eu-cra:art-13:8")
    minimum = int(req.get("params", {}).get("support_period_min_years", 0))
    years = product["release"]["support_years"]
    return {"minimum": minimum, "years": years, "cite": b.requirement_cite(inputs.kb, req["id"]),
            "shorter": years is not None and years < minimum}


def _reports(inputs: Inputs, a: Any) -> list[dict[str, Any]]:
    """Evidence files and links attached to requirement statuses (Annex VII point 6)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for row in (b.table_rows(inputs, a) if a else []):
        for e in row.evidence:
            key = (e["sha256"] or "", e["url"] or "")
            seen.setdefault(key, e | {"requirements": []})["requirements"].append(row.id)
    return sorted(seen.values(), key=lambda e: (e["title"], e["sha256"] or ""))


# ---- CRA information and instructions to the user (Annex II) ------------------------------


def user_information(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    kb = inputs.kb
    b.binding_assessment(inputs, facts, "eu-cra")
    product = b.product_block(inputs, facts)
    end = product["release"]["support_end"]
    f = {name: b.doc_field(inputs, facts, name) for name in (
        "intended_purpose", "security_properties", "foreseeable_misuse", "doc_url",
        "support_type", "secure_use", "change_effects", "update_installation",
        "decommissioning", "auto_update_opt_out")}
    return _base(inputs, "eu-cra") | {
        "items": b.list_items(kb, "eu-cra:annex-ii"),
        "product": product, "manufacturer": b.manufacturer_block(inputs, facts),
        "contact": b.org(inputs, facts, "security_contact"),
        "vdp_url": b.org(inputs, facts, "vdp_url"),
        "support_end_month": month_year(end) if isinstance(end, dt.date) else end,
        "f": f, "integrator": inputs.docs.get("integrator_info") or "",
        "sbom_url": inputs.docs.get("sbom_url") or "",
        "contact_cite": b.requirement_cite(kb, "eu-cra:art-13:17"),
        "end_cite": b.requirement_cite(kb, "eu-cra:art-13:19"),
    }


# ---- UK PSTI statement of compliance (Schedule 4) ----------------------------------------


def psti_statement(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    """The statement of compliance per the PSTI Regulations' minimum contents (reg. 7, Sch. 4);
    deemed compliance (Sch. 2) names only standards the instrument itself lists for it."""
    a = b.binding_assessment(inputs, facts, "uk-psti")
    coverage = b.covers_release(inputs, facts, "uk-psti", "security-requirements")
    standards = b.standards_block(inputs, "uk-psti", facts)
    return _base(inputs, "uk-psti") | {
        "coverage": coverage,
        "items": models.by_id(inputs.kb, "psti-statement"),
        "product": b.product_block(inputs, facts),
        "manufacturer": b.manufacturer_block(inputs, facts),
        "requirements": [r for r in (b.table_rows(inputs, a) if a else [])
                         if r.id.startswith("uk-psti:schedule-1:")],
        "deemed": [s | {"cite": _deemed_cite(inputs, s["id"])}
                   for s in standards if s["relation"] == "deemed-compliance"],
        "open": b.open_requirements(inputs, facts, a),
        "signature": b.signature_block(inputs, facts),
        "obligation": b.requirement_cite(inputs.kb, "uk-psti:s-9"),
    }


def _deemed_cite(inputs: Inputs, std_id: str) -> str:
    reg = inputs.kb.regulation("uk-psti")
    rel = next(s for s in reg["standards"] if s["standard"] == std_id)
    return cite(inputs.kb, rel["citation"], reg)


# ---- vulnerability disclosure policy ------------------------------------------------------

VDP_REQUIREMENTS = ("uk-psti:schedule-1:2", "etsi-en-303-645:5.2-1", "us-cisa-sbd-pledge:goal-5",
                    "eu-cra:annex-i:part-ii:5", "eu-cra:annex-i:part-ii:6")


def vdp(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    """One policy for the organisation, meeting PSTI Sch. 1 para. 2, EN 303 645 5.2-1 and
    pledge goal 5 at once; the sections each requirement asks for are named in the output."""
    kb = inputs.kb
    harbour = b.org(inputs, facts, "safe_harbour")
    if harbour is False:
        harbour = facts.flag("org.safe_harbour", "authorisation of good-faith research with no "
                             "legal action (pledge goal 5 asks for it)", "prodsec org set --safe-harbour")
    return _base(inputs) | {
        "name": b.org(inputs, facts, "legal_name"),
        "contact": b.org(inputs, facts, "security_contact"),
        "encryption": inputs.org.get("encryption_url") or "",
        "languages": b.org(inputs, facts, "preferred_languages"),
        "ack_days": b.org(inputs, facts, "ack_days"),
        "update_days": b.org(inputs, facts, "status_update_days"),
        "disclosure_days": b.org(inputs, facts, "disclosure_days"),
        "safe_harbour": harbour, "csaf": inputs.org.get("csaf_url") or "",
        "url": b.org(inputs, facts, "vdp_url"),
        "products": inputs.products,
        "requirements": [{"id": r, "title": kb.requirement(r)["title"],
                          "cite": b.requirement_cite(kb, r)} for r in VDP_REQUIREMENTS],
    }


# ---- CISA Secure by Design pledge progress report ----------------------------------------


def cisa_pledge_report(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    kb = inputs.kb
    a = b.binding_assessment(inputs, facts, "us-cisa-sbd-pledge")
    rows = {r.id: r for r in (b.table_rows(inputs, a) if a else [])}
    progress = inputs.docs.get("pledge_progress") or {}
    name = b.product_name(inputs)
    goals = []
    for req in kb.regulation("us-cisa-sbd-pledge")["requirements"]:
        key = req["id"].rsplit(":", 1)[1]
        narrative = facts.need(progress.get(key), f"product.pledge_progress.{key}",
                               f"the progress made on {req['title']} ({key})",
                               f"prodsec product docs {name!r} --pledge-progress {key}=TEXT")
        goals.append({"id": req["id"], "key": key, "title": req["title"], "text": req["text"],
                      "cite": b.requirement_cite(kb, req["id"]), "row": rows.get(req["id"]),
                      "narrative": narrative})
    signed = b.org(inputs, facts, "pledge_signed_on")
    due = _add_years(signed, 1) if isinstance(signed, str) else signed
    return _base(inputs, "us-cisa-sbd-pledge") | {
        "name": b.org(inputs, facts, "legal_name"), "product": b.product_block(inputs, facts),
        "signed": signed, "due": due, "goals": goals,
    }


def _add_years(iso: str, years: int) -> str:
    day = dt.date.fromisoformat(iso)
    try:
        return day.replace(year=day.year + years).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28).isoformat()


# ---- security.txt (RFC 9116) ---------------------------------------------------------------


def security_txt(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    contact = b.org(inputs, facts, "security_contact")
    if isinstance(contact, str) and "://" not in contact:
        contact = f"mailto:{contact}"
    expires = dt.datetime.combine(inputs.today + dt.timedelta(days=364), dt.time(),
                                  tzinfo=dt.UTC)
    return {"contact": contact, "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "encryption": inputs.org.get("encryption_url") or "",
            "policy": b.org(inputs, facts, "vdp_url"),
            "languages": b.org(inputs, facts, "preferred_languages"),
            "canonical": b.org(inputs, facts, "security_txt_url"),
            "csaf": inputs.org.get("csaf_url") or ""}
