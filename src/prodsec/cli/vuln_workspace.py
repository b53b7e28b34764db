"""The workspace commands of vulnerability handling (registered by ``prodsec.cli.vuln``).

``sbom import|diff|quality`` (``sbom parts|remove-part|export``: ``cli.sbom_parts``), ``advisories import``, ``findings``, ``vex set|export|import``,
``csaf author``, ``case open|list|show|draft|measure|submit|close``. Like every workspace command
they take ``--db``/``--org`` and run in one transaction: an import that fails leaves nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from prodsec.cli.vuln import FileArg, Format, FormatOpt, Invalid
from prodsec.cli.workspace import DbOpt, OrgOpt, workspace
from prodsec.core.triage import DETAIL_MEANING

advisories_app = typer.Typer(help="The offline advisory database (OSV) and known-exploited flags.",
                             no_args_is_help=True)
vex_app = typer.Typer(help="Triage as VEX: set states, export and import VEX documents.",
                      no_args_is_help=True)
case_app = typer.Typer(help="CRA Article 14 cases: reporting clocks, drafts, submissions.",
                       no_args_is_help=True)

OutOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")]


def register(app: typer.Typer, sbom_app: typer.Typer, csaf_app: typer.Typer) -> None:
    """Attach the workspace commands to the ``sbom`` and ``csaf`` groups and the application."""
    sbom_app.command("import")(sbom_import)
    sbom_app.command("diff")(sbom_diff)
    sbom_app.command("quality")(sbom_quality)
    csaf_app.command("author")(csaf_author_cmd)
    csaf_app.command("publish")(csaf_publish_cmd)
    from prodsec.cli import csaf_provider

    csaf_provider.register(csaf_app)
    app.add_typer(advisories_app, name="advisories")
    app.add_typer(vex_app, name="vex")
    app.add_typer(case_app, name="case")
    app.command("findings")(findings)
    app.command("triage")(triage_cmd)
    vex_app.command("set-many")(vex_set_many)


def _json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


def _write(doc: Any, output: Path | None) -> None:
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if output is None:
        print(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        print(f"written {output}", file=sys.stderr)


def _write_exact(data: bytes, output: Path | None) -> None:
    """Write exactly ``data`` (no newline added): an audited artefact's file must hash to the
    SHA-256 the audit trail recorded for it."""
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
        print(f"written {output}", file=sys.stderr)


def _kb() -> Any:
    from prodsec.services.knowledge import knowledge_base

    return knowledge_base()


# ---- SBOMs ---------------------------------------------------------------------------------


PartOpt = Annotated[str, typer.Option(help="Which SBOM of the release this is (a release's SBOM "
                                      "can be assembled from several); replaces that part only.")]
KindOpt = Annotated[str, typer.Option(help="firmware, application, service, hardware, "
                                      "operating-system or container.")]


def sbom_import(product: str, release: str, file: FileArg, org: OrgOpt = "default",
                db: DbOpt = None, fmt: FormatOpt = Format.table, part: PartOpt = "main",
                kind: KindOpt = "application") -> None:
    """Import an SBOM as one part of a release's SBOM (replacing that part) and recompute the
    release's findings over all its parts."""
    from prodsec.formats._io import read_bytes
    from prodsec.workspace.sbom_import import import_sbom

    data = read_bytes(file)
    with workspace(db, org) as (_, session, actor):
        result = import_sbom(session, actor, product, release, data, str(file), part=part,
                             kind=kind)
    if fmt is Format.json:
        _json(result)
        return
    for conflict in result["conflicts"]:
        print(f"conflict: {conflict}", file=sys.stderr)
    found = result["findings"]
    kind = " ".join(str(v) for v in (result["format"], result["spec_version"]) if v)
    print(f"{file}: {kind}, {_count(result['components'], 'component')}, "
          f"{_count(result['dependencies'], 'dependency edge')} → {product} {release} part "
          f"{part} ({_count(result['parts'], 'part')})")
    print(f"findings: {found['added']} new, {found['kept']} kept, {found['removed']} removed; "
          f"NTIA minimum elements {result['quality']['ntia_score']}%")


