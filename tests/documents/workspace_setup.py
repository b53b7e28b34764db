"""A deterministic test workspace: example products with fixed dates, every field documents
need, statuses met with evidence. Shared by the tests and bench/document.py."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.documents.info import set_org_profile, set_product_docs
from prodsec.workspace import compliance
from prodsec.workspace.context import Actor
from prodsec.workspace.products import add_product, add_release, assess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "products"
AS_OF = dt.date(2026, 11, 27)
TODAY = dt.date(2026, 12, 1)
# 1.0 is on the market under the RED delegated act; 2.0 will be placed on the market after the
# CRA's conformity-assessment obligations apply (2027-12-11), so CRA declarations are about it.
RED_RELEASE, CRA_RELEASE = "1.0", "2.0"

ORG = {
    "legal_name": "Example Devices GmbH", "trade_name": "HomeSight",
    "postal_address": "Musterstraße 1\n10115 Berlin\nGermany",
    "contact_email": "info@example.com", "website": "https://example.com",
    "security_contact": "security@example.com", "vdp_url": "https://example.com/security/policy",
    "security_txt_url": "https://example.com/.well-known/security.txt",
    "csaf_url": "https://example.com/.well-known/csaf/provider-metadata.json",
    "encryption_url": "https://example.com/security/pgp-key.txt",
    "preferred_languages": "en, de", "csirt_member_state": "DE",
    "signatory_name": "Erika Mustermann", "signatory_function": "Managing Director",
    "place_of_issue": "Berlin", "ack_days": 5, "status_update_days": 14,
    "disclosure_days": 90, "safe_harbour": True, "pledge_signed_on": dt.date(2026, 3, 1),
}


def docs_fields(product: str) -> dict[str, Any]:
    return {
        "type_designation": f"{product} model A1",
        "intended_purpose": f"{product} is used in homes and small offices as described in its profile.",
        "security_properties": "Encrypted transport (TLS 1.3), signed firmware, per-device credentials.",
        "foreseeable_misuse": "Exposure of the management interface to the internet; weak user-chosen passwords.",
        "illustrations": "Photographs P-01 to P-04 in the design folder (external features, label, board layout).",
        "design_description": "Embedded Linux firmware on an ARM SoC; a local web interface and a cloud companion app.",
        "production_monitoring": "Firmware images are built reproducibly and signed in a hardware security module.",
        "update_mechanism": "Signed over-the-air updates, verified by the boot loader, with rollback protection.",
        "risk_assessment": "Threat model per STRIDE; 24 threats, all treated. Residual risk accepted by the CISO.",
        "sbom_url": "https://example.com/sbom/a1.cdx.json",
        "doc_url": "https://example.com/conformity/a1",
        "support_type": "Security updates free of charge, delivered automatically.",
        "secure_use": "Set a strong password at first start; keep automatic updates on.",
        "change_effects": "Installing third-party firmware removes the integrity protection of user data.",
        "update_installation": "Updates install automatically overnight; a manual check is in Settings > Update.",
        "decommissioning": "Settings > Reset erases all data and keys; then unregister the device in the app.",
        "auto_update_opt_out": "Settings > Update > Automatic updates: off (not recommended).",
        "standards_applied": [{"standard": "etsi-en-303-645", "extent": "full", "parts": ""},
                              {"standard": "en-18031-1", "extent": "full", "parts": ""},
                              {"standard": "en-18031-2", "extent": "full", "parts": ""}],
        "notified_body": {"name": "Example Notified Body GmbH", "number": "0000",
                          "procedure": "EU-type examination (Module B) and conformity to type (Module C)",
                          "certificate": "EX-2026-0001"},
        "pledge_progress": {f"goal-{i}": f"Measured progress on goal {i}: see the public report."
                            for i in range(1, 8)},
        "serial_numbers": "Serial numbers HS2-A1-000001 to HS2-A1-050000",
        "accessories": "Power supply PSU-5V-2A; companion app HomeSight for Android and iOS, version 3.x",
        "conformity_route": "module-b-c",
        "other_legislation": "Directive 2011/65/EU (RoHS)",
    }


def load_profile(name: str) -> dict[str, Any]:
    raw = yaml.safe_load((EXAMPLES / name).read_text())
    raw.pop("format", None)
    return raw


def add_example(session: Session, actor: Actor, kb: KnowledgeBase, evidence_dir: Path,
                file: str, complete: bool = True) -> str:
    """Add an example product with one release, assess it, and (if complete) meet everything."""
    product = add_product(session, actor, kb, load_profile(file))
    add_release(session, actor, product.id, RED_RELEASE, dt.date(2026, 3, 1), dt.date(2031, 3, 1),
                "Expected time in use of five years, from sales data of the previous model.")
    add_release(session, actor, product.id, CRA_RELEASE, dt.date(2028, 1, 10), dt.date(2033, 1, 10),
                "Expected time in use of five years, from sales data of the previous model.")
    assess(session, actor, kb, product.id, AS_OF)
    if complete:
        set_product_docs(session, actor, kb, product.id, docs_fields(product.name))
        meet_all(session, actor, evidence_dir, product.id)
    return product.name


def meet_all(session: Session, actor: Actor, evidence_dir: Path, product_id: str) -> None:
    """Every requirement met, with one shared test report as evidence."""
    from sqlalchemy import select

    from prodsec.db.models import Assessment, RequirementStatus

    report = compliance.add_evidence(session, actor, evidence_dir, "Penetration test report",
                                     stream=io.BytesIO(b"pentest report v1"),
                                     filename="pentest.pdf", version_label="1")
    statuses = session.scalars(select(RequirementStatus).join(
        Assessment, Assessment.id == RequirementStatus.assessment_id).where(
        Assessment.product_id == product_id, Assessment.superseded.is_(False))
        .order_by(RequirementStatus.requirement_id)).all()
    for i, status in enumerate(statuses):
        if i % 7 == 3:
            compliance.set_status(session, actor, status, "not-applicable",
                                  "Not relevant to this product per the risk assessment.", None)
        else:
            compliance.set_status(session, actor, status, "met", None, None)
            if i % 3 == 0:
                compliance.link_evidence(session, actor, report, status=status)


def build_workspace(db: Database, actor: Actor, kb: KnowledgeBase,
                    files: tuple[str, ...] = ("camera.yaml", "saas.yaml")) -> list[str]:
    with db.transaction() as session:
        set_org_profile(session, actor, ORG)
        return [add_example(session, actor, kb, db.evidence_dir, f) for f in files]
