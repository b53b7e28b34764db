"""CLI command group: documents generated from the workspace, and the information they need.

``prodsec document KIND [PRODUCT]`` generates one (``prodsec document list PRODUCT`` shows the
generation records and which are stale); ``prodsec org set`` and ``prodsec product docs`` enter
what documents state. A document with missing information is refused (exit 2) with the list of
what is missing and the command that enters each; ``--draft`` marks the gaps instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from prodsec.cli import views
from prodsec.cli.output import Format, FormatOpt, emit
from prodsec.cli.workspace import DbOpt, OrgOpt, workspace
from prodsec.errors import InputError

org_app = typer.Typer(help="The organisation's details that documents state.", no_args_is_help=True)
evidence_app = typer.Typer(help="Evidence files: download, expiry.", no_args_is_help=True)

Text = Annotated[str | None, typer.Option()]


def _kb() -> Any:
    from prodsec.services.knowledge import knowledge_base

    return knowledge_base()


# ---- prodsec document -------------------------------------------------------------------


def document(
    kind: Annotated[str, typer.Argument(metavar="KIND", help=(
        "eu-declaration, eu-declaration-simplified, red-declaration, technical-file, "
        "user-information, psti-statement, vdp, cisa-pledge-report, security-txt, "
        "oscal-assessment-results, oscal-catalog (PRODUCT is then an instrument id), "
        "'list' to show the generation records of PRODUCT, or 'download' to write the "
        "record PRODUCT (an id from 'list') to --output, byte for byte as issued."))],
    product: Annotated[str | None, typer.Argument(metavar="[PRODUCT]")] = None,
    release: Annotated[str | None, typer.Option(help="Release version (default: the latest).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="md, html, pdf (txt for "
                                            "security-txt, json for OSCAL; json for list).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
    draft: Annotated[bool, typer.Option(help="Produce it with missing information marked.")] = False,
    confirm: Annotated[list[str] | None, typer.Option(help=(
        "KEY of an unverified fact the document rests on (repeat, or 'all'): record that you "
        "checked it, with --reason, before generating."))] = None,
    reason: Annotated[str | None, typer.Option(help="With --confirm: how the facts were checked.")] = None,
    restriction_answer: Annotated[list[str] | None, typer.Option(help=(
        "STANDARD:RESTRICTION=applies|does-not-apply (repeat): your answer to an OJ-listing "
        "restriction that turns on a design choice (e.g. en-18031-1:password-optional); an "
        "issued declaration asks for each one it needs."))] = None,
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Generate a document from the workspace and keep its generation record."""
    if confirm and not reason:
        raise InputError("--confirm needs --reason TEXT (how the facts were checked)")
    if kind == "list":
        _list(product, org, db, Format(fmt) if fmt in ("json", "markdown", "table") else Format.table)
        return
    if kind == "download":
        _download(product, output, org, db)
        return
    from prodsec.documents import render
    from prodsec.documents.render import default_format

    chosen = fmt or default_format(kind)
    if chosen == "pdf" and output is None:
        raise InputError("--format pdf needs --output FILE (PDF is binary)")
    if confirm:
        from prodsec.documents.acknowledge import acknowledge

        with workspace(db, org) as (_, session, actor):
            done = acknowledge(session, actor, kind, product, confirm, reason or "", release)
        print(f"{len(done)} fact(s) confirmed: {', '.join(d['key'] for d in done)}",
              file=sys.stderr)
    with workspace(db, org) as (database, session, actor):
        data, record = render(kind, session, actor, product, chosen, release, draft,
                              answers=_pairs(restriction_answer or []),
                              store=database.evidence_dir)
        sha = record.sha256
    if output is None:
        sys.stdout.write(data.decode())
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
        print(f"{kind} written to {output} (sha256 {sha})", file=sys.stderr)


def _list(product: str | None, org: str, db: str | None, fmt: Format) -> None:
    from prodsec.documents import list_records

    with workspace(db, org) as (_, session, actor):
        data = list_records(session, actor, product)
    emit(data, fmt, lambda d: [views.Section(
        f"Documents{' of ' + product if product else ''} ({len(d)})",
        ["id", "kind", "format", "release", "created", "stale", "draft", "sha256"],
        [[r["id"], r["kind"], r["format"], r["release"] or r["subject"] or "", r["created_at"],
          "STALE" if r["stale"] else "", "draft" if r["draft"] else "", r["sha256"][:16]]
         for r in d])])


def _download(record_id: str | None, output: Path | None, org: str, db: str | None) -> None:
    """An earlier generated document, through the service the API and the web use."""
    from prodsec.documents.render import document_file

    if not record_id or output is None:
        raise InputError("document download needs the record ID (see 'document list') and "
                         "--output FILE")
    with workspace(db, org) as (database, session, actor):
        record, path = document_file(session, actor, database.evidence_dir, record_id)
        sha = record.sha256
    _copy_out(path, output)
    print(f"{record_id} written to {output} (sha256 {sha})", file=sys.stderr)


