"""What a document may say: facts gathered from the workspace and the knowledge base, and the
gaps where a fact it needs was never entered.

A generator asks for every fact through ``Facts.need``. A fact that is present is returned as
is; a missing one is recorded (what it is, where to enter it) and replaced by a ``Gap`` that
renders as a visible marker. Without ``--draft`` the caller refuses to produce the document
and lists the gaps instead — a document never fills a hole with invented text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from prodsec.errors import InputError

Doc = dict[str, Any]

GAP_OPEN, GAP_CLOSE = "⟦MISSING: ", "⟧"


@dataclass(frozen=True)
class Missing:
    """One piece of missing information: its key, what it is, and where to enter it."""

    key: str
    label: str
    where: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label, "where": self.where}

    def __str__(self) -> str:
        return f"{self.key}: {self.label} — enter with: {self.where}"


class Gap:
    """Stands in for a missing fact in a draft; prints as a marker that cannot be overlooked."""

    def __init__(self, missing: Missing) -> None:
        self.missing = missing

    def __str__(self) -> str:
        return f"{GAP_OPEN}{self.missing.label} ({self.missing.where}){GAP_CLOSE}"

    def __bool__(self) -> bool:
        return True


class MissingInformation(InputError):
    """Generation stopped: the listed facts are missing (exit code 2)."""

    def __init__(self, kind: str, missing: list[Missing]) -> None:
        self.kind, self.missing = kind, missing
        lines = "\n".join(f"  - {m}" for m in missing)
        super().__init__(f"cannot generate {kind}: {len(missing)} piece(s) of information "
                         f"missing (use --draft to see the document with gaps marked):\n{lines}")


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


@dataclass
class Facts:
    """The gaps collected while a generator reads its facts."""

    missing: list[Missing] = field(default_factory=list)

    def need(self, value: Any, key: str, label: str, where: str) -> Any:
        """``value`` if present, else a ``Gap`` (and the gap is recorded once)."""
        if not blank(value):
            return value
        item = Missing(key, label, where)
        if item not in self.missing:
            self.missing.append(item)
        return Gap(item)

    def flag(self, key: str, label: str, where: str) -> Gap:
        """Record a condition that is not a field, e.g. 'requirement not met'."""
        gap = self.need(None, key, label, where)
        assert isinstance(gap, Gap)
        return gap


def month_year(day: dt.date | None) -> str | None:
    return day.strftime("%B %Y") if day else None


def years_between(start: dt.date, end: dt.date) -> float:
    return round((end - start).days / 365.25, 1)


def formal(doc: Doc) -> str:
    """How documents name an instrument: 'Regulation (EU) 2024/2847', else its short name."""
    ref = str(doc.get("legal_reference") or "")
    head = ref.split(",")[0].strip()
    return head if head.startswith(("Regulation", "Directive")) else str(doc["short_name"])


def cite(_kb: object, citation: dict[str, Any] | None, doc: Doc) -> str:
    """'Regulation (EU) 2024/2847, Annex V, point 1' — a citation as documents print it."""
    if not citation:
        return formal(doc)
    instrument = citation.get("instrument") or formal(doc)
    text = f"{instrument}, {citation['ref']}"
    return text + (" [unverified]" if citation.get("verified") is False else "")
