"""The workspace's jobs: advisory and feed (KEV, EPSS, EUVD) imports, the watched feed folder,
and incremental rescans (which propose Article 14 cases for known-exploited findings).

Each task opens its own transaction and writes its whole result in it, so a worker killed
mid-job leaves nothing half-done and the job's next attempt starts clean. Rescans take the
procrastinate lock ``release:<id>`` (one rescan of a release at a time, on any worker) and the
queueing lock ``rescan:<id>`` (one waiting rescan per release: a second change while one waits
is covered by it, since it reads the data when it runs).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from prodsec import jobs
from prodsec.db.engine import Database
from prodsec.workspace.context import Actor

log = logging.getLogger(__name__)


def as_actor(data: dict[str, Any]) -> Actor:
    """The person a job runs as (stored in its arguments when it was queued)."""
    return Actor(str(data["user_id"]), str(data["email"]), str(data["org_id"]), str(data["role"]))


@jobs.task("advisories.import", max_attempts=3, lock=lambda a: f"advisories:{a['org_id']}")
def import_advisories(db: Database, actor: dict[str, Any], org_id: str, path: str,
                      kev: str | None = None, source_name: str | None = None,
                      uploaded: bool = False) -> dict[str, Any]:
    """Import an OSV directory/zip (and a KEV catalogue, as a feed file: ``kev`` is its run)
    then queue a rescan of each release that contains a package whose advisories changed —
    only those. ``source_name``: an upload's file name, recorded as the source; ``uploaded``:
    the file is an upload kept for this job alone (``advisory_uploads``), removed once its
    import is committed."""
    from prodsec.formats import osv
    from prodsec.formats._io import read_bytes
    from prodsec.workspace import feeds
    from prodsec.workspace.vulnerabilities import import_advisories as run

    who = as_actor(actor)
    source = Path(path)
    total = osv.count_files(source) if source.exists() else None
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if done[0] % 200 == 0:
            jobs.report_progress(done[0], total, f"reading {source.name}")

    catalogue = read_bytes(Path(kev), feeds.MAX_FILE_BYTES) if kev else None
    with db.transaction() as session:
        report = run(session, who, source, advance, rescan="job", name=source_name)
        kev_run = (None if catalogue is None else
                   feeds.import_with_advisories(session, who, catalogue, str(kev)))
    if uploaded:
        source.unlink(missing_ok=True)
    jobs.report_progress(done[0], total, f"imported; {report.findings.get('queued', 0)} "
                         "release rescans queued")
    return report.to_dict() | ({"kev": kev_run} if kev_run else {})


def import_file(db: Database, who: Actor, path: str, kind: str | None = None,
                watched: bool = False) -> dict[str, Any]:
    """Import one feed file in one transaction. A watched folder's file that is refused is
    remembered with the reason (in a transaction of its own), so it is not tried again."""
    import hashlib

    from prodsec.errors import InputError
    from prodsec.formats._io import read_bytes
    from prodsec.workspace import feeds

    data = read_bytes(Path(path), feeds.MAX_FILE_BYTES)
    try:
        with db.transaction() as session:
            return feeds.import_feed(session, who, data, path, kind)
    except InputError as exc:
        if watched:
            with db.transaction() as session:
                feeds.refuse(session, who, Path(path), hashlib.sha256(data).hexdigest(), kind,
                             str(exc))
        raise


def _feed_task(kind: str) -> Any:
    def run(db: Database, actor: dict[str, Any], org_id: str, path: str,
            sha256: str | None = None, watched: bool = False) -> dict[str, Any]:
        return import_file(db, as_actor(actor), path, kind, watched)

    run.__doc__ = f"Import a {kind} feed file (incremental; proposals for new exploitation)."
    return run


def _feed_job(kind: str) -> Any:
    """Register ``<kind>.import``: one import of a kind at a time per organisation (a file's
    scores are compared with the stored ones), one waiting job per file."""
    return jobs.task(f"{kind}.import", max_attempts=3,
                     lock=lambda a: f"feeds:{a['org_id']}:{kind}",
                     queueing_lock=lambda a: f"feed:{a['org_id']}:{a.get('sha256') or a['path']}",
                     )(_feed_task(kind))


import_kev, import_epss, import_euvd = (_feed_job(k) for k in ("kev", "epss", "euvd"))


def queue_folder(db: Database, folder: Path, who: Actor) -> list[dict[str, Any]]:
    """Queue one import job per new file of the folder, by the kind its content shows; a file
    of no known kind is refused (and remembered) here. On SQLite the jobs run at the commit."""
    from prodsec.errors import FormatError
    from prodsec.formats._io import read_bytes
    from prodsec.workspace import feeds

    queued: list[dict[str, Any]] = []
    with db.transaction() as session:
        for path, digest in feeds.pending_files(session, who, folder):
            try:
                kind = feeds.detect(read_bytes(path, feeds.MAX_FILE_BYTES), str(path))
            except FormatError as exc:
                feeds.refuse(session, who, path, digest, None, str(exc))
                queued.append({"file": path.name, "kind": None, "refused": str(exc)})
                continue
            job = jobs.enqueue(session, f"{kind}.import", actor=who, path=str(path),
                               sha256=digest, watched=True)
            queued.append({"file": path.name, "kind": kind, "job": job})
    return queued


@jobs.task("prodsec.watch_feeds", max_attempts=1, periodic="* * * * *",
           queueing_lock=lambda a: "feeds-watch")
def watch_folder(db: Database, timestamp: int | None = None) -> dict[str, Any]:
    """Every minute: queue the import of each new file in ``PRODSEC_FEEDS_DIR`` (for the
    organisation ``PRODSEC_FEEDS_ORG``); each file once, by its content hash."""
    import os

    from prodsec.workspace import feeds

    with db.transaction() as session:
        who = feeds.watch_actor(session)
    if who is None:
        return {"skipped": f"{feeds.DIR_ENV} is not set"}
    return {"files": queue_folder(db, Path(os.environ[feeds.DIR_ENV]), who)}


@jobs.task("findings.rescan_release", max_attempts=5,
           lock=lambda a: f"release:{a['release_id']}",
           queueing_lock=lambda a: f"rescan:{a['release_id']}")
def rescan_release(db: Database, actor: dict[str, Any], org_id: str,
                   release_id: str) -> dict[str, int]:
    """Bring one release's findings in line with its SBOM and the advisories, in one
    transaction (triage lives apart, in VEX statements, and is untouched)."""
    return rescan(db, actor, [release_id])


@jobs.task("findings.rescan_releases", max_attempts=5)
def rescan_releases(db: Database, actor: dict[str, Any], org_id: str,
                    release_ids: list[str]) -> dict[str, Any]:
    """A batch of releases an advisory change touched (``vulnerabilities.RESCAN_BATCH``), in
    one transaction, so a retry starts clean. No procrastinate lock (a job has one): each
    release is locked in the transaction instead (``lock_releases``). A release that fails is
    split off into its own ``findings.rescan_release`` (which retries, then fails visibly
    with its error) so it cannot fail the other releases of its batch (``split_off``)."""
    who = as_actor(actor)
    jobs.report_progress(0, len(release_ids), f"rescanning {len(release_ids)} releases")
    with db.transaction() as session:
        counts, split_off = rescan_batch(session, who, release_ids)
    jobs.report_progress(len(release_ids), len(release_ids), _summary(counts, split_off))
    return counts | {"split_off": split_off}


def rescan_batch(session: Session, who: Actor, release_ids: list[str]
                 ) -> tuple[dict[str, int], list[dict[str, str]]]:
    """Recompute the batch at once (one savepoint: the fast path); if that fails, once more
    release by release, each in a savepoint of its own, and queue each release that fails
    again as a job of its own. Returns the counts and the releases split off, with why."""
    from prodsec.workspace.vulnerabilities import recompute_findings

    try:
        with session.begin_nested():
            return recompute_findings(session, who, release_ids), []
    except Exception as exc:
        log.warning("rescan of %d releases failed (%s); retrying release by release",
                    len(release_ids), exc)
    totals: dict[str, int] = {}
    split_off: list[dict[str, str]] = []
    for release_id in sorted(set(release_ids)):
        try:
            with session.begin_nested():
                counts = recompute_findings(session, who, [release_id])
        except Exception as exc:
            split_off.append(split_off_release(session, who, release_id, exc))
            continue
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    return totals, split_off


def split_off_release(session: Session, who: Actor, release_id: str,
                      exc: Exception) -> dict[str, str]:
    """Queue a release that failed inside a batch as its own rescan, and say so in the log."""
    error = f"{type(exc).__name__}: {exc}"[:500]
    jobs.enqueue(session, "findings.rescan_release", actor=who, release_id=release_id)
    log.warning("release %s split off its rescan batch into its own job: %s", release_id, error)
    return {"release_id": release_id, "error": error}


def _summary(counts: dict[str, int], split_off: list[dict[str, str]]) -> str:
    note = (f"added {counts.get('added', 0)}, removed {counts.get('removed', 0)}, "
            f"kept {counts.get('kept', 0)}")
    if split_off:
        note += "; split off into jobs of their own: " + ", ".join(
            s["release_id"] for s in split_off)
    return note


def rescan(db: Database, actor: dict[str, Any], release_ids: list[str]) -> dict[str, int]:
    """Recompute these releases' findings in one transaction, reporting progress before and
    after (recomputing also proposes cases: ``proposals``)."""
    from prodsec.workspace.vulnerabilities import recompute_findings

    jobs.report_progress(0, len(release_ids), f"rescanning release {release_ids[0]}")
    with db.transaction() as session:
        counts = recompute_findings(session, as_actor(actor), release_ids)
    jobs.report_progress(len(release_ids), len(release_ids), _summary(counts, []))
    return counts
