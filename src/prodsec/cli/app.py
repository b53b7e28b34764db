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

from prodsec.cli import build
from prodsec.cli.failure import report
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


# The knowledge queries are defined once, in prodsec.cli.spec (the fast path reads it too).
for _name in ("regulations", "regulation", "requirements", "mappings", "standards"):
    build.register(app, _name)


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


build.register(app, "check")


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
        feeds,
        jobs,
        knowledge,
        notifications,
        ops,
        sbom_parts,
        server,
        vuln,
        vuln_workspace,
        workspace,
    )

    for group in (workspace, ops, server, documents, vuln, knowledge, jobs, notifications):
        group.register(app)
    vuln_workspace.register(app, vuln.sbom_app, vuln.csaf_app)
    feeds.register(app, vuln_workspace.case_app)
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
        sys.exit(report(exc))
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
