"""The information documents need and no product profile holds: the manufacturer's details
(one per organisation) and a product's documentation (risk assessment, design, instructions,
standards applied, notified body, pledge progress).

Each field is declared once, with a label and the CLI option that sets it, so a document that
finds a field empty can say exactly what is missing and where to enter it. Every change goes
through these services and lands in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.models import OrgProfile, ProductDocumentation
from prodsec.services.knowledge import eu_member_states
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.products import _flush, check_version, get_product


@dataclass(frozen=True)
class Field:
    """One piece of information: what it is and the command that enters it."""

    name: str
    label: str
    option: str
    kind: str = "text"  # text, email-or-url, url, int, bool, date, country, languages, json

    def where(self, scope: str) -> str:
        if scope == "org":
            return f"prodsec org set {self.option}"
        return f"prodsec product docs PRODUCT {self.option}"


ORG_FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("legal_name", "the manufacturer's registered name", "--legal-name"),
    Field("trade_name", "the manufacturer's trade name or trademark", "--trade-name"),
    Field("postal_address", "the manufacturer's postal address", "--address"),
    Field("contact_email", "the manufacturer's contact e-mail", "--contact", "email"),
    Field("website", "the manufacturer's website", "--website", "url"),
    Field("security_contact", "the single point of contact for vulnerability reports",
          "--security-contact", "email-or-url"),
    Field("vdp_url", "the URL of the published vulnerability disclosure policy", "--vdp-url",
          "url"),
    Field("security_txt_url", "the canonical URL of security.txt", "--security-txt-url", "url"),
    Field("csaf_url", "the URL of the CSAF provider metadata (advisory feed)", "--csaf-url", "url"),
    Field("encryption_url", "the URL of the key for encrypted reports", "--encryption-url", "url"),
    Field("preferred_languages", "the languages reports may be written in", "--languages",
          "languages"),
    Field("csirt_member_state", "the Member State of main establishment (coordinating CSIRT)",
          "--csirt-member-state", "country"),
    Field("authorised_representative", "the authorised representative's name and address",
          "--authorised-representative"),
    Field("signatory_name", "the name of the person who signs declarations", "--signatory-name"),
    Field("signatory_function", "the function of the person who signs declarations",
          "--signatory-function"),
    Field("place_of_issue", "the place where declarations are issued", "--place-of-issue"),
    Field("ack_days", "the days within which a vulnerability report is acknowledged",
          "--ack-days", "int"),
    Field("status_update_days", "the interval in days of status updates to a reporter",
          "--status-update-days", "int"),
    Field("disclosure_days", "the days after which a reporter may disclose publicly",
          "--disclosure-days", "int"),
    Field("safe_harbour", "whether good-faith research is authorised with no legal action",
          "--safe-harbour", "bool"),
    Field("pledge_signed_on", "the date the CISA Secure by Design pledge was signed",
          "--pledge-signed-on", "date"),
)}

PRODUCT_FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("type_designation", "the product type or model designation", "--type"),
    Field("intended_purpose", "the intended purpose and security environment",
          "--intended-purpose"),
    Field("security_properties", "the essential functionalities and security properties",
          "--security-properties"),
    Field("foreseeable_misuse", "the foreseeable circumstances and misuse that lead to risks",
          "--foreseeable-misuse"),
    Field("illustrations", "references to photographs or illustrations of the hardware",
          "--illustrations"),
    Field("design_description", "the design, development and architecture description",
          "--design"),
    Field("production_monitoring", "the production and monitoring processes",
          "--production-monitoring"),
    Field("update_mechanism", "the technical solution for secure update distribution",
          "--update-mechanism"),
    Field("risk_assessment", "the cybersecurity risk assessment", "--risk-assessment"),
    Field("sbom_url", "where the SBOM is kept or published", "--sbom"),
    Field("doc_url", "the internet address of the EU declaration of conformity", "--doc-url",
          "url"),
    Field("support_type", "the type of technical security support offered", "--support-type"),
    Field("secure_use", "instructions for secure commissioning and use", "--secure-use"),
    Field("change_effects", "how changes to the product can affect the security of data",
          "--change-effects"),
    Field("update_installation", "how security updates are installed", "--update-installation"),
    Field("decommissioning", "how to decommission securely and remove user data",
          "--decommissioning"),
    Field("auto_update_opt_out", "how automatic security updates can be turned off",
          "--auto-update-opt-out"),
    Field("integrator_info", "information integrators need (Annex I, Annex VII)",
          "--integrator-info"),
    Field("standards_applied", "the standards applied (in full or in part)", "--standard",
          "json"),
    Field("notified_body", "the notified body, procedure and certificate", "--notified-body",
          "json"),
    Field("pledge_progress", "the progress narrative for each pledge goal", "--pledge-progress",
          "json"),
    Field("serial_numbers", "the batch or serial numbers the declaration covers (RED Annex VI "
          "point 1)", "--serial-numbers"),
    Field("accessories", "the accessories and components, including software, covered by the "
          "declaration, or 'none' (RED Annex VI point 8)", "--accessories"),
    Field("conformity_route", "the conformity assessment procedure used: module-a, module-b-c "
          "or module-h (RED Art. 17)", "--conformity-route"),
    Field("other_legislation", "other Union harmonisation legislation the product complies "
          "with, one per line (e.g. Directive 2011/65/EU)", "--other-legislation"),
    Field("other_specifications", "other technical specifications conformity is declared "
          "against, one per line, with version and date (e.g. EN 300 328 V2.2.2)",
          "--other-specifications"),
)}

ORG_TEXT = tuple(n for n, f in ORG_FIELDS.items() if f.kind not in ("int", "bool", "date"))
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
EXTENTS = ("full", "part")


# ---- validation ----------------------------------------------------------------------------


def _url(name: str, value: str) -> str:
    if not value.startswith("https://"):
        raise ValidationFailed(name, f"expected an https:// URL, got {value!r}")
    return value


def _check(field: Field, value: Any) -> Any:
    """Normalise one value; the empty string clears a text field, None clears the others."""
    if value is None or value == "":
        return None if field.kind in ("int", "bool", "date") else ""
    checkers = {
        "email": _email, "url": _url, "email-or-url": _email_or_url, "int": _days,
        "country": _country, "languages": _languages, "date": _day, "bool": _yes_no,
    }
    checker = checkers.get(field.kind)
    if field.kind not in ("int", "bool", "date", "json") and not isinstance(value, str):
        raise ValidationFailed(field.name, f"expected text, got {value!r}")
    if field.kind == "text":
        return str(value).strip()
    return checker(field.name, value) if checker else value


def _email(name: str, value: str) -> str:
    if not EMAIL.match(value):
        raise ValidationFailed(name, f"expected an e-mail address, got {value!r}")
    return value


def _email_or_url(name: str, value: str) -> str:
    value = value.removeprefix("mailto:")
    return _url(name, value) if value.startswith(("http://", "https://")) else _email(name, value)


def _days(name: str, value: Any) -> int:
    if not isinstance(value, int) or not 1 <= value <= 365:
        raise ValidationFailed(name, f"expected a number of days from 1 to 365, got {value!r}")
    return value


def _day(name: str, value: Any) -> dt.date:
    """A date, or its ISO text (as JSON and forms send it)."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(name, f"expected a date YYYY-MM-DD, got {value!r}") from None


