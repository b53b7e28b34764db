"""Exploitation feeds as files, offline: CISA KEV (JSON), FIRST EPSS (CSV, gzip too) and ENISA
EUVD exports (JSON), imported by hand, by upload, or from a watched folder.

Every import is incremental and says what changed (new, changed, unchanged), stored per file
in ``feed_imports``. A file is recognised by its content, never its name; one that is
malformed, truncated, of another kind than asked for, or already imported (same SHA-256) is
refused with the reason, and since the whole import runs in the caller's transaction nothing of
it is left behind. New exploitation signals are matched with the findings at once: a supported
release's finding that is now known-exploited proposes an Article 14 case (``proposals``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prodsec.db.models import EpssScore, EuvdEntry, FeedImport, KevEntry, new_id
from prodsec.errors import FormatError
from prodsec.workspace import audit, proposals
from prodsec.workspace.context import Actor, Conflict, ValidationFailed

KINDS = {"kev": "CISA KEV catalogue (JSON)", "epss": "FIRST EPSS scores file (CSV)",
         "euvd": "ENISA EUVD export (JSON)"}
#: Where the periodic ``prodsec.watch_feeds`` job looks for new files, and as which organisation.
DIR_ENV, ORG_ENV = "PRODSEC_FEEDS_DIR", "PRODSEC_FEEDS_ORG"
#: A feed file larger than this is refused before it is read (EPSS, the largest, is ~2 MB gzip).
MAX_FILE_BYTES = 32 * 1024 * 1024


@dataclass
class Outcome:
    """What one file changed, and the CVEs it newly flags as exploited."""

    counts: dict[str, int]
    feed_date: str | None = None
    exploited: set[str] = field(default_factory=set)


def detect(data: bytes, source: str) -> str:
    """The feed kind of a file, from its content."""
    from prodsec.formats import epss, euvd, kev

    for kind, module in (("epss", epss), ("kev", kev), ("euvd", euvd)):
        if module.looks_like(data):
            return kind
    raise FormatError(f"{source}: not a feed prodsec reads: expected a "
                      f"{', a '.join(KINDS.values())}", source=source)


def import_feed(session: Session, actor: Actor, data: bytes, source: str,
                kind: str | None = None) -> dict[str, Any]:
    """Import one feed file in the caller's transaction; return the run's view (with the
    proposals it made). ``kind`` given: a file of another kind is refused (wrong source)."""
    actor.require("editor")
    found = detect(data, source)
    if kind is not None and kind != found:
        raise ValidationFailed("kind", f"{Path(source).name}: expected a {KINDS.get(kind, kind)}"
                               f", but the file is a {KINDS[found]}")
    run = _claim(session, actor, found, data, source)
    outcome = _READERS[found](session, actor, data, source)
    run.counts, run.feed_date = outcome.counts, outcome.feed_date
    made = proposals.propose(session, actor, cves=outcome.exploited)
    session.flush()
    view = run_view(run) | {"proposals": made}
    audit.record(session, actor, f"{found}.import", "feed", run.id, None,
                 {k: view[k] for k in ("kind", "filename", "sha256", "feed_date", "counts")})
    return view


def import_with_advisories(session: Session, actor: Actor, data: bytes,
                           source: str) -> dict[str, Any]:
    """The CISA KEV catalogue given with an advisory import (``advisories import --kev``),
    imported as any KEV file is (``import_feed``: incremental, recorded, proposals and their
    notifications) — except that a catalogue imported before is skipped with the reason
    (``skipped``) instead of refused: the advisories it comes with are still imported, and a
    daily script may pass the same catalogue again."""
    actor.require("editor")
    before = _earlier_import(session, actor, hashlib.sha256(data).hexdigest())
    if before is None:
        return import_feed(session, actor, data, source, "kev")
    return run_view(before) | {"proposals": [], "skipped": _already(source, before)}


def _earlier_import(session: Session, actor: Actor, digest: str) -> FeedImport | None:
    """The organisation's successful import of the file with this SHA-256, if any."""
    return session.scalar(select(FeedImport).where(
        FeedImport.org_id == actor.org_id, FeedImport.sha256 == digest,
        FeedImport.status == "imported"))


