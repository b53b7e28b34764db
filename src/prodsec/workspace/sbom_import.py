"""An SBOM part imported in two halves, so the writer lock is held only while rows go in.

Everything slow is built by ``prepare_sbom`` in a read transaction: the part's component and
dependency rows (purl keys, CSAF ids, the driver's parameters), the release's re-assembly with
the other parts (merged components, conflicts, the quality report of the whole) and the
findings of every component after the import. ``store_sbom`` then takes the write lock,
checks that nothing the preparation read has changed (the release, its SBOM record and parts,
the organisation's advisories), deletes the replaced part and inserts the prepared rows in
bulk. Built inside the write transaction, 15 000 components held SQLite's writer lock — every
organisation's writes and sign-ins — for 6-9 s (PostgreSQL: this organisation's writers, 6-12 s).

If something did change in between (another import of the same release, an advisory import),
the preparation is stale: ``import_sbom_queued`` prepares again off the lock, and the last
attempt rebuilds inside the transaction, which is slow but right.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodsec.core.sbom import Sbom
from prodsec.db import bulk
from prodsec.db.engine import Database
from prodsec.db.models import (
    AdvisoryRecord,
    DependencyEdge,
    SbomComponent,
    SbomPart,
    SbomRecord,
    new_id,
    utcnow,
)
from prodsec.workspace import audit
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor
from prodsec.workspace.products import writable

#: Off-lock preparations tried before the last one is made under the lock.
ATTEMPTS = 3


class Stale(Exception):
    """What a prepared import was built on changed before its write transaction began (an
    internal signal to prepare again, never a user's error: not in the exception tree)."""


@dataclass(frozen=True)
class PreparedSbom:
    """Every row and value an import writes, and what they were built on (``basis``)."""

    product_ref: str
    release_label: str
    filename: str
    data: bytes
    sbom: Sbom
    report: dict[str, Any]
    part: dict[str, Any]  # the SbomPart row
    record: dict[str, Any]  # the SbomRecord's values after the import (its id included)
    rows: tuple[bulk.PreparedRows, bulk.PreparedRows]  # components, dependency edges
    findings: dict[vulns.FindingKey, dict[str, Any]]  # the release's, after the import
    conflicts: tuple[str, ...]
    parts: int
    basis: tuple[Any, ...]


def _basis(session: Session, actor: Actor, release_id: str) -> tuple[Any, ...]:
    """What a preparation depends on: the release, its SBOM record and the ids of its parts
    (a re-imported part gets a new id), and the organisation's advisories (any import that
    adds, changes or removes one changes their count or latest import time)."""
    record = vulns.release_sbom(session, actor, release_id)
    parts = tuple(session.scalars(select(SbomPart.id).where(
        SbomPart.sbom_id == record.id).order_by(SbomPart.id))) if record else ()
    count, latest = session.execute(
        select(func.count(AdvisoryRecord.id), func.max(AdvisoryRecord.imported_at))
        .where(AdvisoryRecord.org_id == actor.org_id)).one()
    return release_id, record.id if record else None, parts, int(count or 0), str(latest)


def prepare_sbom(session: Session, actor: Actor, product_ref: str, release_label: str,
                 data: bytes, filename: str, parsed: tuple[Sbom, dict[str, Any]], *,
                 part: str = vulns.DEFAULT_PART, kind: str = "application") -> PreparedSbom:
    """Build an import of ``parsed`` (``vulns.parse_sbom``) as the release's part ``part``;
    reads only. Text the database cannot store is refused here, naming the component."""
    from prodsec.core.assembly import Part, assemble
    from prodsec.db.guards import check_rows

    actor.require("editor")
    vulns.check_part(part, kind)
    release = vulns.get_release(session, actor, product_ref, release_label)
    writable(release.product)  # an archived product is read-only
    basis = _basis(session, actor, release.id)
    sbom, report = parsed
    record = vulns.release_sbom(session, actor, release.id)
    sbom_id = record.id if record else new_id()
    row = SbomPart(id=new_id(), org_id=actor.org_id, sbom_id=sbom_id, name=part, kind=kind,
                   format=sbom.format, spec_version=sbom.spec_version,
                   document_name=(sbom.name or "")[:300], filename=Path(filename).name[:300],
                   sha256=hashlib.sha256(data).hexdigest(), quality=report)
    components, edges = vulns.component_rows(actor, sbom_id, release.id, row.id, sbom)
    name = Path(filename).name
    check_rows(f"{name}: component", components, ("ref", "name"))
    check_rows(f"{name}: dependency", edges, ("source_ref",))
    others = vulns.stored_parts(session, actor, sbom_id, skip=part) if record else []
    mine = Part(part, kind, _as_stored(components, edges, row))
    everything = sorted([*others, (row, mine)], key=lambda pair: pair[0].name)
    assembly = assemble([p for _, p in everything])
    values = vulns.record_values([r for r, _ in everything], assembly)
    replaced = _part_ids(session, sbom_id, part) if record else set()
    kept = [r for r in vulns.release_match_rows(session, actor, release.id)
            if r[0] not in replaced]
    fresh = [(c["id"], c["name"], c["version"], c["purl"], c["ecosystem"], c["package"])
             for c in components]
    dialect = session.get_bind().dialect
    return PreparedSbom(
        product_ref, release_label, filename, data, sbom, report,
        {c.key: getattr(row, c.key) for c in SbomPart.__table__.columns if c.key != "imported_at"},
        values,
        (bulk.prepare(dialect, SbomComponent.__table__, components),
         bulk.prepare(dialect, DependencyEdge.__table__, edges)),
        vulns.wanted_findings(session, actor, [*kept, *fresh]),
        tuple(c.message() for c in assembly.conflicts), len(everything), basis)


def _as_stored(components: list[dict[str, Any]], edges: list[dict[str, Any]],
               row: SbomPart) -> Sbom:
    """The part as ``vulns.stored_parts`` will read it back (truncated fields, by ref), so the
    assembly made now is the one a later re-assembly makes."""
    from prodsec.core.sbom import Dependency

    ordered = sorted(components, key=lambda c: c["ref"])
    return Sbom(row.format, row.spec_version,
                tuple(vulns.stored_component(c) for c in ordered),
                tuple(Dependency(e["source_ref"], e["target_ref"]) for e in edges),
                name=row.document_name or None)


def _part_ids(session: Session, sbom_id: str, part: str) -> set[str]:
    """The component ids of the part an import replaces."""
    return set(session.scalars(select(SbomComponent.id).join(
        SbomPart, SbomPart.id == SbomComponent.part_id).where(
        SbomPart.sbom_id == sbom_id, SbomPart.name == part)))


def store_sbom(session: Session, actor: Actor, prepared: PreparedSbom, *,
               rebuild: bool = True, rescan: str = "inline") -> dict[str, Any]:
    """The write half: check the basis, replace the part, insert the prepared rows, bring the
    release's findings to the prepared ones. A stale preparation raises ``Stale``, or (with
    ``rebuild``) is made again here, inside the transaction."""
    actor.require("editor")
    release = vulns.get_release(session, actor, prepared.product_ref, prepared.release_label)
    writable(release.product)  # archived since the preparation
    if _basis(session, actor, release.id) != prepared.basis:
        if not rebuild:
            raise Stale("the release's SBOM or the advisories changed during the import")
        prepared = _again(session, actor, prepared)
    record = vulns.release_sbom(session, actor, release.id)
    before = vulns.sbom_summary(record) if record else None
    detached: vulns.Detached = {}
    if record is None:
        record = SbomRecord(id=prepared.part["sbom_id"], org_id=actor.org_id,
                            release_id=release.id, **prepared.record)
        session.add(record)
        session.flush()  # before its part (no relationship orders the two)
    else:
        detached = vulns.drop_part(session, actor, record.id, prepared.part["name"])
        for name, value in prepared.record.items():
            setattr(record, name, value)
    session.add(SbomPart(**prepared.part, imported_at=utcnow()))
    session.flush()
    for rows in prepared.rows:
        bulk.insert_prepared(session, rows)
    if rescan == "job":  # the findings the job will find: kept now, so they keep their ids
        vulns.apply_findings(session, actor, release.id, prepared.findings, detached)
        counts = vulns.queue_rescans(session, actor, [release.id])
    else:
        counts = vulns.apply_findings(session, actor, release.id, prepared.findings, detached)
    sbom = prepared.sbom
    after = vulns.sbom_summary(record) | {
        "part": prepared.part["name"], "kind": prepared.part["kind"],
        "components": len(sbom.components), "dependencies": len(sbom.dependencies),
        "parts": prepared.parts}
    audit.record(session, actor, "sbom.import", "release", release.id, before, after)
    return after | {"release_id": release.id, "findings": counts, "quality": record.quality,
                    "part_quality": prepared.report, "conflicts": list(prepared.conflicts)}


def _again(session: Session, actor: Actor, prepared: PreparedSbom) -> PreparedSbom:
    """``prepared`` built again in this session (the same SBOM, part and kind)."""
    return prepare_sbom(session, actor, prepared.product_ref, prepared.release_label,
                        prepared.data, prepared.filename, (prepared.sbom, prepared.report),
                        part=prepared.part["name"], kind=prepared.part["kind"])


def import_sbom(session: Session, actor: Actor, product_ref: str, release_label: str,
                data: bytes, filename: str,
                parsed: tuple[Sbom, dict[str, Any]] | None = None,
                rescan: str = "inline", *,
                part: str = vulns.DEFAULT_PART, kind: str = "application") -> dict[str, Any]:
    """Store one SBOM of a release as its part ``part`` (replacing that part only, so a release
    with one SBOM behaves as before), re-assemble the release's SBOM and recompute its
    findings, both halves in ``session`` (the CLI: one process, nobody waiting on it);
    ``parsed`` is ``parse_sbom(data, filename)`` when the caller ran it already.
    ``rescan="job"`` queues the recompute of this one release (in this transaction) instead
    of running it here; the counts are then ``{"queued": 1}``."""
    actor.require("editor")
    vulns.check_part(part, kind)
    parsed = parsed or vulns.parse_sbom(data, filename)
    prepared = prepare_sbom(session, actor, product_ref, release_label, data, filename, parsed,
                            part=part, kind=kind)
    return store_sbom(session, actor, prepared, rescan=rescan)


async def import_sbom_queued(database: Database, actor: Actor, product_ref: str,
                             release_label: str, data: bytes, filename: str, *,
                             part: str = vulns.DEFAULT_PART,
                             kind: str = "application") -> dict[str, Any]:
    """The server's import (API and web alike): parse on a worker thread, prepare in a read
    transaction, then queue for the writer only to store; a preparation made stale meanwhile
    is made again off the lock, the last attempt under it."""
    import anyio.to_thread

    from prodsec.workspace import writes

    vulns.check_part(part, kind)
    parsed = await anyio.to_thread.run_sync(vulns.parse_sbom, data, filename)
    def prepare(session: Session) -> PreparedSbom:
        return prepare_sbom(session, actor, product_ref, release_label, data, filename, parsed,
                            part=part, kind=kind)

    for attempt in range(1, ATTEMPTS + 1):
        prepared = await writes.read(database, prepare)
        last = attempt == ATTEMPTS
        try:
            return await writes.write(database, actor.org_id, partial(
                store_sbom, actor=actor, prepared=prepared, rebuild=last))
        except Stale:
            if last:
                raise
    raise AssertionError("unreachable: the last attempt rebuilds")  # pragma: no cover

