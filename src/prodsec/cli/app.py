"""The full Typer CLI. Every command prints the same data as JSON, a table or Markdown.

Exit codes: 0 success; 1 unexpected failure; 2 bad input (a file, field or argument — the
message names it); 3 the shipped knowledge base is invalid.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from prodsec.cli import views
from prodsec.cli.output import Format, FormatOpt
from prodsec.cli.output import emit as _emit
from prodsec.errors import InputError, ProdsecError

app = typer.Typer(
    name="prodsec",
    help="Product-security regulation navigator: which regimes apply, how strictly, from when.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _kb() -> Any:
    from prodsec.services.knowledge import knowledge_base

    return knowledge_base()


@app.command()
def regulations(fmt: FormatOpt = Format.table) -> None:
    """List every instrument: jurisdiction, kind, binding, conformity route, rigor, scope."""
    from prodsec.services import knowledge

    _emit(knowledge.regulations(_kb()), fmt, views.regulations_view)


@app.command()
def regulation(
    regulation_id: Annotated[str, typer.Argument(metavar="ID", help="e.g. eu-cra")],
    fmt: FormatOpt = Format.table,
) -> None:
    """One instrument: dates, rigor, strategy, scope, standards, requirements by category."""
    from prodsec.services import knowledge

    _emit(knowledge.regulation(_kb(), regulation_id), fmt, views.regulation_view)


@app.command()
def requirements(
    regulation_id: Annotated[str | None, typer.Option("--regulation", help="Instrument or standard id.")] = None,
    category: Annotated[str | None, typer.Option(help="prevention, readiness or handling.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Requirements (and standards' provisions), filtered by instrument and category."""
    from prodsec.services import knowledge

    _emit(knowledge.requirements(_kb(), regulation_id, category), fmt, views.requirements_view)


@app.command()
def mappings(
    requirement_id: Annotated[str, typer.Argument(metavar="REQUIREMENT_ID")],
    depth: Annotated[int, typer.Option(min=1, max=4, help="Mapping hops to follow.")] = 2,
    fmt: FormatOpt = Format.table,
) -> None:
    """Everything equal or overlapping with a requirement across regimes: comply once."""
    from prodsec.services import knowledge

    _emit(knowledge.mappings(_kb(), requirement_id, depth), fmt, views.mappings_view)


@app.command()
def standards(fmt: FormatOpt = Format.table) -> None:
    """Standards and the instruments that point to them."""
    from prodsec.services import knowledge

    _emit(knowledge.standards(_kb()), fmt, views.standards_view)


class Picture(StrEnum):
    rigor = "rigor"
    scope = "scope"
    both = "both"


@app.command()
def landscape(
    output: Annotated[Path, typer.Option("--output", "-o", help="FILE.svg or FILE.png")],
    kind: Annotated[Picture, typer.Option(help="rigor, scope or both")] = Picture.both,
    highlight: Annotated[list[str] | None, typer.Option(help="Instrument ids to highlight.")] = None,
) -> None:
    """Draw the rigor landscape and the scope landscape of all instruments.

    With --kind both, two files are written: FILE-rigor.EXT and FILE-scope.EXT.
    """
    from prodsec.services import landscape as pictures

    written = pictures.write(_kb(), output, kind.value, set(highlight or ()))
    for path in written:
        print(path)


@app.command()
def check(
    profiles: Annotated[list[str], typer.Argument(metavar="PROFILE...", help="Files or directories.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: today).")] = None,
    fmt: FormatOpt = Format.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write an HTML report.")] = None,
) -> None:
    """Which instruments apply to each product, how strictly, from when, and why."""
    from prodsec.services import check as checks

    day = checks.parse_date(as_of)
    results, failures = checks.check_paths(_kb(), profiles, day)
    for failure in failures:
        print(f"error: {failure.error}", file=sys.stderr)
    single = checks.is_single(profiles)
    if results or not single:
        data = checks.report(results, failures, single)
        if fmt is Format.json:
            _emit(data, fmt, lambda d: [])
        else:
            sections = [s for c in results for s in views.check_view(c.to_dict())]
            if len(results) > 1:
                sections = views.portfolio_view(data["portfolio"]) + sections
            _emit(data, fmt, lambda d: sections)
    if output is not None and results:
        from prodsec.services import report

        report.write_html(_kb(), results, output)
        print(f"report written to {output}", file=sys.stderr)
    if failures:
        raise typer.Exit(2)


@app.command()
def schema(
    what: Annotated[str, typer.Argument(help="profile, or a knowledge file kind: regulation, standard, mappings, vocabulary")],
) -> None:
    """Print a JSON Schema: the product profile (format v1) or a knowledge-file format."""
    from prodsec.services import schemas

    print(schemas.text(what))


def _register_command_groups() -> None:
    """Command groups live in their own modules; each adds its commands to ``app``."""
    from prodsec.cli import (
        documents,
        jobs,
        knowledge,
        ops,
        sbom_parts,
        server,
        vuln,
        vuln_workspace,
        workspace,
    )

    for group in (workspace, ops, server, documents, vuln, knowledge, jobs):
        group.register(app)
    vuln_workspace.register(app, vuln.sbom_app, vuln.csaf_app)
    sbom_parts.register(vuln.sbom_app)


_register_command_groups()


def run(args: list[str]) -> None:
    """Run the Typer app; user errors become a message and an exit code, never a traceback."""
    try:
        # Not standalone: Typer returns an exit code (typer.Exit) instead of raising it.
        code = app(args=args, prog_name="prodsec", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except ProdsecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: unknown option, bad value...
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            print(f"error: {exc}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(0)


__all__ = ["InputError", "app", "run"]
