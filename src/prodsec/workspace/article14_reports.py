"""What each CRA Article 14 report contains, as structured fields, and its two forms: the JSON
document that is submitted (and hashed) and a PDF of the same content.

The items are those the Article lists, point by point (Regulation (EU) 2024/2847,
https://eur-lex.europa.eu/eli/reg/2024/2847/oj): Art. 14(2)(a)-(c) for an actively exploited
vulnerability, Art. 14(4)(a)-(c) for a severe incident, and the information to users of Art.
14(8). Labels paraphrase the Article; they do not quote it. ``required`` is prodsec's rule, not
the Article's wording: an item the Article asks for without "where applicable" or "where
available" must be *addressed* before a report is submitted (a team may write "not known yet";
an empty field is refused), so nothing the CSIRT expects is left out by oversight. The
information to users is asked for at every stage and required in the final report, by which time
Art. 14(8) expects users to have been told. The PDF is laid out in
``prodsec.documents.article14_report`` (documents sit above the workspace).

A report's JSON form is canonical (sorted keys, UTF-8, no insignificant whitespace): the bytes
the audit trail's SHA-256 is taken of are exactly the bytes ``report_bytes`` returns and the API
and CLI hand out, so a reader can check what was sent against the trail.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from prodsec.workspace.context import ValidationFailed

FORMAT = "prodsec-cra-article-14-report/1"
REGULATION = "Regulation (EU) 2024/2847 (Cyber Resilience Act)"
SOURCE = "https://eur-lex.europa.eu/eli/reg/2024/2847/oj"


@dataclass(frozen=True)
class Item:
    """One piece of information an Article 14 report gives."""

    key: str
    point: str
    label: str
    required: bool = True
    kind: str = "text"  # text | list | bool | datetime (ISO 8601 with a time)
    hint: str = ""  # what the person must state, where the workspace cannot know it


_MS = ("member_states", "Member States where the manufacturer knows the product has been made "
       "available (where applicable)",
       "Member State codes, comma-separated (e.g. DE, FR): state where you know it has been made "
       "available. Only the Member States the product profile names are pre-filled; a profile "
       "sold in 'EU' does not say which.")
ITEMS: dict[tuple[str, str], tuple[Item, ...]] = {
    ("vulnerability", "early-warning"): (
        Item(_MS[0], "Art. 14(2)(a)", _MS[1], required=False, kind="list", hint=_MS[2]),),
    ("vulnerability", "notification"): (
        Item("product", "Art. 14(2)(b)", "General information on the product concerned"),
        Item("nature_of_exploit", "Art. 14(2)(b)", "General nature of the exploit"),
        Item("nature_of_vulnerability", "Art. 14(2)(b)", "General nature of the vulnerability"),
        Item("corrective_measures_taken", "Art. 14(2)(b)",
             "Corrective or mitigating measures taken"),
        Item("user_measures", "Art. 14(2)(b)", "Corrective or mitigating measures users can take"),
        Item("sensitivity", "Art. 14(2)(b)", "How sensitive the manufacturer considers the "
             "notified information (where applicable)", required=False)),
    ("vulnerability", "final-report"): (
        Item("description", "Art. 14(2)(c)(i)", "Description of the vulnerability"),
        Item("severity", "Art. 14(2)(c)(i)", "Severity of the vulnerability"),
        Item("impact", "Art. 14(2)(c)(i)", "Impact of the vulnerability"),
        Item("malicious_actor", "Art. 14(2)(c)(ii)", "Information on any malicious actor that "
             "exploited or exploits the vulnerability (where available)", required=False),
        Item("security_update", "Art. 14(2)(c)(iii)", "Details of the security update or other "
             "corrective measures made available")),
    ("incident", "early-warning"): (
        Item("unlawful_or_malicious_suspected", "Art. 14(4)(a)", "Whether the incident is "
             "suspected of being caused by unlawful or malicious acts", kind="bool"),
        Item(_MS[0], "Art. 14(4)(a)", _MS[1], required=False, kind="list", hint=_MS[2])),
    ("incident", "notification"): (
        Item("nature_of_incident", "Art. 14(4)(b)", "General nature of the incident"),
        Item("initial_assessment", "Art. 14(4)(b)", "Initial assessment of the incident"),
        Item("corrective_measures_taken", "Art. 14(4)(b)",
             "Corrective or mitigating measures taken"),
        Item("user_measures", "Art. 14(4)(b)", "Corrective or mitigating measures users can take"),
        Item("sensitivity", "Art. 14(4)(b)", "How sensitive the manufacturer considers the "
             "notified information (where applicable)", required=False)),
    ("incident", "final-report"): (
        Item("description", "Art. 14(4)(c)(i)", "Detailed description of the incident"),
        Item("severity", "Art. 14(4)(c)(i)", "Severity of the incident"),
        Item("impact", "Art. 14(4)(c)(i)", "Impact of the incident"),
        Item("threat_or_root_cause", "Art. 14(4)(c)(ii)",
             "Type of threat or root cause that likely triggered the incident"),
        Item("mitigation_applied_and_ongoing", "Art. 14(4)(c)(iii)",
             "Applied and ongoing mitigation measures")),
}
USER_ITEMS = (
    Item("users_informed", "Art. 14(8)", "Which users were informed: the impacted users or, "
         "where appropriate, all users"),
    Item("users_informed_at", "Art. 14(8)", "When users were informed (UTC)", kind="datetime"),
    Item("users_information", "Art. 14(8)", "What users were told, with the risk mitigation and "
         "corrective measures they can deploy (where necessary)"),
    Item("users_machine_readable", "Art. 14(8)", "Where the information is published in a "
         "structured, machine-readable format, e.g. a CSAF advisory (where appropriate)",
         required=False),
)


class ItemsMissing(ValidationFailed):
    """Required items of a report are empty; ``keys`` names them, so a form can say so next to
    each field (the API answers the same 422 with the message)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__("content", "required items are empty: " + ", ".join(keys)
                         + " (write 'not known yet' where that is the answer)")
        self.keys = keys