def _count(n: int, noun: str) -> str:
    """``1 part``, ``3 parts``: the CLI's counts read as English."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def sbom_diff(product: str, release_a: str, release_b: str, org: OrgOpt = "default",
              db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Components added, removed and upgraded between two releases' SBOMs."""
    from prodsec.workspace.vulnerabilities import sbom_diff as run

    with workspace(db, org) as (_, session, actor):
        data = run(session, actor, product, release_a, release_b)
    if fmt is Format.json:
        _json(data)
        return
    rows = ([["added", c["component"], "", c["version"]] for c in data["added"]]
            + [["removed", c["component"], c["version"], ""] for c in data["removed"]]
            + [["changed", c["component"], c["from"], c["to"]] for c in data["changed"]])
    _table(f"{product}: {release_a} → {release_b}", ["change", "component", release_a, release_b], rows)


def sbom_quality(file: FileArg, fmt: FormatOpt = Format.table,
                 bsi: Annotated[bool, typer.Option(
                     "--bsi", help="Check every data field of BSI TR-03183-2 v2.1.0, per "
                     "component, with its clause (exit 1 when the SBOM does not conform).")] = False,
                 ) -> None:
    """SBOM quality against the minimum elements (NTIA, BSI TR-03183-2): evidence for CRA
    Annex I Part II (1)."""
    from prodsec.formats._io import read_bytes
    from prodsec.workspace.vulnerabilities import sbom_quality as run

    if bsi:
        _bsi_report(read_bytes(file), str(file), fmt)
        return
    report = run(read_bytes(file), str(file))
    if fmt is Format.json:
        _json(report)
        return
    rows = [[e["element"], ", ".join(e["standards"]), f"{e['present']}/{e['total']}",
             f"{e['percent']}%"] for e in report["elements"]]
    rows += [[d["element"], ", ".join(d["standards"]), "yes" if d["ok"] else "NO", ""]
             for d in report["document"]]
    _table(f"{file}: {report['components']} components, NTIA score {report['ntia_score']}%",
           ["element", "required by", "present", "%"], rows)


def _bsi_report(data: bytes, source: str, fmt: Format) -> None:
    """The TR-03183-2 report: JSON as is; else one row per field (totals over the components)
    and the first findings; exit 1 when the SBOM does not conform."""
    from prodsec.workspace.sbom_bsi import sbom_bsi

    report = sbom_bsi(data, source)
    if fmt is Format.json:
        _json(report)
    else:
        rows = [[d["clause"], d["name"], d["level"], d["status"], d["message"][:70]]
                for d in report["document"]]
        rows += [[f["clause"], f["name"], f["level"], _bsi_counts(f), ""]
                 for f in report["fields"]]
        fmt_row = report["format"]
        _table(f"{source}: {report['summary']}", ["clause", "field", "level", "status", "detail"],
               [["4", "format", "required", "ok" if fmt_row["ok"] else "NO",
                 fmt_row["message"]], *rows])
        print(report["evidence"])
    if not report["conforms"]:
        raise typer.Exit(1)


def _bsi_counts(row: dict[str, Any]) -> str:
    """'3/5 present, 1 inferred, 1 wrong form': an inferred value is counted apart, never as
    present."""
    extra = [f"{row[k]} {words}" for k, words in (("inferred", "inferred"),
                                                   ("wrong_form", "wrong form")) if row[k]]
    return ", ".join([f"{row['present']}/{row['total']} present", *extra])


# ---- advisories and findings ---------------------------------------------------------------


