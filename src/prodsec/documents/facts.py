"""What a document may say: facts gathered from the workspace and the knowledge base, and the
gaps where a fact it needs was never entered.

A generator asks for every fact through ``Facts.need``. A fact that is present is returned as
is; a missing one is recorded (what it is, where to enter it) and replaced by a ``Gap`` that
renders as a visible marker. Without ``--draft`` the caller refuses to produce the document
and lists the gaps instead — a document never fills a hole with invented text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from prodsec.errors import DocumentRefused

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


class MissingInformation(DocumentRefused):
    """Generation stopped: the listed facts are missing (exit code 2)."""

    def __init__(self, kind: str, missing: list[Missing]) -> None:
        self.kind, self.missing = kind, missing
        lines = "\n".join(f"  - {m}" for m in missing)
        super().__init__(f"cannot generate {kind}: {len(missing)} piece(s) of information "
                         f"missing (use --draft to see the document with gaps marked):\n{lines}")


@dataclass(frozen=True)
class Unverified:
    """A fact the document states that the knowledge base marks ``verified: false``: its key
    is a hash of the citation, so an acknowledgement no longer counts once the fact changes."""

    key: str
    label: str
    note: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label, "note": self.note}

    def __str__(self) -> str:
        return f"{self.key}: {self.label}" + (f" — {self.note}" if self.note else "")


class UnverifiedFacts(DocumentRefused):
    """Generation of an issued document stopped: it rests on facts nobody has checked against
    the primary text, and the organisation has not confirmed them (exit code 2)."""

    def __init__(self, kind: str, facts: list[Unverified], confirm: str) -> None:
        self.kind, self.facts = kind, facts
        lines = "\n".join(f"  - {f}" for f in facts)
        super().__init__(
            f"cannot issue {kind}: it rests on {len(facts)} fact(s) not verified against the "
            f"primary text; check each and confirm it ({confirm}), or use --draft:\n{lines}")


def fact_key(citation: dict[str, Any], instrument: str) -> str:
    text = json.dumps({"instrument": instrument, **citation}, sort_keys=True, default=str)
    return "fact-" + hashlib.sha256(text.encode()).hexdigest()[:12]


_CURRENT: ContextVar[Facts | None] = ContextVar("prodsec_document_facts", default=None)


@contextmanager
def collecting(facts: Facts) -> Iterator[Facts]:
    """While a generator runs, every unverified citation it prints is noted on ``facts``."""
    token = _CURRENT.set(facts)
    try:
        yield facts
    finally:
        _CURRENT.reset(token)


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


@dataclass
class Facts:
    """The gaps collected while a generator reads its facts."""

    missing: list[Missing] = field(default_factory=list)
    unverified: list[Unverified] = field(default_factory=list)
    draft: bool = False

    def rests_on(self, citation: dict[str, Any], instrument: str) -> None:
        """Note an unverified citation the document prints (once)."""
        item = Unverified(fact_key(citation, instrument), f"{instrument}, {citation['ref']}",
                          " ".join(str(citation.get("note") or "").split()))
        if item not in self.unverified:
            self.unverified.append(item)

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
    """'Regulation (EU) 2024/2847, Annex V, point 1' — a citation as documents print it.

    An unverified citation is noted on the generation's ``Facts``; only a draft marks it in
    the text ("[unverified]" is for the reviewer, never for the reader of an issued document).
    """
    if not citation:
        return formal(doc)
    instrument = citation.get("instrument") or formal(doc)
    text = f"{instrument}, {citation['ref']}"
    if citation.get("verified") is False:
        facts = _CURRENT.get()
        if facts is not None:
            facts.rests_on(citation, instrument)
            return text + (" [unverified]" if facts.draft else "")
    return text
