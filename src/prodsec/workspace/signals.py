"""Exploitation signals and the order of findings: known-exploited (CISA KEV or ENISA EUVD's
exploited list) first, then by FIRST EPSS, then by CVSS base score.

Why this order: CRA Article 14 makes an *actively exploited* vulnerability a reporting duty,
whatever its score; among the rest, EPSS estimates how likely exploitation is soon, and CVSS
how bad it would be. The signals are read at query time from the imported feeds (``feeds``),
so a new feed file changes the order without recomputing any finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core.triage import priority_key
from prodsec.db.models import EpssScore, EuvdEntry, KevEntry
from prodsec.workspace.context import Actor

CHUNK = 500


@dataclass(frozen=True)
class Signal:
    """Why a CVE counts as known-exploited: which list, and since when (as the list says)."""

    source: str  # kev | euvd
    date: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "date": self.date}


def _chunks(names: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(names))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start:start + CHUNK]


def exploited(session: Session, actor: Actor, cves: Iterable[str]) -> dict[str, Signal]:
    """CVE -> the earliest known-exploited signal among KEV and EUVD (KEV on a tie)."""
    found: dict[str, Signal] = {}
    for chunk in _chunks(cves):
        rows: list[tuple[str | None, Signal]] = [(c, Signal("kev", d)) for c, d in session.execute(
            select(KevEntry.cve, KevEntry.date_added).where(
                KevEntry.org_id == actor.org_id, KevEntry.cve.in_(chunk)))]
        rows += [(c, Signal("euvd", d)) for c, d in session.execute(
            select(EuvdEntry.cve, EuvdEntry.exploited_since).where(
                EuvdEntry.org_id == actor.org_id, EuvdEntry.cve.in_(chunk),
                EuvdEntry.exploited_since.is_not(None)))]
        for cve, signal in rows:
            if cve is not None and (cve not in found or _earlier(signal, found[cve])):
                found[cve] = signal
    return found


def _earlier(new: Signal, old: Signal) -> bool:
    return bool(new.date) and (not old.date or (new.date or "")[:10] < (old.date or "")[:10])


def epss(session: Session, actor: Actor, cves: Iterable[str]) -> dict[str, EpssScore]:
    """CVE -> its stored EPSS score."""
    found: dict[str, EpssScore] = {}
    for chunk in _chunks(cves):
        found |= {row.cve: row for row in session.scalars(select(EpssScore).where(
            EpssScore.org_id == actor.org_id, EpssScore.cve.in_(chunk)))}
    return found


def euvd_ids(session: Session, actor: Actor, cves: Iterable[str]) -> dict[str, list[str]]:
    """CVE -> its EUVD ids (the EUVD id is an alias of the CVE)."""
    found: dict[str, list[str]] = {}
    for chunk in _chunks(cves):
        for cve, euvd_id in session.execute(select(EuvdEntry.cve, EuvdEntry.euvd_id).where(
                EuvdEntry.org_id == actor.org_id, EuvdEntry.cve.in_(chunk))):
            if cve is not None:
                found.setdefault(cve, []).append(euvd_id)
    return found


def _cves(row: dict[str, Any]) -> list[str]:
    return [n for n in (row["vulnerability"], *row["aliases"]) if n.startswith("CVE-")]


def annotate(session: Session, actor: Actor, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``exploited`` ({source, date} or None), ``epss`` and ``epss_percentile`` (the highest
    among the finding's CVE ids), EUVD ids to ``aliases``, and ``priority``: the finding's
    place (1 = first) in triage's order (``core.triage.priority_key``: exploited > EPSS >
    CVSS). Rows keep their order."""
    names = {c for row in rows for c in _cves(row)}
    signals, scores, euvd = (exploited(session, actor, names), epss(session, actor, names),
                             euvd_ids(session, actor, names))
    for row in rows:
        cves = _cves(row)
        hits = [signals[c] for c in cves if c in signals]
        best = max((scores[c] for c in cves if c in scores), key=lambda s: s.epss, default=None)
        row["exploited"] = hits[0].to_dict() if hits else None
        row["known_exploited"] = bool(hits)
        row["epss"] = best.epss if best else None
        row["epss_percentile"] = best.percentile if best else None
        row["aliases"] = list(dict.fromkeys([*row["aliases"],
                                             *(e for c in cves for e in euvd.get(c, []))]))
    for rank, row in enumerate(sorted(rows, key=priority_key), start=1):
        row["priority"] = rank
    return rows


def by_priority(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r["priority"])
