"""``prodsec knowledge``: the knowledge base itself — its change log and its validation."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prodsec.cli import views
from prodsec.cli.output import Format, FormatOpt
from prodsec.cli.output import emit as _emit

knowledge_app = typer.Typer(
    name="knowledge", help="The knowledge base: what changed in the law, and its validity.",
    no_args_is_help=True)


def _kb() -> Any:
    from prodsec.services.knowledge import knowledge_base

    return knowledge_base()


def changes(
    since: Annotated[str | None, typer.Option(
        "--since", help="Only changes of the law taking effect on or after YYYY-MM-DD.")] = None,
    recorded_since: Annotated[str | None, typer.Option(
        "--recorded-since",
        help="Only changes recorded in the knowledge base on or after YYYY-MM-DD.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Changes of the law that can change verdicts: date, act, what changed, what it touches."""
    from prodsec.services import knowledge

    _emit(knowledge.changes(_kb(), since, recorded_since), fmt, views.changes_view)


def validate() -> None:
    """Validate every knowledge file (schema and cross-references); exit 3 when invalid."""
    from prodsec.knowledge.loader import load_data

    data = load_data(use_cache=False)
    print(f"ok: {len(data['regulations'])} regulations, {len(data['standards'])} standards, "
          f"{len(data['mappings'])} mapping sets; law as of {data['changes']['law_as_of']}")


def register(app: typer.Typer) -> None:
    knowledge_app.command("changes")(changes)
    knowledge_app.command("validate")(validate)
    app.add_typer(knowledge_app)