def _already(source: str, before: FeedImport) -> str:
    return (f"{Path(source).name}: already imported (same content as {before.filename}, "
            f"{before.kind}, at {before.imported_at:%Y-%m-%d %H:%M} UTC): nothing imported")


def _claim(session: Session, actor: Actor, kind: str, data: bytes, source: str) -> FeedImport:
    """The run's row, written first: its unique (organisation, SHA-256) refuses a file imported
    before — also when two imports of it run at once (the second waits, then fails)."""
    digest = hashlib.sha256(data).hexdigest()
    before = session.scalar(select(FeedImport).where(FeedImport.org_id == actor.org_id,
                                                     FeedImport.sha256 == digest))
    if before is not None and before.status == "imported":
        raise Conflict(_already(source, before), precondition=False)
    if before is not None:  # refused by the watched folder earlier: a person tries again
        session.delete(before)
        session.flush()
    run = FeedImport(id=new_id(), org_id=actor.org_id, kind=kind, filename=Path(source).name[:300],
                     sha256=digest, counts={}, status="imported", error="",
                     imported_by=actor.email,
                     imported_at=dt.datetime.now(dt.UTC))  # to the microsecond: runs in order
    session.add(run)
    try:  # no savepoint: the whole transaction is given up (pysqlite would commit at RELEASE)
        session.flush()
    except IntegrityError:
        raise Conflict(f"{Path(source).name}: being imported by another job right now: nothing "
                       "imported", precondition=False) from None
    return run


def _kev(session: Session, actor: Actor, data: bytes, source: str) -> Outcome:
    from prodsec.formats import kev
    from prodsec.workspace.vulnerabilities import _bulk

    catalogue = kev.parse(data, source)
    stored = {row.cve: row for row in session.scalars(
        select(KevEntry).where(KevEntry.org_id == actor.org_id))}
    rows, changed = [], []
    for cve, added in catalogue.entries.items():
        old = stored.get(cve)
        if old is None:
            rows.append({"id": new_id(), "org_id": actor.org_id, "cve": cve,
                         "date_added": added, "source": Path(source).name[:300]})
        elif old.date_added != added:
            changed.append({"id": old.id, "date_added": added})
    _bulk(session, KevEntry, rows)
    if changed:
        session.execute(update(KevEntry), changed)
    return Outcome(_counts(len(catalogue.entries), rows, changed), catalogue.version,
                   {str(r["cve"]) for r in rows})


def _epss(session: Session, actor: Actor, data: bytes, source: str) -> Outcome:
    from prodsec.formats import epss
    from prodsec.workspace.vulnerabilities import _bulk

    scores = epss.parse(data, source)
    _refuse_older(session, actor, scores.score_date, source)
    stored = {cve: (pk, e, p) for pk, cve, e, p in session.execute(
        select(EpssScore.id, EpssScore.cve, EpssScore.epss, EpssScore.percentile)
        .where(EpssScore.org_id == actor.org_id))}
    rows, changed = [], []
    for cve, (value, percentile) in scores.scores.items():
        old = stored.get(cve)
        if old is None:
            rows.append({"id": new_id(), "org_id": actor.org_id, "cve": cve, "epss": value,
                         "percentile": percentile, "score_date": scores.score_date[:64]})
        elif (old[1], old[2]) != (value, percentile):
            changed.append({"id": old[0], "epss": value, "percentile": percentile,
                            "score_date": scores.score_date[:64]})
    _bulk(session, EpssScore, rows)
    for start in range(0, len(changed), 5000):
        session.execute(update(EpssScore), changed[start:start + 5000])
    return Outcome(_counts(len(scores.scores), rows, changed), scores.score_date)


def _refuse_older(session: Session, actor: Actor, score_date: str, source: str) -> None:
    """Scores replace scores: a file older than the newest imported one would turn them back."""
    newest = session.scalar(select(FeedImport.feed_date).where(
        FeedImport.org_id == actor.org_id, FeedImport.kind == "epss",
        FeedImport.status == "imported", FeedImport.feed_date.is_not(None))
        .order_by(FeedImport.feed_date.desc()).limit(1))
    if newest and score_date[:10] < newest[:10]:
        raise ValidationFailed("score_date", f"{Path(source).name}: scores of {score_date[:10]}"
                               f" are older than those imported ({newest[:10]}): not imported")


