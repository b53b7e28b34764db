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
from prodsec.errors import NotApplicable as NotApplicable

BINDING = ("required", "upcoming", "voluntary")


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


def open_requirements(inputs: Inputs, facts: Facts, a: AssessmentData | None,
                      own: tuple[str, ...] = ()) -> list[Gap]:
    """A declaration states conformity: every requirement must be met or justified as n/a —
    except the ones asking for this very document (``own``), which issuing it fulfils."""
    if a is None:
        return []
    name = product_name(inputs)
    return [facts.flag(f"status.{r.id}", f"{r.id} ({r.title}) is {r.status}",
                       f"prodsec status {name!r} {r.id} --set met --evidence FILE")
            for r in sorted_rows(inputs.kb, a)
            if r.status not in ("met", "not-applicable") and not r.id.startswith(own or ("\0",))]


LISTED = ("listed", "listed-with-restrictions")


def oj_entry(std: dict[str, Any], reg_id: str) -> dict[str, Any] | None:
    """What the knowledge base says of the standard's OJ listing under ``reg_id`` (``oj_listings``
    in the standard file: listed, listed with restrictions, not listed, withdrawn), or None."""
    for listing in std.get("oj_listings") or []:
        if listing.get("act") == reg_id:
            return dict(listing)
    return None


def oj_listing(std: dict[str, Any], reg_id: str, day: dt.date) -> dict[str, Any] | None:
    """The standard's OJ listing under ``reg_id`` if its reference was published by ``day``: a
    standard is harmonised for an act only once the OJ lists it for that act."""
    entry = oj_entry(std, reg_id)
    if entry is None or entry.get("status") not in LISTED:
        return None
    published = _day(entry.get("published") or entry.get("date"))
    return entry if published is not None and published <= day else None


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _restriction_bites(inputs: Inputs, std: dict[str, Any], rule: Any) -> bool | None:
    """Whether an OJ restriction applies to this product: True/False from the profile, None
    when the rule needs a fact the profile lacks or the restriction has no rule at all."""
    if rule is None or inputs.product is None:
        return None
    from prodsec.core.profile import parse_profile

    node = inputs.kb.compile(rule, std)
    profile = parse_profile(inputs.product.profile, inputs.kb.vocabulary, inputs.product.name)
    return node.value(profile) if node is not None else None


def standards_block(inputs: Inputs, reg_id: str,
                    facts: Facts | None = None) -> list[dict[str, Any]]:
    """The standards the team applied, each either a harmonised standard (its reference was in
    the OJ for this act when the release was placed on the market) or an other technical
    specification; for harmonised ones, the OJ restrictions and whether one takes the
    presumption of conformity away from this product. With ``facts``, a restriction that turns
    on a design choice nobody answered is recorded as missing information."""
    kb = inputs.kb
    r = inputs.release
    day = r.placed_on_market if r is not None and r.placed_on_market else inputs.today
    out = []
    for item in inputs.docs.get("standards_applied") or []:
        std = kb.standards[item["standard"]]
        entry = oj_entry(std, reg_id)
        listing = oj_listing(std, reg_id, day)
        restrictions = [_restriction(inputs, facts, std, x)
                        for x in (listing or {}).get("restrictions") or []]
        harmonised = listing is not None
        out.append({"id": std["id"], "name": std.get("short_name") or std["title"],
                    "title": std["title"], "version": std.get("version") or "",
                    "published": str(std.get("published") or ""), "extent": item["extent"],
                    "parts": item["parts"], "harmonised": harmonised,
                    "listing": None if listing is None else {
                        "reference": listing.get("reference") or "",
                        "date": str(listing.get("published") or listing.get("date") or ""),
                        "oj": listing.get("oj") or "",
                        "cite": cite(kb, listing["citation"], std)},
                    # the document also rests on "not listed" when it says so
                    "not_listed_cite": (cite(kb, entry["citation"], std)
                                        if entry is not None and not harmonised else ""),
                    "covers": list((listing or {}).get("essential_requirements") or []),
                    "restrictions": restrictions,
                    "restricted": [x for x in restrictions if x["bites"]],
                    "presumption": harmonised and item["extent"] == "full"
                    and not any(x["bites"] for x in restrictions),
                    "relation": _relation(kb, reg_id, std["id"])})
    return out


ANSWERS = ("applies", "does-not-apply")


def restriction_key(std: dict[str, Any], r: dict[str, Any]) -> str:
    """How a restriction is named in an answer: ``<standard>:<restriction>``."""
    return f"{std['id']}:{r['id']}"