def _yes_no(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(name, f"expected true or false, got {value!r}")
    return value


def _country(name: str, value: str) -> str:
    states = sorted(eu_member_states())
    if value.upper() not in states:
        raise ValidationFailed(name, f"expected an EU Member State code ({', '.join(states)})")
    return value.upper()


def _languages(name: str, value: str) -> str:
    tags = [t.strip() for t in value.split(",") if t.strip()]
    bad = [t for t in tags if not LANGUAGE.match(t)]
    if not tags or bad:
        raise ValidationFailed(name, f"expected comma-separated language tags (RFC 5646), got {value!r}")
    return ", ".join(tags)


# ---- organisation profile ------------------------------------------------------------------


def org_view(profile: OrgProfile | None) -> dict[str, Any]:
    out: dict[str, Any] = {name: None for name in ORG_FIELDS}
    if profile is None:
        return out | {"version": None}
    for name in ORG_FIELDS:
        value = getattr(profile, name)
        out[name] = value.isoformat() if isinstance(value, dt.date) else value
    return out | {"version": profile.version}


def get_org_profile(session: Session, actor: Actor) -> OrgProfile | None:
    return session.scalar(select(OrgProfile).where(OrgProfile.org_id == actor.org_id))


def set_org_profile(session: Session, actor: Actor, changes: dict[str, Any],
                    if_match: int | None = None) -> OrgProfile:
    """Update the named fields only (others keep their value); audited before → after.
    Admins only: these are the organisation's legal identity, which every declaration of every
    product states and a signatory signs for."""
    actor.require("admin")
    profile = get_org_profile(session, actor)
    if profile is None:
        profile = OrgProfile(org_id=actor.org_id, **{n: "" for n in ORG_TEXT})
        session.add(profile)
        before = None
    else:
        check_version(profile, if_match)
        before = org_view(profile)
    for name, value in changes.items():
        if name not in ORG_FIELDS:
            raise ValidationFailed(name, "unknown organisation field")
        setattr(profile, name, _check(ORG_FIELDS[name], value))
    _flush(session, profile)
    audit.record(session, actor, "org_profile.update", "org_profile", profile.id, before,
                 org_view(profile))
    return profile


# ---- product documentation -----------------------------------------------------------------


def get_product_docs(session: Session, actor: Actor, product_id: str) -> ProductDocumentation | None:
    return session.scalar(select(ProductDocumentation).where(
        ProductDocumentation.org_id == actor.org_id, ProductDocumentation.product_id == product_id))


def docs_view(docs: ProductDocumentation | None) -> dict[str, Any]:
    fields = dict(docs.fields) if docs else {}
    return {"fields": fields, "version": docs.version if docs else None}


def set_product_docs(session: Session, actor: Actor, kb: KnowledgeBase, product_ref: str,
                     changes: dict[str, Any], if_match: int | None = None) -> ProductDocumentation:
    """Merge the given fields into the product's documentation; audited before → after."""
    actor.require("editor")
    product = get_product(session, actor, product_ref)
    docs = get_product_docs(session, actor, product.id)
    before = docs_view(docs) if docs else None
    if docs is None:
        docs = ProductDocumentation(org_id=actor.org_id, product_id=product.id, fields={})
        session.add(docs)
    else:
        check_version(docs, if_match)
    fields = dict(docs.fields)
    for name, value in changes.items():
        if name not in PRODUCT_FIELDS:
            raise ValidationFailed(name, "unknown product documentation field")
        fields[name] = _product_value(kb, PRODUCT_FIELDS[name], value)
    docs.fields = {k: v for k, v in fields.items() if v not in (None, "", [], {})}
    _flush(session, docs)
    audit.record(session, actor, "product_documentation.update", "product_documentation",
                 docs.id, before, docs_view(docs))
    return docs


def _product_value(kb: KnowledgeBase, field: Field, value: Any) -> Any:
    if field.name == "standards_applied":
        return [_standard(kb, i, s) for i, s in enumerate(value or [])]
    if field.name == "notified_body":
        return _notified_body(value) if value else None
    if field.name == "pledge_progress":
        return _pledge(kb, value or {})
    return _check(field, value)


def _standard(kb: KnowledgeBase, i: int, item: Any) -> dict[str, str]:
    """{standard: id in the knowledge base, extent: full|part, parts: which parts}."""
    name = f"standards_applied[{i}]"
    if not isinstance(item, dict) or item.get("standard") not in kb.standards:
        raise ValidationFailed(name, f"unknown standard; expected one of {', '.join(kb.standards)}")
    extent = item.get("extent", "full")
    if extent not in EXTENTS:
        raise ValidationFailed(name, "extent must be 'full' or 'part'")
    parts = str(item.get("parts") or "").strip()
    if extent == "part" and not parts:
        raise ValidationFailed(name, "a standard applied in part must name the parts applied")
    return {"standard": item["standard"], "extent": extent, "parts": parts}


def standard_spec(spec: str) -> dict[str, str]:
    """A standard as written on a command line or a form line: 'ID' (applied in full) or
    'ID:PARTS' (in part)."""
    sid, _, parts = spec.partition(":")
    return {"standard": sid.strip(), "extent": "part" if parts.strip() else "full",
            "parts": parts.strip()}


NOTIFIED_BODY_KEYS = ("name", "number", "procedure", "certificate")


def _notified_body(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValidationFailed("notified_body", "expected name, number, procedure, certificate")
    missing = [k for k in NOTIFIED_BODY_KEYS if not str(value.get(k) or "").strip()]
    if missing:
        raise ValidationFailed("notified_body", f"missing {', '.join(missing)}")
    return {k: str(value[k]).strip() for k in NOTIFIED_BODY_KEYS}


def _pledge(kb: KnowledgeBase, value: Any) -> dict[str, str]:
    goals = {r["id"].rsplit(":", 1)[1] for r in kb.regulation("us-cisa-sbd-pledge")["requirements"]}
    if not isinstance(value, dict) or set(value) - goals:
        raise ValidationFailed("pledge_progress", f"keys must be pledge goals: {', '.join(sorted(goals))}")
    return {k: str(v).strip() for k, v in sorted(value.items()) if str(v).strip()}


def set_release_support(session: Session, actor: Actor, product_ref: str, version_label: str,
                        support_end: dt.date | None, rationale: str | None) -> Any:
    """Correct a release's end of support or its rationale (the technical file states both);
    audited like every other change."""
    from prodsec.workspace.context import NotFound
    from prodsec.workspace.products import release_view, require_lawful_support

    actor.require("editor")
    product = get_product(session, actor, product_ref)
    release = next((r for r in product.releases if r.version_label == version_label), None)
    if release is None:
        raise NotFound(f"{product.name!r} has no release {version_label!r}")
    before = release_view(release)
    if support_end is not None:
        if release.placed_on_market and support_end < release.placed_on_market:
            raise ValidationFailed("support_end", "must not be before placed_on_market")
        release.support_end = support_end
    if rationale is not None:
        release.support_rationale = rationale.strip()
    require_lawful_support(release.placed_on_market, release.support_end,
                           release.expected_use_months, release.support_rationale)
    _flush(session, release)
    audit.record(session, actor, "release.update", "release", release.id, before,
                 release_view(release))
    return release