@advisories_app.command("import")
def advisories_import(
    source: Annotated[Path, typer.Argument(metavar="DIR|ZIP", help="OSV directory, zip or file.")],
    kev: Annotated[Path | None, typer.Option("--kev", help="CISA KEV catalogue (JSON).")] = None,
    background: Annotated[bool, typer.Option(
        "--background", help="Queue the import as a job (a worker runs it, then one rescan job "
        "per affected release); the files must be readable by the workers.")] = False,
    org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table,
) -> None:
    """Import OSV advisories incrementally (bad files are reported and skipped: exit 2). A KEV
    catalogue is imported as by ``prodsec feeds import`` (recorded, proposes Article 14 cases)."""
    from rich.progress import Progress

    from prodsec.cli.vuln import _stderr
    from prodsec.formats import osv
    from prodsec.formats._io import read_bytes
    from prodsec.workspace import feeds
    from prodsec.workspace.vulnerabilities import import_advisories

    if not source.exists():
        raise Invalid(f"{source}: no such file or directory; expected OSV files, a directory or a zip")
    if background:
        _queue_import(source, kev, org, db, fmt)
        return
    catalogue = read_bytes(kev, feeds.MAX_FILE_BYTES) if kev else None  # refused before the work
    with workspace(db, org) as (_, session, actor), \
            Progress(transient=True, console=_stderr()) as bar:
        task = bar.add_task("importing advisories", total=osv.count_files(source))
        report = import_advisories(session, actor, source, lambda n: bar.advance(task, n))
        run = (None if catalogue is None else
               feeds.import_with_advisories(session, actor, catalogue, str(kev)))
    if fmt is Format.json:
        _json(report.to_dict() | ({"kev": run} if run else {}))
    else:
        print(f"{source}: {report.files} files: {report.added} added, {report.updated} updated, "
              f"{report.unchanged} unchanged, {report.removed} removed (withdrawn), "
              f"{len(report.failures)} failed; findings {report.findings}")
        if run:
            print(_kev_line(run))
    for source_file, message in report.failures:
        print(f"error: skipped {source_file}: {message}", file=sys.stderr)
    if report.failures:
        raise Invalid(f"{source}: {len(report.failures)} advisory files failed (listed above); "
                      "the others were imported")


def _kev_line(run: dict[str, Any]) -> str:
    """What the KEV catalogue changed: newly exploited CVEs and the cases they propose."""
    if run.get("skipped"):
        return f"{run['skipped']} (the advisories were imported)"
    counts, made = run["counts"], run["proposals"]
    return (f"{run['filename']} ({run['feed_date']}): {counts['new']} new known-exploited CVEs, "
            f"{counts['changed']} changed, {counts['unchanged']} unchanged; "
            + (f"{len(made)} Article 14 case(s) proposed: see prodsec case proposed" if made
               else "no Article 14 case proposed"))


def _queue_import(source: Path, kev: Path | None, org: str, db: str | None,
                  fmt: Format) -> None:
    from prodsec import jobs

    if kev is not None and not kev.is_file():
        raise Invalid(f"{kev}: no such file; expected a CISA KEV catalogue (JSON)")
    with workspace(db, org) as (_, session, actor):
        actor.require("editor")
        job_id = jobs.enqueue(session, "advisories.import", actor=actor,
                              path=str(source.resolve()),
                              kev=str(kev.resolve()) if kev else None)
    data = {"job": job_id, "queued": job_id is not None}
    if fmt is Format.json:
        _json(data)
    elif job_id is None:
        print(f"{source}: imported in-process (SQLite has no queue); see prodsec findings")
    else:
        print(f"{source}: queued as job {job_id}; follow it with prodsec jobs show {job_id}")


