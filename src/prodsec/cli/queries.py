"""The read-only knowledge commands: regulations, regulation, requirements, mappings, standards,
check. Their parameters are defined in ``prodsec.cli.spec``; the fast path and the Typer
commands both call these functions, which import only what the answer needs.

Each returns an exit code (None for success), so neither path needs Typer to report one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prodsec.cli import views
from prodsec.cli.views import emit

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any


def _kb() -> Any:
    from prodsec.services.knowledge import knowledge_base

    return knowledge_base()


def regulations(fmt: str) -> None:
    from prodsec.services import knowledge

    emit(knowledge.regulations(_kb()), fmt, views.regulations_view)


def regulation(regulation_id: str, fmt: str) -> None:
    from prodsec.services import knowledge

    emit(knowledge.regulation(_kb(), regulation_id), fmt, views.regulation_view)


def requirements(regulation_id: str | None, category: str | None, fmt: str) -> None:
    from prodsec.services import knowledge

    emit(knowledge.requirements(_kb(), regulation_id, category), fmt, views.requirements_view)


def mappings(requirement_id: str, depth: int, fmt: str) -> None:
    from prodsec.services import knowledge

    emit(knowledge.mappings(_kb(), requirement_id, depth), fmt, views.mappings_view)


def standards(fmt: str) -> None:
    from prodsec.services import knowledge

    emit(knowledge.standards(_kb()), fmt, views.standards_view)


def check(profiles: list[str], as_of: str | None, fmt: str, output: Path | None) -> int | None:
    """Every profile is checked even when some fail; the failures are reported and exit 2."""
    from prodsec.services import check as checks

    day = checks.parse_date(as_of)
    paths = [str(p) for p in profiles]
    results, failures = checks.check_paths(_kb(), paths, day)
    for failure in failures:
        print(f"error: {failure.error}", file=sys.stderr)
    single = checks.is_single(paths)
    if results or not single:
        data = checks.report(results, failures, single)
        sections: list[views.Section] = []
        if fmt != "json":
            sections = [s for c in results for s in views.check_view(c.to_dict())]
            if len(results) > 1:
                sections = views.portfolio_view(data["portfolio"]) + sections
        emit(data, fmt, lambda d: sections)
    if output is not None and results:
        from prodsec.services import report

        report.write_html(_kb(), results, output)
        print(f"report written to {output}", file=sys.stderr)
    return 2 if failures else None