def _copy_out(source: Path, output: Path) -> None:
    """Copy a stored file byte for byte (its hash is on record); '-' is standard output."""
    data = source.read_bytes()
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)


# ---- prodsec evidence download / expire -----------------------------------------------------


@evidence_app.command("download")
def evidence_download(
    evidence_id: Annotated[str, typer.Argument(metavar="ID")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Write to FILE ('-': stdout).")],
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Write an evidence file byte for byte as uploaded."""
    from prodsec.workspace.compliance import evidence_file

    with workspace(db, org) as (database, session, actor):
        evidence, path = evidence_file(session, actor, database.evidence_dir, evidence_id)
        sha = evidence.sha256
    _copy_out(path, output)
    print(f"evidence {evidence_id} written to {output} (sha256 {sha})", file=sys.stderr)


@evidence_app.command("expire")
def evidence_expire(
    evidence_id: Annotated[str, typer.Argument(metavar="ID")],
    on: Annotated[str, typer.Option("--on", help="YYYY-MM-DD, or '' for no expiry.")],
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Set or clear the date after which the evidence no longer counts."""
    from prodsec.workspace.compliance import get_evidence, set_evidence_expiry

    day = _date(on) or None
    with workspace(db, org) as (_, session, actor):
        set_evidence_expiry(session, actor, get_evidence(session, actor, evidence_id), day)
    print(f"evidence {evidence_id} expires {day.isoformat() if day else 'never'}")


# ---- prodsec org set / show -----------------------------------------------------------------


@org_app.command("set")
def org_set(
    legal_name: Text = None, trade_name: Text = None,
    address: Annotated[str | None, typer.Option(help="Postal address (use \\n or a file for lines).")] = None,
    contact: Annotated[str | None, typer.Option(help="Contact e-mail.")] = None,
    website: Text = None,
    security_contact: Annotated[str | None, typer.Option(help="E-mail or https URL for vulnerability reports.")] = None,
    vdp_url: Text = None, security_txt_url: Text = None,
    csaf_url: Annotated[str | None, typer.Option(help="CSAF provider-metadata.json URL (adds a CSAF: line).")] = None,
    encryption_url: Text = None,
    languages: Annotated[str | None, typer.Option(help="e.g. 'en, de'")] = None,
    csirt_member_state: Text = None, authorised_representative: Text = None,
    signatory_name: Text = None, signatory_function: Text = None, place_of_issue: Text = None,
    ack_days: Annotated[int | None, typer.Option()] = None,
    status_update_days: Annotated[int | None, typer.Option()] = None,
    disclosure_days: Annotated[int | None, typer.Option()] = None,
    safe_harbour: Annotated[bool | None, typer.Option("--safe-harbour/--no-safe-harbour")] = None,
    pledge_signed_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Set the manufacturer's details; only the options given change. '' clears a field."""
    from prodsec.documents.info import set_org_profile

    given = {"legal_name": legal_name, "trade_name": trade_name, "postal_address": address,
             "contact_email": contact, "website": website, "security_contact": security_contact,
             "vdp_url": vdp_url, "security_txt_url": security_txt_url, "csaf_url": csaf_url,
             "encryption_url": encryption_url, "preferred_languages": languages,
             "csirt_member_state": csirt_member_state,
             "authorised_representative": authorised_representative,
             "signatory_name": signatory_name, "signatory_function": signatory_function,
             "place_of_issue": place_of_issue, "ack_days": ack_days,
             "status_update_days": status_update_days, "disclosure_days": disclosure_days,
             "safe_harbour": safe_harbour, "pledge_signed_on": _date(pledge_signed_on)}
    changes = {k: _text(v) for k, v in given.items() if v is not None}
    if not changes:
        raise InputError("nothing to set: give at least one option (see --help)")
    with workspace(db, org) as (_, session, actor):
        set_org_profile(session, actor, changes)
    print(f"organisation details updated: {', '.join(sorted(changes))}")


@org_app.command("show")
def org_show(org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Show the manufacturer's details documents use."""
    from prodsec.documents.info import get_org_profile, org_view

    with workspace(db, org) as (_, session, actor):
        data = org_view(get_org_profile(session, actor))
    emit(data, fmt, lambda d: [views.Section("Organisation details", ["field", "value"],
                                             [[k, "" if v is None else str(v)] for k, v in d.items()])])


# ---- prodsec product docs -------------------------------------------------------------------


def product_docs(
    product: str,
    type_designation: Annotated[str | None, typer.Option("--type", help="Type or model designation.")] = None,
    intended_purpose: Text = None, security_properties: Text = None,
    foreseeable_misuse: Text = None, illustrations: Text = None,
    design: Annotated[str | None, typer.Option(help="Text or a FILE: design and architecture.")] = None,
    production_monitoring: Text = None, update_mechanism: Text = None,
    risk_assessment: Annotated[str | None, typer.Option(help="A FILE (or text): the risk assessment.")] = None,
    sbom: Annotated[str | None, typer.Option(help="Where the SBOM is kept or published.")] = None,
    doc_url: Text = None, support_type: Text = None, secure_use: Text = None,
    change_effects: Text = None, update_installation: Text = None, decommissioning: Text = None,
    auto_update_opt_out: Text = None, integrator_info: Text = None,
    serial_numbers: Annotated[str | None, typer.Option(help="Batch or serial numbers covered (RED).")] = None,
    accessories: Annotated[str | None, typer.Option(help="Accessories, components, software covered, or 'none' (RED).")] = None,
    conformity_route: Annotated[str | None, typer.Option(help="module-a, module-b-c or module-h (RED Art. 17).")] = None,
    other_legislation: Annotated[str | None, typer.Option(help="Other Union legislation complied with, one per line.")] = None,
    other_specifications: Annotated[str | None, typer.Option(help="Other technical specifications (not in the knowledge base), one per line, e.g. 'EN 300 328 V2.2.2'.")] = None,
    standard: Annotated[list[str] | None, typer.Option(help=(
        "ID (applied in full) or ID:PARTS (in part); repeat. Replaces the list."))] = None,
    notified_body: Annotated[str | None, typer.Option(help=(
        "name=...;number=...;procedure=...;certificate=..."))] = None,
    pledge_progress: Annotated[list[str] | None, typer.Option(help="goal-N=TEXT (repeat).")] = None,
    release: Annotated[str | None, typer.Option(help="Release whose support period to correct.")] = None,
    support_end: Annotated[str | None, typer.Option(help="With --release: YYYY-MM-DD.")] = None,
    support_rationale: Annotated[str | None, typer.Option(help="With --release: how the support period was determined.")] = None,
    show: Annotated[bool, typer.Option(help="Print the documentation as JSON.")] = False,
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Enter what documents say about a product. A value naming an existing file is read
    from that file. Only the options given change; '' clears a field."""
    from prodsec.documents.info import (
        docs_view,
        get_product_docs,
        set_product_docs,
        set_release_support,
        standard_spec,
    )
    from prodsec.workspace.products import get_product

    texts = {"type_designation": type_designation, "intended_purpose": intended_purpose,
             "security_properties": security_properties, "foreseeable_misuse": foreseeable_misuse,
             "illustrations": illustrations, "design_description": design,
             "production_monitoring": production_monitoring, "update_mechanism": update_mechanism,
             "risk_assessment": risk_assessment, "sbom_url": sbom, "doc_url": doc_url,
             "support_type": support_type, "secure_use": secure_use,
             "change_effects": change_effects, "update_installation": update_installation,
             "decommissioning": decommissioning, "auto_update_opt_out": auto_update_opt_out,
             "integrator_info": integrator_info, "serial_numbers": serial_numbers,
             "accessories": accessories, "conformity_route": conformity_route,
             "other_legislation": other_legislation,
             "other_specifications": other_specifications}
    changes: dict[str, Any] = {k: _text(v) for k, v in texts.items() if v is not None}
    if standard is not None:
        changes["standards_applied"] = [standard_spec(s) for s in standard if s]
    if notified_body is not None:
        changes["notified_body"] = _pairs(notified_body.split(";")) if notified_body else None
    with workspace(db, org) as (_, session, actor):
        current = get_product_docs(session, actor, get_product(session, actor, product).id)
        if pledge_progress:
            merged = dict(docs_view(current)["fields"].get("pledge_progress") or {})
            merged.update(_pairs(pledge_progress))
            changes["pledge_progress"] = merged
        if changes:
            current = set_product_docs(session, actor, _kb(), product, changes)
        if release is not None:
            set_release_support(session, actor, product, release, _date(support_end) or None,
                                _text(support_rationale))
            changes["release"] = release
        data = docs_view(current)
    if show or not changes:
        from prodsec.cli.fast import dump

        print(dump(data))
    else:
        print(f"documentation of {product} updated: {', '.join(sorted(changes))}")


def _text(value: Any) -> Any:
    """A string naming an existing file stands for the file's text."""
    if isinstance(value, str) and value and "\n" not in value and len(value) < 4096:
        path = Path(value).expanduser()
        try:
            if path.is_file():
                return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{value}: cannot read: {exc}") from None
    return value.replace("\\n", "\n") if isinstance(value, str) else value


def _date(value: str | None) -> Any:
    if value is None:
        return None
    if value == "":
        return ""
    from prodsec.services.check import parse_date

    return parse_date(value)


def _pairs(items: list[str]) -> dict[str, str]:
    """['a=1', 'b=2'] → {'a': '1', 'b': '2'}."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise InputError(f"{item!r}: expected KEY=VALUE")
        out[key.strip()] = _text(value.strip())
    return out


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main application."""
    from prodsec.cli.workspace import product_app

    app.command("document")(document)
    app.add_typer(org_app, name="org")
    app.add_typer(evidence_app, name="evidence")
    product_app.command("docs")(product_docs)
