"""The CSAF documents an organisation authored (``csaf_author.author`` stores them), listed per
product and read back exactly as stored, for publication and download."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import CsafDocument
from prodsec.workspace.context import Actor, NotFound
from prodsec.workspace.products import get_product
from prodsec.workspace.scope import owned


def list_documents(session: Session, actor: Actor, product_ref: str) -> list[CsafDocument]:
    """A product's stored CSAF documents, newest first (organisation-scoped)."""
    product = get_product(session, actor, product_ref)
    return list(session.scalars(select(CsafDocument).where(
        CsafDocument.org_id == actor.org_id, CsafDocument.product_id == product.id,
    ).order_by(CsafDocument.created_at.desc(), CsafDocument.tracking_id)))


def get_document(session: Session, actor: Actor, product_ref: str, doc_id: str) -> CsafDocument:
    """One stored document of a product; another product's or organisation's id is unknown."""
    product = get_product(session, actor, product_ref)
    row = owned(session, actor, CsafDocument, doc_id, "CSAF document")
    if row.product_id != product.id:
        raise NotFound(f"no CSAF document {doc_id!r}")
    return row


def document_view(row: CsafDocument) -> dict[str, Any]:
    """The JSON shape of a stored document, without the document itself."""
    vulnerabilities = row.document.get("vulnerabilities")
    return {"id": row.id, "product_id": row.product_id, "tracking_id": row.tracking_id,
            "category": row.category, "title": row.title, "sha256": row.sha256,
            "vulnerabilities": len(vulnerabilities) if isinstance(vulnerabilities, list) else 0,
            "created_at": row.created_at.isoformat(), "status": row.status,
            "version": str(row.document["document"]["tracking"]["version"])}  # type: ignore[index]


def filename(row: CsafDocument) -> str:
    """A safe download name: the tracking id, as CSAF's own file-name rule (5.1) lower-cases
    it and replaces everything but ``+-a-z0-9`` with ``_``."""
    import re

    return re.sub(r"[^+\-a-z0-9]+", "_", row.tracking_id.lower()) + ".json"