def findings(product: str, release: Annotated[str | None, typer.Argument()] = None,
             sort: Annotated[str, typer.Option(
                 "--sort", help="release (by release, component, vulnerability) or priority "
                 "(exploited, then EPSS, then CVSS).")] = "release",
             org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """A product's findings (one release or all) with exploitation signals and VEX state."""
    from prodsec.workspace.signals import by_priority
    from prodsec.workspace.vulnerabilities import list_findings

    if sort not in ("release", "priority"):
        raise Invalid(f"--sort {sort!r}: expected release or priority")
    with workspace(db, org) as (_, session, actor):
        rows = list_findings(session, actor, product, release)
    rows = by_priority(rows) if sort == "priority" else rows
    if fmt is Format.json:
        _json({"findings": rows})
        return
    _table(f"{len(rows)} findings", ["#", "release", "component", "vulnerability", "aliases",
                                     "severity", "EPSS", "fixed", "exploited", "state"],
           [[f["priority"], f["release"], f["component"], f["vulnerability"],
             ", ".join(f["aliases"]), _severity_cell(f),
             "" if f["epss"] is None else f"{f['epss']:.3f}", ", ".join(f["fixed"]),
             f"{f['exploited']['source'].upper()} {f['exploited']['date'] or ''}".strip()
             if f["exploited"] else "",
             f["state"] + (f" ({len(f['vex_conflicts'])} supplier conflict)"
                           if f["vex_conflicts"] else "")]
            for f in rows])


def triage_cmd(
    product: str,
    exploited: Annotated[str | None, typer.Option(help="yes / no: known exploited (KEV).")] = None,
    state: Annotated[str | None, typer.Option(help="VEX state, e.g. in_triage.")] = None,
    component: Annotated[str | None, typer.Option(help="Part of the purl or name.")] = None,
    release: Annotated[str | None, typer.Option(help="One release's label.")] = None,
    fix_available: Annotated[str | None, typer.Option(help="yes / no.")] = None,
    min_cvss: Annotated[str | None, typer.Option(help="Lowest CVSS base score, 0-10.")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q",
                                              help="Part of the id, an alias or the summary.")] = None,
    sort: Annotated[str, typer.Option(help="priority, cvss, epss, vulnerability, component, "
                                           "release, state, first_seen; -KEY descending.")] = "priority",
    page: Annotated[int, typer.Option(min=1, help="Page number.")] = 1,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Findings per page.")] = 50,
    org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Findings to triage first: filtered, sorted by priority (known exploited, then EPSS, then
    CVSS), one page, with each release's open / exploited / overdue counts."""
    from prodsec.workspace import triage

    params = {"exploited": exploited, "state": state, "component": component,
              "release": release, "fix_available": fix_available, "min_cvss": min_cvss,
              "q": query, "sort": sort, "page": str(page), "limit": str(limit)}
    with workspace(db, org) as (_, session, actor):
        result = triage.triage_findings(session, actor, _kb(), product, triage.parse_query(params))
    if fmt is Format.json:
        _json(result)
        return
    for label, counts in sorted(result["releases"].items()):
        print(f"release {label}: {counts['open']} open · {counts['exploited']} exploited · "
              f"{counts['overdue']} overdue · {counts['findings']} findings")
    shown = result["findings"]
    _table(f"{len(shown)} of {result['total']} findings (sorted by {result['sort']})",
           ["vulnerability", "KEV", "severity", "component", "release", "fixed", "state"],
           [[f["vulnerability"], "yes" if f["known_exploited"] else "", _severity_cell(f),
             f["component"], f["release"], ", ".join(f["fixed"]), f["state"]] for f in shown])


def vex_set_many(
    product: str,
    state: Annotated[str, typer.Argument(help="The VEX state for every vulnerability named.")],
    vulnerabilities: Annotated[list[str], typer.Argument(help="OSV ids or aliases.")],
    justification: Annotated[str | None, typer.Option(help="For not_affected.")] = None,
    detail: Annotated[str, typer.Option(help=f"Detail. {DETAIL_MEANING}.")] = "",
    org: OrgOpt = "default", db: DbOpt = None) -> None:
    """One triage decision for several vulnerabilities at once (all or none)."""
    from prodsec.workspace import triage

    with workspace(db, org) as (_, session, actor):
        count = triage.triage_many(session, actor, product, vulnerabilities, state,
                                   justification, detail)
    print(f"{count} triage decisions set to {state}")


def _severity_cell(finding: dict[str, Any]) -> str:
    """"9.8 CRITICAL" from the computed CVSS base score, else the advisory's own word, if any."""
    from prodsec.vuln.cvss_score import severity_word

    cvss = finding["cvss"]
    if cvss:
        source = finding.get("cvss_source")
        via = f" (via {source})" if source and source != finding["vulnerability"] else ""
        return f"{cvss['base_score']:.1f} {cvss['base_severity']}{via}"
    return severity_word(finding["severity"]) or ""


# ---- VEX -----------------------------------------------------------------------------------


@vex_app.command("set")
def vex_set(
    product: str,
    vulnerability: Annotated[str, typer.Argument(help="OSV id or alias (CVE, GHSA, ...).")],
    state: Annotated[str, typer.Argument(help="in_triage, exploitable, not_affected, "
                                         "false_positive, resolved, resolved_with_pedigree")],
    justification: Annotated[str | None, typer.Option(help="CycloneDX justification "
                                                      "(for not_affected).")] = None,
    response: Annotated[list[str] | None, typer.Option(help="CycloneDX response (repeat).")] = None,
    detail: Annotated[str, typer.Option(help=f"Detail. {DETAIL_MEANING}.")] = "",
    release: Annotated[str | None, typer.Option(help="Only this release (default: all).")] = None,
    component: Annotated[str | None, typer.Option(help="Only this component purl.")] = None,
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Record a triage decision (CycloneDX VEX vocabulary) for a vulnerability in a product."""
    from prodsec.workspace.vex import set_statement

    with workspace(db, org) as (_, session, actor):
        row = set_statement(session, actor, product, vulnerability, state,
                            justification=justification, responses=response, detail=detail,
                            release_label=release, component=component)
        print(f"{vulnerability} in {product}{' ' + release if release else ''}: {row.state}")


@vex_app.command("export")
def vex_export(
    product: str, release: str,
    export_format: Annotated[str, typer.Option("--format", "-f",
                                               help="cyclonedx, openvex or csaf")] = "cyclonedx",
    author: Annotated[str, typer.Option(help="Author / publisher name (default: the "
                                        "organisation's legal name).")] = "",
    output: OutOpt = None, org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Export a release's triage as CycloneDX VEX, OpenVEX or CSAF VEX (validated first)."""
    from prodsec.workspace import vex

    with workspace(db, org) as (_, session, actor):
        doc, warnings = vex.export_with_warnings(session, actor, product, release, export_format,
                                                 author)
        for line in warnings:
            print(f"warning: {line}", file=sys.stderr)
        # inside the transaction: a CSAF VEX that fails records no revision (vex_location)
        problems = vex.export_problems(doc, export_format)
        if problems:
            raise Invalid(f"exported {export_format} fails validation: {'; '.join(problems[:5])}")
    _write(doc, output)


@vex_app.command("import")
def vex_import(
    product: str, file: FileArg,
    release: Annotated[str | None, typer.Option(help="Only this release (default: all).")] = None,
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Import a supplier's VEX (CycloneDX, OpenVEX or CSAF) as statements on the product.

    A statement about another product, a component not in the SBOM, or outside the VEX
    vocabulary is refused with its reason (exit 2) and the rest imported — as the API and web
    UI do; a malformed document imports nothing."""
    from prodsec.formats._io import read_bytes
    from prodsec.workspace.vex_import import import_summary

    data = read_bytes(file)
    with workspace(db, org) as (_, session, actor):
        summary = import_summary(session, actor, product, data, str(file), release)
    for item in summary["refused"]:
        print(f"error: {file}{item['where']}: refused {item['vulnerability'] or '(no id)'} on "
              f"{item['component'] or item['product'] or 'the product'}: {item['reason']}",
              file=sys.stderr)
    for item in summary["conflicts"]:
        print(f"warning: {file}{item['where']}: {item['vulnerability']} on "
              f"{item['component'] or 'the product'}: the supplier says {item['state']}, our "
              f"decision ({item['ours'][0]['state']}) is kept", file=sys.stderr)
    print(f"{file}: {summary['imported']} of {summary['statements']} statements imported into {product}")
    if summary["refused"]:  # the refusals are reported above, one line each
        raise typer.Exit(Invalid.exit_code)  # errors.refusal_status: a partial import is Invalid


# ---- CSAF ----------------------------------------------------------------------------------


def csaf_author_cmd(
    product: str, release: str,
    category: Annotated[str, typer.Option(help="csaf_security_advisory or csaf_vex")] = "csaf_security_advisory",
    tracking_id: Annotated[str | None, typer.Option(help="Document tracking id.")] = None,
    title: Annotated[str | None, typer.Option()] = None,
    publisher: Annotated[str, typer.Option(help="Publisher name (default: organisation).")] = "",
    cvss: CvssOpt = None,
    tlp: Annotated[str, typer.Option(help="TLP label: WHITE, GREEN, AMBER or RED.")] = "WHITE",
    output: OutOpt = None, org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Author a CSAF 2.0 advisory from a release's findings and triage: validated (schema,
    mandatory and recommended tests), stored as a draft, exported. ``csaf publish`` releases it."""
    from prodsec.workspace.csaf_author import author

    with workspace(db, org) as (_, session, actor):
        row = author(session, actor, product, release, category, tracking_id=tracking_id,
                     title=title, publisher=publisher, cvss=_vectors(cvss), tlp=tlp)
        doc: dict[str, Any] = row.document
        tracking, doc_id = row.tracking_id, row.id
    print(f"CSAF {category} {tracking} (id {doc_id}): valid, stored as draft version 0 "
          f"({len(doc['vulnerabilities'])} vulnerabilities); publish it with "
          f"prodsec csaf publish {doc_id} --status final", file=sys.stderr)
    _write(doc, output)


CvssOpt = Annotated[list[str] | None, typer.Option(
    "--cvss", help="ID=VECTOR: the manufacturer's CVSS v3.x/v2 base vector for a vulnerability "
    "the advisory data gives no score for (repeatable).")]


def _vectors(values: list[str] | None) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        name, sep, vector = value.partition("=")
        if not sep or not name.strip() or not vector.strip():
            raise Invalid(f"--cvss {value!r}: expected ID=VECTOR, e.g. "
                          "CVE-2024-1=CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
        pairs[name.strip()] = vector.strip()
    return pairs


def csaf_publish_cmd(
    document: Annotated[str, typer.Argument(help="CSAF document id or tracking id.")],
    status: Annotated[str, typer.Option(help="interim or final.")] = "final",
    summary: Annotated[str, typer.Option(help="The revision history entry.")] = "",
    cvss: CvssOpt = None, output: OutOpt = None, org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Publish a CSAF document as interim or final: a draft becomes version 1; a published one
    is rebuilt from the current triage as the next revision (published revisions never change)."""
    from prodsec.workspace.csaf_author import document_bytes, publish

    with workspace(db, org) as (_, session, actor):
        revision = publish(session, actor, document, status, summary, cvss=_vectors(cvss))
        doc: dict[str, Any] = revision.document
        version, sha = revision.version, revision.sha256
    print(f"CSAF {doc['document']['tracking']['id']}: published as {status}, version {version} "
          f"(sha256 {sha})", file=sys.stderr)
    _write_exact(document_bytes(doc), output)




# ---- Article 14 cases ----------------------------------------------------------------------


@case_app.command("open")
def case_open(
    product: str,
    title: Annotated[str, typer.Option(help="Short description.")],
    exploited: Annotated[str | None, typer.Option(
        "--exploited", help="Vulnerability id: an actively exploited vulnerability.")] = None,
    incident: Annotated[bool, typer.Option("--incident", help="A severe incident.")] = False,
    aware_at: Annotated[str | None, typer.Option(help="When the manufacturer became aware "
                                                 "(ISO 8601; naive = UTC; default now).")] = None,
    member_state: Annotated[str | None, typer.Option(
        help="Member state of the main establishment (default: organisation profile).")] = None,
    description: str = "", org: OrgOpt = "default", db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Open an Article 14 case: the 24 h / 72 h / final-report clocks start at awareness."""
    from prodsec.workspace import article14
    from prodsec.workspace.vex import parse_time

    if bool(exploited) == incident:
        raise Invalid("give either --exploited VULN-ID or --incident")
    with workspace(db, org) as (_, session, actor):
        case = article14.open_case(
            session, actor, product, "incident" if incident else "vulnerability", title,
            parse_time(aware_at), vulnerability=exploited, member_state_code=member_state,
            description=description, kb=_kb())
        view = article14.case_view(session, _kb(), case)
    _show_case(view, fmt)


def _show_case(view: dict[str, Any], fmt: Format) -> None:
    if fmt is Format.json:
        _json(view)
        return
    print(f"case {view['id']} ({view['kind']}): {view['title']} — {view['product']}")
    print(f"aware at {view['aware_at']}; report to {view['csirt']}")
    _table("clocks (UTC)", ["stage", "requirement", "due", "status", "submitted"],
           [[s["stage"], s["requirement"], s["due"] or f"after {s['from_event']}",
             s["status"] + (f" (late by {s['late_hours']} h)" if "late_hours" in s else
                            f" ({s['remaining_hours']} h)" if "remaining_hours" in s else ""),
             s["submitted_at"]] for s in view["stages"]])


@case_app.command("list")
def case_list(open_only: Annotated[bool, typer.Option("--open")] = False,
              org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Every case with its next deadline; overdue first."""
    from prodsec.workspace import article14

    with workspace(db, org) as (_, session, actor):
        views = article14.list_cases(session, actor, _kb(), open_only)
    if fmt is Format.json:
        _json({"cases": views})
        return
    _table(f"{len(views)} Article 14 cases", ["id", "kind", "product", "title", "next", "due", "status"],
           [[v["id"][:8], v["kind"], v["product"], v["title"],
             (v["next_due"] or {}).get("stage", "—" if v["status"] == "open" else v["status"]),
             (v["next_due"] or {}).get("due"), (v["next_due"] or {}).get("status")] for v in views])


@case_app.command("show")
def case_show(case_id: str, org: OrgOpt = "default", db: DbOpt = None,
              fmt: FormatOpt = Format.table) -> None:
    """One case with its clocks."""
    from prodsec.workspace import article14

    with workspace(db, org) as (_, session, actor):
        view = article14.case_view(session, _kb(), article14.get_case(session, actor, case_id))
    _show_case(view, fmt)


IncludesOpt = Annotated[list[str] | None, typer.Option(
    "--include", help="A neighbouring stage whose items this report also gives (repeatable).")]


@case_app.command("draft")
def case_draft(case_id: str, stage: str, include: IncludesOpt = None, org: OrgOpt = "default",
               db: DbOpt = None) -> None:
    """The report draft a stage requires (early-warning, notification, final-report): edit its
    ``content`` and pass the file to ``case submit --content``."""
    from prodsec.workspace import article14

    with workspace(db, org) as (_, session, actor):
        _json(article14.draft(session, actor, _kb(), case_id, stage, tuple(include or ())))


@case_app.command("report")
def case_report(
    case_id: str, stage: str,
    fmt: Annotated[str, typer.Option("--format", help="json or pdf.")] = "json",
    output: OutOpt = None, org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """A submitted report exactly as sent (JSON: the bytes the audit trail's SHA-256 is of), or
    as a PDF (the pdf extra)."""
    from prodsec.documents import article14_report
    from prodsec.workspace import article14
    from prodsec.workspace import article14_reports as reports

    if fmt not in ("json", "pdf"):
        raise Invalid(f"--format {fmt}: expected json or pdf")
    with workspace(db, org) as (_, session, actor):
        doc, sha = article14.submitted_report(session, actor, case_id, stage)
    data = article14_report.to_pdf(doc, sha) if fmt == "pdf" else reports.report_bytes(doc)
    if output is None and fmt == "pdf":
        raise Invalid("--format pdf needs --output FILE")
    _write_exact(data, output)
    if output is not None:
        print(f"{output}: sha256 of the report {sha}", file=sys.stderr)


@case_app.command("measure")
def case_measure(case_id: str, at: Annotated[str | None, typer.Option(help="ISO 8601 (UTC).")] = None,
                 org: OrgOpt = "default", db: DbOpt = None) -> None:
    """A corrective or mitigating measure is available: starts the final-report clock."""
    from prodsec.workspace import article14
    from prodsec.workspace.vex import parse_time

    with workspace(db, org) as (_, session, actor):
        article14.measure_available(session, actor, case_id, parse_time(at))
    print("corrective measure recorded; the final-report clock runs")


@case_app.command("submit")
def case_submit(
    case_id: str, stage: str,
    at: Annotated[str | None, typer.Option(help="When it was submitted (default now).")] = None,
    reference: Annotated[str, typer.Option(help="Reference from the reporting platform.")] = "",
    content: Annotated[Path | None, typer.Option(help="JSON file with the report's items: a "
                                                 "draft (its content is used) or the items "
                                                 "alone (default: the draft as it is).")] = None,
    include: IncludesOpt = None, org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Submit a stage's report: only in the Article's order, with its required items filled;
    recorded with who, when and the SHA-256 of the report."""
    from prodsec.formats._io import expect_object, load_json, read_bytes
    from prodsec.workspace import article14
    from prodsec.workspace import article14_reports as reports
    from prodsec.workspace.vex import parse_time

    sent = (expect_object(load_json(read_bytes(content), str(content)), str(content), "a report")
            if content else None)
    if sent is not None and isinstance(sent.get("content"), dict) and "stage" in sent:
        sent = sent["content"]
    with workspace(db, org) as (_, session, actor):
        row = article14.submit(session, actor, _kb(), case_id, stage,
                               parse_time(at) if at else None, reference, sent,
                               tuple(include or ()))
        when, sha = row.submitted_at.strftime('%Y-%m-%dT%H:%M:%SZ'), reports.sha256(row.content)
    print(f"{stage} submitted at {when}; sha256 of the report {sha}")


@case_app.command("withdraw")
def case_withdraw(
    case_id: str,
    reason: Annotated[str, typer.Option(help="Why the case was opened in error (kept).")],
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Withdraw a case opened in error, before any report is submitted: it is kept with who,
    when and why; its clocks stop."""
    from prodsec.workspace import article14

    with workspace(db, org) as (_, session, actor):
        case = article14.withdraw(session, actor, case_id, reason)
        who = case.withdrawn_by
    print(f"case {case_id} withdrawn by {who}; its clocks are stopped")


@case_app.command("close")
def case_close(
    case_id: str,
    advisory: Annotated[str | None, typer.Option(help="CSAF document id or tracking id.")] = None,
    vex_ref: Annotated[str, typer.Option("--vex", help="Where the VEX is published.")] = "",
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Close a case (after its final report), linking the advisory and VEX that close it."""
    from prodsec.workspace import article14

    with workspace(db, org) as (_, session, actor):
        article14.close(session, actor, case_id, advisory, vex_ref)
    print(f"case {case_id} closed")