def _restriction(inputs: Inputs, facts: Facts | None, std: dict[str, Any],
                 r: dict[str, Any]) -> dict[str, Any]:
    """One OJ restriction for this product. ``bites`` True: it applies (no presumption);
    False: it does not; None: unanswered. Informative-only ones are notes.

    Whether it applies is never assumed: the profile decides where its rule says the product
    is of another kind (``applies_when`` false); a design choice the profile cannot express
    (``design_condition``, e.g. "the user may skip setting a password") is the manufacturer's
    explicit answer (``inputs.answers``) — without one an issued document stops and asks."""
    informative = r.get("effect") == "informative-only"
    key = restriction_key(std, r)
    condition = " ".join(str(r.get("design_condition") or "").split())
    answer = inputs.answers.get(key)
    bites: bool | None = None
    question: Any = None
    if not informative:
        bites = _restriction_bites(inputs, std, r.get("applies_when"))
        if bites is not False and (condition or r.get("applies_when") is None):
            bites = None if answer is None else answer == "applies"
            if answer is None and facts is not None:
                question = facts.need(None, f"restriction.{key}", (
                    f"whether {condition or 'this restriction applies'} "
                    f"({std.get('short_name') or std['id']}, OJ listing restriction {r['id']})"),
                    f"--restriction-answer {key}=applies|does-not-apply")
    return {"id": r["id"], "key": key, "text": " ".join(str(r["text"]).split()), "bites": bites,
            "informative": informative, "condition": condition,
            "answer": answer if not informative else None, "question": question,
            "cite": cite(inputs.kb, r["citation"], std)}


def _relation(kb: KnowledgeBase, reg_id: str, std_id: str) -> str | None:
    """What the instrument's own file says of the standard (e.g. PSTI deemed compliance)."""
    for s in kb.regulation(reg_id)["standards"]:
        if s["standard"] == std_id:
            return str(s["relation"])
    return None


def presumed(standards: list[dict[str, Any]], a: AssessmentData | None) -> bool:
    """Every applicable requirement is covered by a harmonised standard applied in full with
    its OJ presumption intact. A listing that does not say what it covers counts for all."""
    kept = [s for s in standards if s["presumption"]]
    if not kept:
        return False
    if any(not s["covers"] for s in kept) or a is None:
        return True
    covered = {rid for s in kept for rid in s["covers"]}
    return all(r.id in covered for r in a.rows if r.status != "not-applicable")


def needs_notified_body(inputs: Inputs, a: AssessmentData | None, reg_id: str) -> bool:
    """Third-party routes need one; 'self-if-harmonised' unless harmonised standards applied in
    full, presumption intact, cover every applicable requirement (Art. 32(2) CRA; Art.
    17(3)-(4) RED)."""
    if a is None or a.route in (None, "self", "none"):
        return False
    if a.route != "self-if-harmonised":
        return True
    return not presumed(standards_block(inputs, reg_id), a)


def notified_body_block(inputs: Inputs, facts: Facts, a: AssessmentData | None,
                        reg_id: str) -> dict[str, Any] | None:
    if not needs_notified_body(inputs, a, reg_id):
        return None
    return notified_body_value(inputs, facts)


def notified_body_value(inputs: Inputs, facts: Facts) -> dict[str, Any]:
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
    """The assessment's rows in the legal text's order; their citations are noted as facts
    the document rests on (the rows were cited when gathered, outside the generation)."""
    kb = inputs.kb
    for row in sorted_rows(kb, a):
        req = kb.requirements.get(row.id) or {}
        if req.get("citation"):
            cite(kb, req["citation"], kb.document(kb.document_id(row.id)))
    return sorted_rows(kb, a)


def covers_release(inputs: Inputs, facts: Facts, reg_id: str, obligation: str) -> str | None:
    """Which units of the release the declaration can cover, by the obligation's applies_from/
    until in the knowledge data. In EU product law each unit is placed on the market on its own
    (Blue Guide 2022, section 2.3), so a release first placed before an instrument applies still
    needs its declaration for the units placed once it does; only a release whose first units
    come after the instrument has ended is refused. Returns the sentence the declaration states
    about the units it covers, or None when that is all of them."""
    reg = inputs.kb.regulation(reg_id)
    r = inputs.release
    if r is None or r.placed_on_market is None:
        return None  # the release block names the gap
    for ob in (reg.get("applicability") or {}).get("obligations") or []:
        if ob["id"] != obligation:
            continue
        start, end = _day(ob.get("applies_from")), _day(ob.get("until"))
        first = r.placed_on_market
        cited = inputs.kb.cite(ob["citation"], reg)
        what = "the " + ob["title"][0].lower() + ob["title"][1:]
        if end and first > end:
            raise NotApplicable(
                f"{reg['short_name']} does not cover release {r.version_label} of "
                f"{product_name(inputs)!r}: its first units are placed on the market on {first}, "
                f"and {what} apply only to {end} ({cited}); no such declaration "
                "can be drawn up")
        if start and first < start:
            return (f"This declaration covers the units of release {r.version_label} placed on "
                    f"the market from {start}, when {what} apply ({cited}); the "
                    f"release was first placed on the market on {first}.")
        if end:
            return (f"This declaration covers the units of release {r.version_label} placed on "
                    f"the market up to {end}, when {what} cease to apply "
                    f"({cited}).")
        return None
    return None


