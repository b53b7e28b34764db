"""CLI command groups ``sbom``, ``csaf``, ``advisories``, ``vex``, ``case`` and ``findings``:
validate SBOMs and CSAF documents and scan SBOMs offline (no workspace), and the workspace side
of vulnerability handling — SBOMs per release, the advisory database, findings, triage as VEX,
CSAF authoring, CRA Article 14 cases. Exit codes: 0 valid / no failure, 2 invalid input or some
files failed (each reported on stderr)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from prodsec.errors import Invalid as Invalid

sbom_app = typer.Typer(help="Validate SBOMs (CycloneDX, SPDX) and scan them against OSV advisories.",
                       no_args_is_help=True)
csaf_app = typer.Typer(help="Validate CSAF 2.0 advisories (schema and section 6 tests).",
                       no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    json = "json"


FileArg = Annotated[Path, typer.Argument(metavar="FILE")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main application (the workspace commands of these
    groups are added by ``vuln_workspace``, which builds on this module)."""
    app.add_typer(sbom_app, name="sbom")
    app.add_typer(csaf_app, name="csaf")


def _read_sbom(path: Path) -> tuple[Any, bytes]:
    from prodsec.formats import cyclonedx, spdx
    from prodsec.formats._io import read_bytes

    data = read_bytes(path)
    return (spdx if spdx.looks_like_spdx(data) else cyclonedx), data


@sbom_app.command("validate")
def sbom_validate(file: FileArg, fmt: FormatOpt = Format.table) -> None:
    """Validate a CycloneDX (1.2–1.7, JSON/XML) or SPDX (2.2/2.3, JSON/tag-value) SBOM."""
    module, data = _read_sbom(file)
    report = module.validate(data, str(file))
    if fmt is Format.json:
        print(json.dumps({"file": report.source, "format": report.format, "spec_version": report.spec_version,
                          "valid": report.valid,
                          "errors": [{"location": i.location, "message": i.message} for i in report.issues]}, indent=2))
    else:
        verdict = "valid" if report.valid else f"INVALID ({len(report.issues)} errors)"
        print(f"{file}: {report.format} {report.spec_version}: {verdict}")
        for issue in report.issues:
            print(f"  {issue.location}: {issue.message}")
    if not report.valid:
        raise Invalid(f"{file}: invalid {report.format} {report.spec_version}: {len(report.issues)} errors")


@sbom_app.command("scan")
def sbom_scan(
    file: FileArg,
    advisories: Annotated[Path, typer.Option("--advisories", help="OSV directory, file or zip.")],
    fmt: FormatOpt = Format.table,
    cache: Annotated[bool, typer.Option(help="Cache parsed advisories on disk, keyed by content.")] = True,
) -> None:
    """Match an SBOM's components against OSV advisories, offline."""
    from prodsec.vuln import AdvisoryIndex, scan
    from prodsec.vuln import cache as osv_cache

    if not advisories.exists():
        raise Invalid(f"--advisories {advisories}: no such file or directory")
    module, data = _read_sbom(file)
    sbom = module.parse(data, str(file))
    loaded = osv_cache.load(advisories) if cache else _load_with_progress(advisories)
    for failure in loaded.failures:
        print(f"error: skipped {failure.message}", file=sys.stderr)
    index = AdvisoryIndex(loaded.advisories)
    import gc

    # The advisory database lives as long as the process: move it out of the cyclic GC's
    # generations so later collections do not walk thousands of advisories again.
    gc.freeze()
    findings = _scan_with_progress(sbom, index, scan)
    _print_findings(findings, fmt)
    if loaded.failures:
        raise Invalid(f"{advisories}: {len(loaded.failures)} advisory files failed to load (listed above)")


def _load_with_progress(path: Path) -> Any:
    from rich.progress import Progress

    from prodsec.formats import osv

    with Progress(transient=True, console=_stderr()) as bar:
        task = bar.add_task("loading advisories", total=osv.count_files(path))
        return osv.load(path, progress=lambda n: bar.advance(task, n))


def _scan_with_progress(sbom: Any, index: Any, scan: Any) -> Any:
    from rich.progress import Progress

    with Progress(transient=True, console=_stderr()) as bar:
        task = bar.add_task("scanning components", total=len(sbom.components))
        return scan(sbom, index, progress=lambda n: bar.advance(task, n))


def _stderr() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _print_findings(findings: list[Any], fmt: Format) -> None:
    if fmt is Format.json:
        print(json.dumps({"findings": [_finding_json(f) for f in findings]}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(findings)} findings")
    for column in ("component", "vulnerability", "aliases", "affected", "fixed"):
        table.add_column(column)
    for f in findings:
        table.add_row(f.component, f.vulnerability, ", ".join(f.aliases), f.affected, ", ".join(f.fixed))
    Console().print(table)


def _finding_json(finding: Any) -> dict[str, Any]:
    """``Finding.to_dict`` plus ``cvss`` (the computed base score, or None): added here rather
    than in the core ``Finding``, which stays free of the scoring package."""
    from prodsec.vuln.cvss_score import score

    cvss = score(finding.severity)
    return {**finding.to_dict(), "cvss": cvss.to_dict() if cvss else None}


@csaf_app.command("validate")
def csaf_validate(file: FileArg, fmt: FormatOpt = Format.table) -> None:
    """Validate a CSAF 2.0 document: JSON schema and the 6.1 (mandatory), 6.2, 6.3 tests."""
    from prodsec.formats import csaf
    from prodsec.formats._io import read_bytes

    report = csaf.validate(read_bytes(file), str(file))
    if fmt is Format.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{file}: CSAF 2.0: {'valid' if report.valid else 'INVALID'}")
        for f in report.failures:
            level = "error" if f.blocking else ("warning" if f.group == "optional" else "info")
            print(f"  {level} {f.test} {f.path}: {f.message}")
        for test, reason in report.skipped:
            print(f"  skipped {test}: {reason}")
    if not report.valid:
        raise Invalid(f"{file}: invalid CSAF 2.0: failed {', '.join(t for t in report.failed_tests())}")
