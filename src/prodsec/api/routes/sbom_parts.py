"""A release's SBOM parts (list, remove; ``POST .../sbom?part=`` adds one) and the merged SBOM
out as CycloneDX 1.6/1.7 with the CRA facts. Thin wrappers over
``prodsec.workspace.{vulnerabilities,sbom_export}``, as the CLI's ``sbom parts|remove-part|export``."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Response

from prodsec.api.deps import UnitDep, Writer

router = APIRouter(tags=["vulnerabilities"])
WARNINGS_HEADER = "X-Prodsec-Export-Warnings"
MAX_WARNINGS = 20
EXPORTED: dict[int | str, dict[str, Any]] = {200: {
    "description": ("The CycloneDX JSON document, validated against the official schema. "
                    f"{WARNINGS_HEADER} lists, as a JSON array (ASCII), the CRA facts prodsec "
                    "does not hold and the conflicting versions across parts."),
    "content": {"application/vnd.cyclonedx+json": {}}}}


def with_warnings(response: Response, warnings: list[str]) -> Response:
    """Export warnings in a header (the body is the standard document, so they cannot go
    there): a JSON array escaped to ASCII, at most ``MAX_WARNINGS`` and a count of the rest."""
    if warnings:
        shown = warnings[:MAX_WARNINGS]
        if len(warnings) > MAX_WARNINGS:
            shown.append(f"({len(warnings) - MAX_WARNINGS} more)")
        response.headers[WARNINGS_HEADER] = json.dumps(shown, ensure_ascii=True)
    return response


@router.get("/products/{product_id}/releases/{release}/sbom/parts")
def list_parts(work: UnitDep, product_id: str, release: str) -> list[dict[str, Any]]:
    """The SBOMs the release's SBOM is assembled from, in name order."""
    from prodsec.workspace.vulnerabilities import list_sbom_parts

    return list_sbom_parts(work.session, work.actor, product_id, release)


@router.delete("/products/{product_id}/releases/{release}/sbom/parts/{part}")
def remove_part(work: Writer, product_id: str, release: str, part: str) -> dict[str, Any]:
    """Remove one part; the rest is re-assembled and the findings recomputed."""
    from prodsec.workspace.vulnerabilities import remove_sbom_part

    return remove_sbom_part(work.session, work.actor, product_id, release, part)


@router.get("/products/{product_id}/releases/{release}/sbom", response_class=Response,
            responses=EXPORTED)
def export_sbom(work: UnitDep, product_id: str, release: str,
                spec: Literal["1.6", "1.7"] = "1.6") -> Response:
    """The release's SBOM, every part merged with the nesting kept, as CycloneDX JSON carrying
    the manufacturer, security contact, support period end and declaration link."""
    import re

    from prodsec.workspace import sbom_export
    from prodsec.workspace.products import get_product

    product = get_product(work.session, work.actor, product_id)
    doc, warnings = sbom_export.export(work.session, work.actor, product.id, release, spec)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{product.name}-{release}").strip("-.") or "sbom"
    body = json.dumps(doc, indent=2, ensure_ascii=False).encode()
    return with_warnings(Response(body, media_type="application/vnd.cyclonedx+json", headers={
        "Content-Disposition": f'attachment; filename="{name}.cdx.json"'}), warnings)
