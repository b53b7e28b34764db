"""The BSI TR-03183-2 v2.1.0 check of one SBOM file, for every face (CLI, API, import).

The file is parsed first as any SBOM is (``read_sbom``: a document that is no SBOM is refused
with its location), then its JSON is judged field by field by ``vuln.bsi``. The check reads
JSON — CycloneDX JSON, SPDX 3 JSON-LD, SPDX 2 JSON; an XML or tag-value SBOM is refused by
name rather than reported as missing every field.
"""

from __future__ import annotations

from typing import Any

from prodsec.workspace.context import ValidationFailed


def sbom_bsi(data: bytes, source: str) -> dict[str, Any]:
    """The full TR-03183-2 report (per component and per field) of one SBOM file."""
    from prodsec.vuln.bsi import check, decode
    from prodsec.workspace.vulnerabilities import read_sbom

    read_sbom(data, source, check=False)
    doc = decode(data)
    if doc is None:
        raise ValidationFailed("sbom", f"{source}: the BSI TR-03183-2 check reads JSON SBOMs "
                               "(CycloneDX JSON, SPDX 3 JSON-LD, SPDX 2 JSON); this one is XML "
                               "or tag-value")
    report = check(doc)
    report["source"] = source
    return report
