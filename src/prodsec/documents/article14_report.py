"""An Article 14 report as a PDF: the same items as its JSON form (``prodsec.workspace.
article14_reports``), laid out by the documents' Markdown → HTML → WeasyPrint path, every value
Markdown-escaped so nothing typed into a report becomes markup."""

from __future__ import annotations

from typing import Any

from prodsec.documents.render import md_escape, to_html
from prodsec.documents.render import to_pdf as html_to_pdf

STAGE_TITLES = {"early-warning": "Early warning", "notification": "Notification",
                "final-report": "Final report"}


def to_pdf(doc: dict[str, Any], sha: str) -> bytes:
    """The report as a PDF (the ``pdf`` extra): the same items as the JSON form, and its hash."""
    return html_to_pdf(to_html(markdown(doc, sha), title(doc), draft=False))


def title(doc: dict[str, Any]) -> str:
    """"Early warning and notification — actively exploited vulnerability CVE-…"."""
    stages = " and ".join(STAGE_TITLES[s].lower() for s in doc["stages"]).capitalize()
    what = ("actively exploited vulnerability " + (doc.get("vulnerability") or "")
            if doc["kind"] == "vulnerability" else "severe incident")
    return f"{stages} — {what.strip()}"


def markdown(doc: dict[str, Any], sha: str) -> str:
    """The Markdown the PDF is laid out from; every value escaped (no markup from the input)."""
    def cell(value: Any) -> str:
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        else:
            text = str(value)
        text = str(md_escape(" ".join(text.split())))
        return text or "*not given*"

    head = [f"# {md_escape(title(doc))}", "",
            f"Report under Article 14 of {doc['regulation']} ({doc['source']}).", "",
            "| Report | |", "|---|---|"]
    for label, key in (("Manufacturer", "manufacturer"), ("Product", "product_name"),
                       ("Case", "case"), ("Title", "title"), ("Vulnerability", "vulnerability"),
                       ("Aware since (UTC)", "aware_at"), ("Submitted (UTC)", "submitted_at"),
                       ("Recipient", "recipient")):
        if doc.get(key):
            head.append(f"| {label} | {cell(doc[key])} |")
    body = ["", "## Information the Article asks for", "", "| Point | Item | Content |",
            "|---|---|---|"]
    body += [f"| {r['point']} | {cell(r['label'])} | {cell(r['value'])} |" for r in doc["items"]]
    body += ["", "## Information to users (Art. 14(8))", "", "| Item | Content |", "|---|---|"]
    body += [f"| {cell(r['label'])} | {cell(r['value'])} |" for r in doc["information_to_users"]]
    body += ["", f"SHA-256 of the submitted JSON form: `{sha}`", ""]
    return "\n".join(head + body)
