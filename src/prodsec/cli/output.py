"""Output options shared by every command: --format and the one function that prints."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer

from prodsec.cli import views


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, json or markdown.")]


def emit(data: Any, fmt: Format, view: Callable[[Any], list[views.Section]]) -> None:
    """JSON is the data itself; table and Markdown are views of the same data."""
    views.emit(data, fmt, view)