def _euvd(session: Session, actor: Actor, data: bytes, source: str) -> Outcome:
    from prodsec.formats import euvd
    from prodsec.workspace.vulnerabilities import _bulk

    records = euvd.parse(data, source)
    ids = [r.euvd_id for r in records]
    stored = {row.euvd_id: row for start in range(0, len(ids), 1000)
              for row in session.scalars(select(EuvdEntry).where(
                  EuvdEntry.org_id == actor.org_id, EuvdEntry.euvd_id.in_(ids[start:start + 1000])))}
    rows, changed, flagged = [], [], set()
    for record in records:
        old = stored.get(record.euvd_id)
        values = {"cve": record.cve, "aliases": list(record.aliases),
                  "exploited_since": record.exploited_since, "base_score": record.base_score,
                  "content_hash": record.content_hash}
        if old is None:
            rows.append({"id": new_id(), "org_id": actor.org_id, "euvd_id": record.euvd_id,
                         **values})
        elif old.content_hash != record.content_hash:
            changed.append({"id": old.id, **values})
        if record.cve and record.exploited_since and (old is None or not old.exploited_since):
            flagged.add(record.cve)
    _bulk(session, EuvdEntry, rows)
    if changed:
        session.execute(update(EuvdEntry), changed)
    return Outcome(_counts(len(records), rows, changed) | {"exploited": len(flagged)}, None,
                   flagged)


def _counts(total: int, new: list[Any], changed: list[Any]) -> dict[str, int]:
    return {"records": total, "new": len(new), "changed": len(changed),
            "unchanged": total - len(new) - len(changed)}


_READERS: dict[str, Callable[[Session, Actor, bytes, str], Outcome]] = {
    "kev": _kev, "epss": _epss, "euvd": _euvd}


def run_view(run: FeedImport) -> dict[str, Any]:
    """The stable JSON shape of one feed import."""
    return {"id": run.id, "kind": run.kind, "filename": run.filename, "sha256": run.sha256,
            "feed_date": run.feed_date, "counts": dict(run.counts), "status": run.status,
            "error": run.error or None, "imported_by": run.imported_by,
            "imported_at": run.imported_at.isoformat()}


def list_runs(session: Session, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    """The organisation's feed imports, newest first."""
    return [run_view(r) for r in session.scalars(
        select(FeedImport).where(FeedImport.org_id == actor.org_id)
        .order_by(FeedImport.imported_at.desc(), FeedImport.id).limit(max(1, min(limit, 500))))]


# ---- the watched folder ----------------------------------------------------------------------


def pending_files(session: Session, actor: Actor, folder: Path) -> list[tuple[Path, str]]:
    """The folder's files (name order) whose content was neither imported nor refused before,
    with their SHA-256. Hidden files and ``*.part``/``*.tmp`` (still being written) wait."""
    from prodsec.formats._io import read_bytes

    if not folder.is_dir():
        raise ValidationFailed("folder", f"{folder}: not a directory")
    seen = set(session.scalars(select(FeedImport.sha256).where(FeedImport.org_id == actor.org_id)))
    found = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.name.startswith(".") or path.suffix in (".part", ".tmp"):
            continue
        digest = hashlib.sha256(read_bytes(path, MAX_FILE_BYTES)).hexdigest()
        if digest not in seen:
            found.append((path, digest))
    return found


def refuse(session: Session, actor: Actor, path: Path, digest: str, kind: str | None,
           reason: str) -> None:
    """Remember a watched file that could not be imported, with why: it is not tried again
    (a corrected file has another hash and is)."""
    if session.scalar(select(FeedImport.id).where(FeedImport.org_id == actor.org_id,
                                                  FeedImport.sha256 == digest)) is None:
        session.add(FeedImport(org_id=actor.org_id, kind=kind or "unknown",
                               filename=path.name[:300], sha256=digest, counts={},
                               status="refused", error=reason[:4000], imported_by=actor.email))


def watch_actor(session: Session) -> Actor | None:
    """The organisation the watched folder feeds (``PRODSEC_FEEDS_ORG``, default "default"),
    as its system actor; None when no folder is configured."""
    from prodsec.workspace.users import get_or_create_org, system_actor

    if not os.environ.get(DIR_ENV):
        return None
    return system_actor(get_or_create_org(session, os.environ.get(ORG_ENV) or "default"))
