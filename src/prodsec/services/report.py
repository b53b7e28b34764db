"""The HTML report of ``prodsec check --output``: verdicts, the rigor landscape with the
product's instruments highlighted, and a timeline of the dates that matter."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from prodsec.core.applicability import Check
from prodsec.core.knowledge import KnowledgeBase
from prodsec.errors import InputError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def timeline(kb: KnowledgeBase, check: Check) -> list[dict[str, Any]]:
    """Dates of the instruments that bind the product, and its obligations' start dates."""
    events = []
    for verdict in check.results:
        if not verdict.binds:
            continue
        reg = kb.regulations[verdict.regulation]
        for d in reg["dates"]:
            events.append({"date": d["date"], "regulation": reg["short_name"], "text": d["text"],
                           "citation": kb.cite(d["citation"], reg), "past": d["date"] <= check.as_of})
    events.sort(key=lambda e: (e["date"], e["regulation"]))
    return events


def render_html(kb: KnowledgeBase, checks: list[Check]) -> str:
    from jinja2 import Environment, FileSystemLoader
    from markupsafe import Markup

    from prodsec.services import landscape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    products = []
    for check in checks:
        binding = {v.regulation for v in check.results if v.binds}
        svg = landscape.render(kb, "rigor", "svg", binding).decode("utf-8")
        # matplotlib's SVG of the knowledge base (its text escaped): markup of ours
        svg = Markup(svg[svg.index("<svg"):])
        products.append({"check": check.to_dict(), "svg": svg, "timeline": timeline(kb, check)})
    return env.get_template("report.html.j2").render(products=products, kb_version=kb.version,
                                                     law_as_of=kb.law_as_of)


def write_html(kb: KnowledgeBase, checks: list[Check], output: Path) -> None:
    if output.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--output: expected a file name ending in .html, got {output}")
    if not output.parent.exists():
        raise InputError(f"--output: directory {output.parent} does not exist")
    html = render_html(kb, checks)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(html)
    os.replace(tmp, output)