def items_of(kind: str, stages: list[str]) -> list[Item]:
    """The items of every covered stage, in the Article's order, then the users' block."""
    seen: dict[str, Item] = {}
    for stage in stages:
        for item in ITEMS[(kind, stage)]:
            seen.setdefault(item.key, item)
    return [*seen.values(), *USER_ITEMS]


def _user_items_required(stages: list[str]) -> bool:
    return "final-report" in stages


def missing(kind: str, stages: list[str], fields: dict[str, Any]) -> list[str]:
    """Required items left empty (a boolean answer counts, even ``false``)."""
    users = _user_items_required(stages)
    return [i.key for i in items_of(kind, stages)
            if (i.required and (i not in USER_ITEMS or users)) and _empty(fields.get(i.key))]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _datetime(value: Any) -> bool:
    """An ISO 8601 date-time with its time (a report says when, not just which day)."""
    import datetime as dt

    if not isinstance(value, str) or len(value) < 16 or value[10] not in "T ":
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def check_fields(kind: str, stages: list[str], fields: dict[str, Any]) -> dict[str, Any]:
    """The fields, refused when a key is unknown or a value has the wrong type (naming the
    field), in the items' order."""
    known = {i.key: i for i in items_of(kind, stages)}
    for key, value in fields.items():
        item = known.get(key)
        if item is None:
            raise ValidationFailed(f"content.{key}", "not an item of this report; expected "
                                   + ", ".join(known))
        if value is None:
            continue
        if item.kind == "bool" and not isinstance(value, bool):
            raise ValidationFailed(f"content.{key}", "expected true or false")
        if item.kind == "list" and not (isinstance(value, list)
                                        and all(isinstance(v, str) for v in value)):
            raise ValidationFailed(f"content.{key}", "expected a list of strings")
        if item.kind == "text" and not isinstance(value, str):
            raise ValidationFailed(f"content.{key}", "expected a string")
        if item.kind == "datetime" and value != "" and not _datetime(value):
            raise ValidationFailed(f"content.{key}", f"{value!r}: expected an ISO 8601 date and "
                                   "time, e.g. 2026-09-14T10:00:00Z")
    return {k: fields[k] for k in known if k in fields}


def report(header: dict[str, Any], kind: str, stages: list[str],
           fields: dict[str, Any]) -> dict[str, Any]:
    """The report's JSON form: who reports what to whom, each item with its point of the
    Article, and the Art. 14(8) information to users."""
    def row(item: Item) -> dict[str, Any]:
        value = fields.get(item.key)
        return {"key": item.key, "point": item.point, "label": item.label,
                "value": [] if value is None and item.kind == "list" else
                ("" if value is None else value)}

    rows = items_of(kind, stages)
    return {"format": FORMAT, "regulation": REGULATION, "source": SOURCE, **header,
            "kind": kind, "stages": stages,
            "items": [row(i) for i in rows if i not in USER_ITEMS],
            "information_to_users": [row(i) for i in USER_ITEMS]}


def report_bytes(doc: dict[str, Any]) -> bytes:
    """The canonical bytes of a report: what is hashed, stored and handed out."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sha256(doc: dict[str, Any]) -> str:
    """SHA-256 of the canonical bytes."""
    return hashlib.sha256(report_bytes(doc)).hexdigest()
