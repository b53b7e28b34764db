"""The CRA facts prodsec holds about a release, written into every SBOM and VEX it exports.

Who the manufacturer is (CRA Art. 13(16), Annex II (1)), where to report vulnerabilities
(Annex II (2), Art. 13(17)), until when security updates are provided (Art. 13(8), Annex II
(7)), where the EU declaration of conformity is (Annex II (6)) and the product identity
(``release_purl``, docs/vex.md). Each comes from what the organisation profile, the product's
documentation and the release hold; a value prodsec does not hold is not written but named in
``warnings``, with the command that records it — an export never invents one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import Organisation, OrgProfile, Product, ProductDocumentation, Release
from prodsec.workspace.context import Actor


@dataclass(frozen=True)
class CraMetadata:
    """The release's CRA facts; ``None`` or "" where prodsec holds none (see ``warnings``)."""

    product: str
    release: str
    purl: str
    manufacturer: str
    address: str = ""
    website: str = ""
    email: str = ""
    security_contact: str = ""
    vdp_url: str = ""
    security_txt_url: str = ""
    csaf_url: str = ""
    declaration_url: str = ""
    support_end: dt.date | None = None
    warnings: tuple[str, ...] = field(default=())


def organisation(session: Session, actor: Actor) -> str:
    """Who the organisation is in documents it issues: the legal name of its profile, else the
    workspace organisation's name (CSAF's publisher rule, shared by every VEX format)."""
    profile = session.scalar(select(OrgProfile).where(OrgProfile.org_id == actor.org_id))
    if profile is not None and profile.legal_name.strip():
        return profile.legal_name.strip()
    org = session.get(Organisation, actor.org_id)
    return org.name if org is not None else "unknown"


def slug(text: str) -> str:
    """Lower-case letters, digits, '.', '_' and '-' (a purl namespace or name needs no escape)."""
    import re

    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.") or "x"


def release_purl(maker: str, product: str, version: str | None) -> str:
    """The product identifier prodsec gives a release: ``pkg:generic/<org>/<product>@<version>``
    (docs/vex.md); without a version, the product's identifier across releases."""
    from packageurl import PackageURL

    return str(PackageURL(type="generic", namespace=slug(maker), name=slug(product),
                          version=version).to_string())


def gather(session: Session, actor: Actor, product: Product, release: Release, maker: str,
           purl: str) -> CraMetadata:
    """Read the release's CRA facts; each one missing becomes a warning naming how to set it.
    ``maker`` and ``purl`` are ``organisation`` and ``release_purl`` (passed in: callers
    have them already)."""
    profile = session.scalar(select(OrgProfile).where(OrgProfile.org_id == actor.org_id))
    docs = session.scalar(select(ProductDocumentation).where(
        ProductDocumentation.org_id == actor.org_id,
        ProductDocumentation.product_id == product.id))
    fields = dict(docs.fields) if docs is not None else {}

    def text(name: str) -> str:
        return str(getattr(profile, name, "") or "").strip()

    meta = CraMetadata(
        product=product.name, release=release.version_label, purl=purl,
        manufacturer=text("legal_name"), address=text("postal_address"),
        website=text("website"), email=text("contact_email"),
        security_contact=text("security_contact"), vdp_url=text("vdp_url"),
        security_txt_url=text("security_txt_url"), csaf_url=text("csaf_url"),
        declaration_url=str(fields.get("doc_url") or "").strip(),
        support_end=release.support_end)
    return _with_warnings(meta, maker)


def _with_warnings(meta: CraMetadata, maker: str) -> CraMetadata:
    from dataclasses import replace

    missing = []
    if not meta.manufacturer:
        missing.append(f"no manufacturer legal name in the organisation profile (prodsec org set "
                       f"--legal-name); the workspace organisation's name {maker!r} is written")
    if not meta.security_contact:
        missing.append("no security contact (prodsec org set --security-contact): not written")
    if meta.support_end is None:
        missing.append(f"release {meta.release} has no support period end (prodsec product docs "
                       f"PRODUCT --release {meta.release} --support-end): not written")
    if not meta.declaration_url:
        missing.append("no EU declaration of conformity URL (prodsec product docs PRODUCT --doc-url): "
                       "not written")
    return replace(meta, manufacturer=meta.manufacturer or maker, warnings=tuple(missing))


# ---- CycloneDX (1.6 and 1.7) -------------------------------------------------------------


def _contact_url(value: str) -> str:
    """A security contact as an IRI: an e-mail address becomes a mailto: URL."""
    return f"mailto:{value}" if "@" in value and "://" not in value and ":" not in value else value


def cyclonedx_references(meta: CraMetadata) -> list[dict[str, Any]]:
    """``externalReferences`` of the product: where to report, the policy, advisories, the
    declaration of conformity and the manufacturer's site (only those prodsec holds)."""
    refs = []
    for value, kind, comment in (
            (meta.security_contact, "security-contact",
             "single point of contact for vulnerability reports (CRA Art. 13(17), Annex II (2))"),
            (meta.vdp_url, "support", "coordinated vulnerability disclosure policy (CRA Annex I "
                                      "Part II (5))"),
            (meta.security_txt_url, "rfc-9116", "security.txt"),
            (meta.csaf_url, "advisories", "CSAF provider metadata"),
            (meta.declaration_url, "documentation",
             "EU declaration of conformity (CRA Art. 28, Annex II (6))"),
            (meta.website, "website", "manufacturer")):
        if value:
            url = _contact_url(value) if kind == "security-contact" else value
            refs.append({"url": url, "type": kind, "comment": comment})
    return refs


