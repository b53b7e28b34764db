"""``prodsec sbom parts|remove-part|export``: the SBOMs a release's SBOM is assembled from, and
the merged SBOM out as CycloneDX 1.6/1.7 with the CRA facts (``prodsec sbom import --part``
adds a part). Registered by ``prodsec.cli.vuln_workspace``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from prodsec.cli.vuln import Format, FormatOpt
from prodsec.cli.vuln_workspace import OutOpt, _json, _table, _write
from prodsec.cli.workspace import DbOpt, OrgOpt, workspace


def register(sbom_app: typer.Typer) -> None:
    """Attach the commands to the ``sbom`` group."""
    sbom_app.command("parts")(sbom_parts)
    sbom_app.command("remove-part")(sbom_remove_part)
    sbom_app.command("export")(sbom_export)


def warn(warnings: list[str]) -> None:
    """Export warnings go to standard error, so the document on standard output stays clean."""
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)


def sbom_parts(product: str, release: str, org: OrgOpt = "default", db: DbOpt = None,
               fmt: FormatOpt = Format.table) -> None:
    """The SBOMs a release's SBOM is assembled from (firmware, application, service, ...)."""
    from prodsec.workspace.vulnerabilities import list_sbom_parts

    with workspace(db, org) as (_, session, actor):
        parts = list_sbom_parts(session, actor, product, release)
    if fmt is Format.json:
        _json(parts)
        return
    _table(f"{product} {release}: SBOM parts", ["part", "kind", "format", "components", "file"],
           [[p["name"], p["kind"], f"{p['format']} {p['spec_version']}", p["components"],
             p["filename"]] for p in parts])


def sbom_remove_part(product: str, release: str, part: str, org: OrgOpt = "default",
                     db: DbOpt = None) -> None:
    """Remove one SBOM part of a release; the rest is re-assembled and findings recomputed."""
    from prodsec.workspace.vulnerabilities import remove_sbom_part

    with workspace(db, org) as (_, session, actor):
        result = remove_sbom_part(session, actor, product, release, part)
    found = result["findings"]
    print(f"removed part {part} of {product} {release}; {result['parts']} parts left; "
          f"findings: {found['added']} new, {found['kept']} kept, {found['removed']} removed")


def sbom_export(
    product: str, release: str,
    spec: Annotated[str, typer.Option(help="CycloneDX spec version: 1.6 or 1.7.")] = "1.6",
    output: OutOpt = None, org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Export a release's SBOM (all its parts merged, nesting kept) as CycloneDX JSON with the
    manufacturer, security contact, support end and declaration link; validated first.
    What prodsec does not hold is named on standard error, never invented."""
    from prodsec.workspace import sbom_export as export

    with workspace(db, org) as (_, session, actor):
        doc, warnings = export.export(session, actor, product, release, spec)
    warn(warnings)
    _write(doc, output)