# A delegated act that ends leaves its parent act in force: Delegated Regulation (EU) 2022/30
# is repealed from 2027-12-11 (Delegated Regulation (EU) 2026/339, Art. 1), but radio equipment
# stays under Directive 2014/53/EU itself.
PARENT_ACTS = {"eu-red-da": "Directive 2014/53/EU (Radio Equipment Directive)"}


def other_legislation(inputs: Inputs) -> list[dict[str, str]]:
    """The other Union harmonisation legislation the product complies with, for Annex V point
    5 / RED Annex VI point 5: exactly what the user entered (``--other-legislation``).

    Never added by prodsec itself: having assessed one act's cyber requirements (e.g. the RED
    delegated act) is not an assessment against the whole act, so listing it would make the
    signer certify conformity nobody recorded. ``suggested_legislation`` names candidates in
    drafts only."""
    return [{"id": "", "text": line.strip()}
            for line in str(inputs.docs.get("other_legislation") or "").splitlines()
            if line.strip()]


def suggested_legislation(inputs: Inputs, own: str) -> list[str]:
    """Other mandatory EU acts the product was assessed against (or whose parent act covers
    it), not yet entered: shown in a draft as a prompt, never stated in the issued form."""
    kb = inputs.kb
    entered = " ".join(line["text"] for line in other_legislation(inputs))
    out = []
    for reg_id, a in sorted(inputs.assessments.items()):
        reg = kb.regulation(reg_id)
        if reg_id == own or a.status not in ("required", "upcoming") \
                or "EU" not in (reg.get("markets") or []) or reg.get("binding") != "mandatory":
            continue
        try:
            covers_release(inputs, Facts(), reg_id, _main_obligation(reg))
            text = str(reg["legal_reference"]).split(",")[0].strip() + f" ({reg['short_name']})"
        except NotApplicable:
            if reg_id not in PARENT_ACTS:
                continue
            text = PARENT_ACTS[reg_id]
        else:
            if not _overlap(units_window(inputs, own), units_window(inputs, reg_id)):
                continue  # e.g. the CRA for RED-declared units placed before 2027-12-11
        if text.split(" (")[0] not in entered:
            out.append(text)
    return out


def units_window(inputs: Inputs, reg_id: str) -> tuple[dt.date, dt.date | None] | None:
    """The placing dates of this release's units that the instrument's main obligation
    covers: from the later of first placing and its start, to its end (None: open)."""
    r = inputs.release
    if r is None or r.placed_on_market is None:
        return None
    reg = inputs.kb.regulation(reg_id)
    wanted = _main_obligation(reg)
    for ob in (reg.get("applicability") or {}).get("obligations") or []:
        if ob["id"] == wanted:
            start = _day(ob.get("applies_from"))
            return max(r.placed_on_market, start or r.placed_on_market), _day(ob.get("until"))
    return r.placed_on_market, None


def _overlap(a: tuple[dt.date, dt.date | None] | None,
             b: tuple[dt.date, dt.date | None] | None) -> bool:
    if a is None or b is None:
        return True
    return (a[1] is None or b[0] <= a[1]) and (b[1] is None or a[0] <= b[1])


def other_specifications(inputs: Inputs) -> list[str]:
    """Other technical specifications the user named (free text, one per line, e.g. "EN 300
    328 V2.2.2"), besides the knowledge base's standards: a RED declaration must also cite the
    radio, EMC and safety specifications (Annex VI point 6), which the knowledge base does not
    hold."""
    return [line.strip() for line in str(inputs.docs.get("other_specifications") or "")
            .splitlines() if line.strip()]


def _main_obligation(reg: dict[str, Any]) -> str:
    obligations = (reg.get("applicability") or {}).get("obligations") or []
    ids = [o["id"] for o in obligations]
    for wanted in ("conformity-assessment", "essential-requirements", "security-requirements"):
        if wanted in ids:
            return wanted
    return ids[0] if ids else ""


def iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""