def cyclonedx_manufacturer(meta: CraMetadata) -> dict[str, Any]:
    """``metadata.manufacturer`` (an organizationalEntity): name, address, site, contact."""
    entity: dict[str, Any] = {"name": meta.manufacturer}
    if meta.address:
        entity["address"] = {"streetAddress": meta.address[:500]}
    if meta.website:
        entity["url"] = [meta.website]
    if meta.email:
        entity["contact"] = [{"email": meta.email}]
    return entity


#: The official CycloneDX property (taxonomy ``cdx:lifecycle:milestone``) for the date until
#: which the manufacturer gives assured support, software updates included: the CRA's
#: support period end (Art. 13(8)). Its value is an ISO 8601 date.
SUPPORT_END = "cdx:lifecycle:milestone:endOfGuaranteedSupport"


def cyclonedx_product_properties(meta: CraMetadata) -> list[dict[str, str]]:
    """Properties of the product (``metadata.component``), under names the CycloneDX property
    taxonomy defines. ``metadata.lifecycles`` is not the place for the support period: its
    phases (design, pre-build, build, post-build, operations, discovery, decommission) say in
    which stage the BOM's data was captured, which an export does not know."""
    if meta.support_end is None:
        return []
    return [{"name": SUPPORT_END, "value": meta.support_end.isoformat()}]


def apply_cyclonedx(doc: dict[str, Any], meta: CraMetadata) -> dict[str, Any]:
    """Write the CRA facts into a CycloneDX document: ``metadata.manufacturer`` (the creator of
    the BOM, TR-03183-2 table 8) and the product as ``metadata.component`` with its identifier,
    manufacturer (its creator, table 9), supplier, support end and references."""
    metadata = doc.setdefault("metadata", {})
    entity = cyclonedx_manufacturer(meta)
    metadata["manufacturer"] = entity
    subject = metadata.setdefault("component", {"type": "application", "bom-ref": "product"})
    subject.update({"name": meta.product, "version": meta.release, "purl": meta.purl})
    subject["manufacturer"] = dict(entity)
    subject["supplier"] = {"name": meta.manufacturer}
    properties = [p for p in subject.get("properties", []) if p.get("name") != SUPPORT_END]
    properties += cyclonedx_product_properties(meta)
    if properties:
        subject["properties"] = properties
    references = cyclonedx_references(meta)
    if references:
        subject["externalReferences"] = references
    return doc


# ---- CSAF 2.0 ----------------------------------------------------------------------------


def csaf_contact(meta: CraMetadata) -> str:
    """``document.publisher.contact_details``: where to report, how to reach, where we are."""
    return _contact_details(meta.security_contact, meta.email, meta.address)


def organisation_contact(session: Session, actor: Actor) -> str:
    """The organisation's ``contact_details`` as its CSAF documents carry them (no release
    needed): provider-metadata.json's publisher SHOULD match the documents' (CSAF 2.0 7.1.7)."""
    profile = session.scalar(select(OrgProfile).where(OrgProfile.org_id == actor.org_id))
    if profile is None:
        return ""
    return _contact_details(*(str(getattr(profile, name) or "").strip()
                              for name in ("security_contact", "contact_email", "postal_address")))


def _contact_details(security_contact: str, email: str, address: str) -> str:
    parts = [f"Security contact: {security_contact}" if security_contact else "",
             f"Email: {email}" if email else "", f"Address: {address}" if address else ""]
    return "; ".join(p for p in parts if p)[:1000]


def csaf_references(meta: CraMetadata) -> list[dict[str, str]]:
    """``document.references`` (category ``external``) for the CRA facts held as URLs."""
    refs = []
    for value, summary in (
            (meta.declaration_url, "EU declaration of conformity (CRA Art. 28, Annex II (6))"),
            (meta.vdp_url, "Coordinated vulnerability disclosure policy (CRA Annex I Part II (5))"),
            (meta.security_txt_url, "security.txt (RFC 9116)"),
            (meta.csaf_url, "CSAF provider metadata"),
            (_contact_url(meta.security_contact) if "://" in meta.security_contact else "",
             "Single point of contact for vulnerability reports (CRA Art. 13(17))")):
        if value.startswith(("https://", "http://")):
            refs.append({"category": "external", "summary": summary, "url": value})
    return refs


def csaf_notes(meta: CraMetadata) -> list[dict[str, str]]:
    """``document.notes``: the support period, which CSAF 2.0 has no field for."""
    if meta.support_end is None:
        return []
    return [{"category": "general", "title": "Support period (CRA Art. 13(8))",
             "text": f"Security updates for {meta.product} {meta.release} are provided until "
                     f"{meta.support_end.isoformat()}."}]


def apply_csaf(doc: dict[str, Any], meta: CraMetadata) -> dict[str, Any]:
    """Write the CRA facts into a CSAF document: the publisher's contact details, references,
    a support-period note, and the release's product identifier (``purl`` helper of its
    ``product_version`` branch) beside the generic URI it has."""
    document = doc["document"]
    contact = csaf_contact(meta)
    if contact:
        document["publisher"]["contact_details"] = contact
    document["references"] = [*document.get("references", []), *csaf_references(meta)]
    document["notes"] = [*document.get("notes", []), *csaf_notes(meta)]
    _csaf_release_purl(doc.get("product_tree", {}).get("branches") or [], meta.purl)
    return doc


def _csaf_release_purl(branches: list[dict[str, Any]], purl: str) -> None:
    for branch in branches:
        product = branch.get("product")
        if isinstance(product, dict):
            product.setdefault("product_identification_helper", {})["purl"] = purl
        _csaf_release_purl(branch.get("branches") or [], purl)
