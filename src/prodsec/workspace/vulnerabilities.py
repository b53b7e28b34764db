"""Vulnerability handling in the workspace: SBOMs per release, the offline advisory database,
known-exploited flags, and findings kept current when either side changes.

Findings are *derived*: an SBOM import recomputes its release, an advisory import recomputes the
releases that contain a package whose advisories changed. Recomputing keeps findings that still
hold (their ``first_seen`` stays), adds new ones and removes those that no longer match; triage
decisions live apart (``vex``), so no decision is lost. Bulk rows go in with Core inserts (an
ORM object per advisory range would make a full database import take minutes), but always in the
caller's transaction: an import that fails leaves nothing behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, text, tuple_, update
from sqlalchemy.orm import Session

from prodsec.core.advisory import Advisory, Affected, Event, Range
from prodsec.core.assembly import Assembly, Part
from prodsec.core.sbom import Component, Sbom
from prodsec.db.models import (
    AdvisoryAlias,
    AdvisoryRecord,
    AffectedPackage,
    DependencyEdge,
    FindingRecord,
    KevEntry,
    Product,
    Release,
    SbomComponent,
    SbomPart,
    SbomRecord,
    new_id,
    utcnow,
)
from prodsec.errors import InputError
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, EvidenceTooLarge, NotFound, ValidationFailed
from prodsec.workspace.products import get_product, get_release_by_label

CHUNK = 500

get_release = get_release_by_label  # a release by its label: the name callers know


# ---- releases and SBOMs -------------------------------------------------------------------


def read_sbom(data: bytes, source: str, check: bool = True, sized: bool = False) -> Sbom:
    """Parse a CycloneDX or SPDX SBOM; refuse it (listing the first errors) unless schema-valid.

    ``sized`` refuses an SBOM over the component limit (``check_size``) right after parsing,
    before the schema check, which costs most on a large one (a 60 000-component SBOM was
    refused only after some 40 s of validation). Whichever check fails first, the answer is
    the one it always was: a document both unparsable and invalid gets the schema's list.
    """
    from prodsec.errors import FormatError
    from prodsec.formats import cyclonedx, spdx

    module: Any = spdx if spdx.looks_like_spdx(data) else cyclonedx
    try:
        parsed: Sbom = module.parse(data, source)
    except FormatError:
        if check:
            _validate(module, data, source)
        raise
    if sized:
        check_size(parsed, source)
    if check:
        _validate(module, data, source)
    return parsed


def _validate(module: Any, data: bytes, source: str) -> None:
    report = module.validate(data, source)
    if not report.valid:
        listed = "; ".join(f"{i.location}: {i.message}" for i in report.issues[:5])
        raise ValidationFailed("sbom", f"{source}: invalid {report.format} "
                               f"{report.spec_version} ({len(report.issues)} errors): {listed}")


def sbom_quality(data: bytes, source: str) -> dict[str, Any]:
    """The minimum-elements report of one SBOM file (no workspace needed)."""
    from prodsec.vuln.quality import quality

    return quality(read_sbom(data, source, check=False), _facts(data))


def _facts(data: bytes) -> dict[str, Any]:
    """Who wrote the SBOM and when (CycloneDX, SPDX 2 and SPDX 3 alike)."""
    from prodsec.vuln.quality import document_facts

    return document_facts(data)


def parse_sbom(data: bytes, filename: str) -> tuple[Sbom, dict[str, Any]]:
    """The SBOM and its quality report: the slow part of an import, which needs no database
    (the server runs it before the write transaction begins)."""
    from prodsec.vuln import bsi
    from prodsec.vuln.quality import quality

    sbom = read_sbom(data, filename, sized=True)
    report = quality(sbom, _facts(data))
    report["bsi_tr_03183_2"] = bsi.summary(data)
    return sbom, report


DEFAULT_PART = "main"


def check_part(name: str, kind: str) -> None:
    """A part name is a short label (letters, digits, '.', '_', '-'); its kind one of
    ``PART_KINDS``, each refused by name."""
    import re

    from prodsec.core.assembly import PART_KINDS

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise ValidationFailed("part", f"{name[:120]!r}: a part name is 1-100 letters, digits, "
                               "'.', '_' or '-', starting with a letter or digit")
    if kind not in PART_KINDS:
        raise ValidationFailed("kind", f"{kind[:60]!r}: expected one of {', '.join(PART_KINDS)}")


def sbom_component_limit() -> int:
    """The limit in force: ``PRODSEC_MAX_SBOM_COMPONENTS`` when set to a positive whole number,
    else ``prodsec.core.limits.SBOM_COMPONENTS`` (read per import: no restart to change it)."""
    from prodsec.core import limits

    value = os.environ.get(limits.SBOM_COMPONENTS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else limits.SBOM_COMPONENTS


def check_size(sbom: Sbom, filename: str) -> None:
    """Refuse (413) an SBOM with more components, or more dependency edges, than the limit."""
    limit = sbom_component_limit()
    for what, count in (("components", len(sbom.components)),
                        ("dependency edges", len(sbom.dependencies))):
        if count > limit:
            raise EvidenceTooLarge("sbom", f"{Path(filename).name}: {count} {what}, more than "
                                   f"the limit of {limit} per SBOM (an administrator can raise "
                                   "it with PRODSEC_MAX_SBOM_COMPONENTS)")


def list_sbom_parts(session: Session, actor: Actor, product_ref: str,
                    release_label: str) -> list[dict[str, Any]]:
    """The SBOMs a release's SBOM is assembled from, in name order."""
    release = get_release(session, actor, product_ref, release_label)
    return sbom_parts_of(session, actor, [release.id]).get(release.id, [])


def sbom_parts_of(session: Session, actor: Actor,
                  release_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """release id → the parts of its SBOM in name order, each with its component count.

    Two queries for any number of releases (the parts, the counts): a product page lists
    every release, and a query per release made it grow with them (review h17r)."""
    if not release_ids:
        return {}
    parts = session.execute(
        select(SbomRecord.release_id, SbomPart).join(SbomPart, SbomPart.sbom_id == SbomRecord.id)
        .where(SbomRecord.org_id == actor.org_id, SbomPart.org_id == actor.org_id,
               SbomRecord.release_id.in_(release_ids))
        .order_by(SbomRecord.release_id, SbomPart.name)).all()
    counts = dict(session.execute(
        select(SbomComponent.part_id, func.count())
        .where(SbomComponent.org_id == actor.org_id,
               SbomComponent.sbom_id.in_(sorted({p.sbom_id for _, p in parts})))
        .group_by(SbomComponent.part_id)).all()) if parts else {}
    out: dict[str, list[dict[str, Any]]] = {}
    for release_id, p in parts:
        out.setdefault(release_id, []).append({
            "name": p.name, "kind": p.kind, "format": p.format,
            "spec_version": p.spec_version, "filename": p.filename, "sha256": p.sha256,
            "components": counts.get(p.id, 0),
            "imported_at": p.imported_at.strftime("%Y-%m-%d %H:%M UTC")})
    return out


def remove_sbom_part(session: Session, actor: Actor, product_ref: str, release_label: str,
                     part: str) -> dict[str, Any]:
    """Remove one part; the release's SBOM is re-assembled from the rest (and is gone with the
    last part), and its findings recomputed."""
    actor.require("editor")
    release = get_release(session, actor, product_ref, release_label)
    record = release_sbom(session, actor, release.id)
    names = [p.name for p in _parts(session, actor, record.id)] if record else []
    if record is None or part not in names:
        raise NotFound(f"release {release_label!r} has no SBOM part {part[:100]!r}"
                       + (f"; its parts: {', '.join(names)}" if names else ""))
    before = sbom_summary(record)
    detached = drop_part(session, actor, record.id, part)
    remaining = len(names) - 1
    if remaining:
        _refresh(session, actor, record)
    else:
        session.execute(delete(SbomRecord).where(SbomRecord.id == record.id))
    counts = recompute_findings(session, actor, [release.id], {release.id: detached})
    after = {"removed_part": part, "parts": remaining}
    audit.record(session, actor, "sbom.part.remove", "release", release.id, before, after)
    return after | {"release_id": release.id, "findings": counts}


def _parts(session: Session, actor: Actor, sbom_id: str) -> list[SbomPart]:
    return list(session.scalars(select(SbomPart).where(
        SbomPart.org_id == actor.org_id, SbomPart.sbom_id == sbom_id).order_by(SbomPart.name)))


def drop_part(session: Session, actor: Actor, sbom_id: str, name: str) -> Detached:
    """Delete a part with its components, edges and their findings (``part_id`` has no
    cascading foreign key: see ``SbomComponent``). The findings deleted are handed back by
    package and advisory (``Detached``): a package another part (or the part's new import)
    still lists keeps its finding's id, ``first_seen`` and triage when ``apply_findings_of``
    writes the release's findings again."""
    pid = session.scalar(select(SbomPart.id).where(SbomPart.org_id == actor.org_id,
                                                   SbomPart.sbom_id == sbom_id,
                                                   SbomPart.name == name))
    if pid is None:
        return {}
    components = select(SbomComponent.id).where(SbomComponent.part_id == pid)
    detached: Detached = {}
    for fid, aid, seen, cname, version, purl in session.execute(
            select(FindingRecord.id, FindingRecord.advisory_id, FindingRecord.first_seen,
                   SbomComponent.name, SbomComponent.version, SbomComponent.purl)
            .join(SbomComponent, SbomComponent.id == FindingRecord.component_id)
            .where(FindingRecord.component_id.in_(components))
            .order_by(FindingRecord.first_seen, FindingRecord.id)):
        detached.setdefault((package_identity(cname, version, purl), aid), (fid, seen))
    session.execute(delete(FindingRecord).where(FindingRecord.component_id.in_(components)))
    session.execute(delete(SbomComponent).where(SbomComponent.part_id == pid))
    session.execute(delete(DependencyEdge).where(DependencyEdge.part_id == pid))
    session.execute(delete(SbomPart).where(SbomPart.id == pid))
    return detached


def release_assembly(session: Session, actor: Actor, record: SbomRecord) -> Assembly:
    """The release's parts as stored, assembled (``core.assembly``)."""
    from prodsec.core.assembly import assemble

    return assemble([part for _, part in stored_parts(session, actor, record.id)])


def stored_parts(session: Session, actor: Actor, sbom_id: str,
                 skip: str | None = None) -> list[tuple[SbomPart, Part]]:
    """Each stored part (but ``skip``) with its components (by ref) and dependency edges."""
    from prodsec.core.sbom import Dependency

    columns = [SbomComponent.__table__.c[name] for name in STORED_COMPONENT]
    parts = []
    for part in _parts(session, actor, sbom_id):
        if part.name == skip:
            continue
        rows = session.execute(select(*columns).where(SbomComponent.part_id == part.id)
                               .order_by(SbomComponent.ref))
        components = tuple(stored_component(dict(row._mapping)) for row in rows)
        edges = tuple(Dependency(s, t) for s, t in session.execute(
            select(DependencyEdge.source_ref, DependencyEdge.target_ref)
            .where(DependencyEdge.part_id == part.id)))
        parts.append((part, Part(part.name, part.kind, Sbom(
            part.format, part.spec_version, components, edges,
            name=part.document_name or None))))
    return parts


#: The component columns a part is assembled from (``stored_component``).
STORED_COMPONENT = ("ref", "name", "version", "purl", "cpe", "supplier", "kind", "licenses",
                    "hashes", "licence_choices", "external_references")


def stored_component(row: Mapping[str, Any]) -> Component:
    """A component as its row stores it (the inverse of ``component_rows``); rows stored before
    licence kinds and external references were kept have none."""
    from prodsec.core.sbom import ExternalReference, Hash, Licence

    return Component(
        ref=row["ref"], name=row["name"], version=row["version"], purl=row["purl"],
        cpe=row["cpe"], supplier=row["supplier"], kind=row["kind"],
        licenses=tuple(row["licenses"]),
        hashes=tuple(Hash(h["alg"], h["content"]) for h in row["hashes"]),
        licence_choices=tuple(Licence(c["kind"], c["value"], c.get("acknowledgement"))
                              for c in row["licence_choices"] or ()),
        external_references=tuple(ExternalReference(r["type"], r["url"])
                                  for r in row["external_references"] or ()))


def _refresh(session: Session, actor: Actor, record: SbomRecord) -> Assembly:
    """Bring the release's SBOM record in line with its parts (``record_values``)."""
    from prodsec.core.assembly import assemble

    stored = stored_parts(session, actor, record.id)
    assembly = assemble([part for _, part in stored])
    for name, value in record_values([row for row, _ in stored], assembly).items():
        setattr(record, name, value)
    session.flush()
    return assembly


def record_values(parts: list[SbomPart], assembly: Assembly) -> dict[str, Any]:
    """What a release's SBOM record says about its parts (in name order, as ``assembly``'s):
    one part describes the file itself; several are "assembled", with a quality report over
    the whole. Reads nothing, so an import can compute it before its write transaction."""
    from prodsec.vuln.quality import quality

    if len(parts) == 1:
        only = parts[0]
        values: dict[str, Any] = {
            "format": only.format, "spec_version": only.spec_version,
            "name": only.document_name, "filename": only.filename, "sha256": only.sha256}
        report = dict(only.quality)
    else:
        whole = assembly.sbom()
        values = {"format": "assembled", "spec_version": whole.spec_version[:16], "name": "",
                  "filename": ", ".join(p.filename or p.name for p in parts)[:300],
                  "sha256": hashlib.sha256("\n".join(p.sha256 for p in parts).encode())
                  .hexdigest()}
        documents: list[list[dict[str, Any]]] = [
            list(p.quality.get("document") or []) for p in parts]  # type: ignore[call-overload]
        stamps = sorted(str(p.quality["timestamp"]) for p in parts if p.quality.get("timestamp"))
        author = all(any(d.get("element") == "author of SBOM data" and d.get("ok") for d in doc)
                     for doc in documents)
        report = quality(whole, {"author": author, "timestamp": stamps[-1] if stamps else None})
        report["bsi_tr_03183_2"] = _bsi_of_parts(parts)
    report["parts"] = [{"name": p.name, "kind": p.kind, "filename": p.filename,
                        "components": len(a.sbom.components)}
                       for p, a in zip(parts, assembly.parts, strict=True)]
    report["conflicts"] = [c.message() for c in assembly.conflicts]
    return values | {"quality": report, "imported_at": utcnow()}


def _bsi_of_parts(parts: list[Any]) -> dict[str, Any]:
    """An assembled SBOM conforms to TR-03183-2 when every part does (each part is a document
    of its own, checked at import; a part checked before the check existed counts as unknown)."""
    checked = [(p.name, (p.quality or {}).get("bsi_tr_03183_2")) for p in parts]
    verdicts = [bool(b and b.get("conforms")) for _, b in checked]
    return {"conforms": all(verdicts) and all(b for _, b in checked),
            "parts": [{"part": name, "summary": b.get("summary") if b else "not checked"}
                      for name, b in checked]}


def sbom_reports(session: Session, actor: Actor, release_ids: list[str]) -> dict[str, Any]:
    """release id → its SBOM's file, format, hash, import time and stored quality report."""
    rows = session.scalars(select(SbomRecord).where(SbomRecord.org_id == actor.org_id,
                                                    SbomRecord.release_id.in_(release_ids)))
    return {r.release_id: {"filename": r.filename, "format": r.format,
                           "spec_version": r.spec_version, "sha256": r.sha256,
                           "imported_at": r.imported_at.strftime("%Y-%m-%d %H:%M UTC"),
                           "quality": r.quality} for r in rows}


def sbom_summary(record: SbomRecord) -> dict[str, Any]:
    return {"sbom_id": record.id, "format": record.format, "spec_version": record.spec_version,
            "filename": record.filename, "sha256": record.sha256}


def component_rows(actor: Actor, sbom_id: str, release_id: str, part_id: str,
                   sbom: Sbom) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of one part's components (with purl key and CSAF id) and dependency edges."""
    from prodsec.formats.purl import package_key

    rows = []
    for component in sbom.components:
        key = package_key(component.purl) if component.purl else None
        rows.append({
            "id": new_id(), "org_id": actor.org_id, "sbom_id": sbom_id, "part_id": part_id,
            "ref": component.ref[:1000], "name": component.name[:1000],
            "version": component.version, "purl": component.purl, "cpe": component.cpe,
            "supplier": (component.supplier or None) and component.supplier[:500],
            "kind": component.kind, "licenses": list(component.licenses),
            "hashes": [{"alg": h.algorithm, "content": h.value} for h in component.hashes],
            "licence_choices": [{"kind": c.kind, "value": c.value,
                                 "acknowledgement": c.acknowledgement}
                                for c in component.licence_choices],
            "external_references": [{"type": r.kind, "url": r.url}
                                    for r in component.external_references],
            "ecosystem": key[0] if key else None, "package": key[1][:500] if key else None,
            "csaf_product_id": csaf_product_id(release_id, component.ref),
        })
    edges = [{"id": new_id(), "org_id": actor.org_id, "sbom_id": sbom_id, "part_id": part_id,
              "source_ref": d.source[:1000], "target_ref": d.target[:1000]}
             for d in sbom.dependencies]
    return rows, edges


def csaf_product_id(release_id: str, ref: str) -> str:
    """A component's CSAF product id: stable for the same bom-ref in the same release."""
    return "CSAFPID-" + hashlib.sha256(f"{release_id}\0{ref}".encode()).hexdigest()[:16]


def _bulk(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Core inserts in chunks. They bypass the ORM flush and its text guard, so the rows are
    checked here."""
    from prodsec.db.guards import check_rows

    check_rows(model.__tablename__, rows)
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(model), rows[start:start + CHUNK])


def release_components(session: Session, actor: Actor, release_id: str) -> list[SbomComponent]:
    """The components of a release's SBOM (empty without one)."""
    return list(session.scalars(
        select(SbomComponent).join(SbomRecord, SbomRecord.id == SbomComponent.sbom_id)
        .where(SbomComponent.org_id == actor.org_id, SbomRecord.release_id == release_id)
        .order_by(SbomComponent.name, SbomComponent.version, SbomComponent.id)))


def component_view(c: SbomComponent) -> dict[str, Any]:
    """A component with its three identities: bom-ref, purl/CPE, CSAF product id."""
    return {"ref": c.ref, "name": c.name, "version": c.version, "purl": c.purl, "cpe": c.cpe,
            "supplier": c.supplier, "licenses": c.licenses, "hashes": c.hashes,
            "csaf_product_id": c.csaf_product_id}


def sbom_diff(session: Session, actor: Actor, product_ref: str, label_a: str,
              label_b: str) -> dict[str, Any]:
    """What changed in the components from release A to release B."""
    from prodsec.vuln.quality import diff

    sides = []
    for label in (label_a, label_b):
        release = get_release(session, actor, product_ref, label)
        if session.scalar(select(SbomRecord.id).where(SbomRecord.release_id == release.id)) is None:
            raise NotFound(f"release {label!r} has no SBOM; import one with prodsec sbom import")
        sides.append([component_view(c) for c in release_components(session, actor, release.id)])
    return {"from": label_a, "to": label_b, **diff(sides[0], sides[1])}


# ---- the advisory database -----------------------------------------------------------------


@dataclass
class ImportReport:
    """What an advisory import did; ``failures`` are files reported and skipped."""

    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    removed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    findings: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``prodsec advisories import --format json``."""
        data = asdict(self)
        data["failures"] = [{"file": s, "error": m} for s, m in self.failures]
        return data


def _parsed(path: Path, progress: Callable[[int], None] | None) -> Iterator[Advisory | tuple[str, str]]:
    """Each advisory under ``path``, or (file, error) for one that cannot be read."""
    from prodsec.formats import osv

    for source, data in osv._sources(path):
        if progress is not None:
            progress(1)
        try:
            yield osv.parse(data, source)
        except InputError as exc:
            yield (source, str(exc))


def content_hash(advisory: Advisory) -> str:
    """Hash of everything matching uses, so a re-import skips what did not change."""
    return hashlib.sha256(json.dumps(asdict(advisory), sort_keys=True).encode()).hexdigest()


def import_advisories(session: Session, actor: Actor, path: Path,
                      progress: Callable[[int], None] | None = None,
                      rescan: str = "inline", name: str | None = None) -> ImportReport:
    """Import OSV files (directory, zip, file) incrementally; recompute affected findings —
    here, or (``rescan="job"``) as one queued job per affected release, so many workers share
    the work and each release's findings change in one transaction of their own. ``name``: the
    source as the audit trail records it (an upload's file name rather than where it is kept)."""
    actor.require("editor")
    report = ImportReport()
    existing = {row.osv_id: (row.id, row.content_hash) for row in session.execute(
        select(AdvisoryRecord.osv_id, AdvisoryRecord.id, AdvisoryRecord.content_hash)
        .where(AdvisoryRecord.org_id == actor.org_id))}
    fresh: dict[str, Advisory] = {}
    withdrawn: set[str] = set()
    for item in _parsed(path, progress):
        report.files += 1
        if isinstance(item, tuple):
            report.failures.append(item)
        elif item.withdrawn:
            withdrawn.add(item.id)
        else:
            fresh[item.id] = item
    report.withdrawn = len(withdrawn)
    touched = _store_advisories(session, actor, fresh, existing, report)
    touched |= _remove(session, actor, [existing[i][0] for i in withdrawn if i in existing], report)
    report.findings = (queue_rescans(session, actor, releases_with_packages(session, actor, touched))
                       if rescan == "job" else recompute_for_packages(session, actor, touched))
    audit.record(session, actor, "advisories.import", "advisory-database", actor.org_id, None,
                 {"source": name or str(path), **{k: v for k, v in report.to_dict().items()
                                          if k != "failures"},
                  "failed_files": [s for s, _ in report.failures]})
    return report


def _store_advisories(session: Session, actor: Actor, fresh: dict[str, Advisory],
                      existing: dict[str, tuple[str, str]], report: ImportReport) -> set[tuple[str, str]]:
    """Insert new and changed advisories; return the (ecosystem, package) keys they touch."""
    touched: set[tuple[str, str]] = set()
    rows: list[dict[str, Any]] = []
    aliases: list[dict[str, Any]] = []
    affected: list[dict[str, Any]] = []
    for advisory in fresh.values():
        digest = content_hash(advisory)
        known = existing.get(advisory.id)
        if known is not None and known[1] == digest:
            report.unchanged += 1
            continue
        pk = known[0] if known is not None else new_id()
        values = {"summary": advisory.summary,
                  "severity": (advisory.severity or None) and advisory.severity[:200],
                  "modified": advisory.modified, "aliases": list(advisory.aliases),
                  "content_hash": digest, "imported_at": utcnow()}
        if known is not None:
            report.updated += 1
            touched |= _clear_ranges(session, pk)
            session.execute(update(AdvisoryRecord).where(AdvisoryRecord.id == pk).values(**values))
        else:
            report.added += 1
            rows.append({"id": pk, "org_id": actor.org_id, "osv_id": advisory.id[:128], **values})
        aliases += [{"id": new_id(), "org_id": actor.org_id, "advisory_id": pk, "alias": a[:128]}
                    for a in dict.fromkeys((advisory.id, *advisory.aliases))]
        for item in advisory.affected:
            touched.add((item.ecosystem, item.name))
            affected.append(_affected_row(actor, pk, item))
    for model, batch in ((AdvisoryRecord, rows), (AdvisoryAlias, aliases),
                         (AffectedPackage, affected)):
        _bulk(session, model, batch)
    return touched


def _affected_row(actor: Actor, pk: str, item: Affected) -> dict[str, Any]:
    return {"id": new_id(), "org_id": actor.org_id, "advisory_id": pk,
            "ecosystem": item.ecosystem, "package": item.name[:500],
            "ranges": [{"type": r.type, "events": [[e.kind, e.version] for e in r.events]}
                       for r in item.ranges],
            "versions": list(item.versions)}


def _clear_ranges(session: Session, pk: str) -> set[tuple[str, str]]:
    """Drop a changed advisory's aliases and ranges (its row and findings stay: findings are
    recomputed, keeping ``first_seen``); return the keys it covered."""
    keys = {(e, p) for e, p in session.execute(
        select(AffectedPackage.ecosystem, AffectedPackage.package)
        .where(AffectedPackage.advisory_id == pk))}
    session.execute(delete(AffectedPackage).where(AffectedPackage.advisory_id == pk))
    session.execute(delete(AdvisoryAlias).where(AdvisoryAlias.advisory_id == pk))
    return keys


def _remove(session: Session, actor: Actor, pks: list[str],
            report: ImportReport) -> set[tuple[str, str]]:
    """Delete advisories (cascading to their ranges, aliases and findings); return their keys."""
    touched: set[tuple[str, str]] = set()
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start:start + CHUNK]
        touched |= {(e, p) for e, p in session.execute(
            select(AffectedPackage.ecosystem, AffectedPackage.package)
            .where(AffectedPackage.advisory_id.in_(chunk)))}
        for model in (FindingRecord, AffectedPackage, AdvisoryAlias):
            session.execute(delete(model).where(model.advisory_id.in_(chunk)))
        session.execute(delete(AdvisoryRecord).where(AdvisoryRecord.org_id == actor.org_id,
                                                     AdvisoryRecord.id.in_(chunk)))
    report.removed = len(pks)
    return touched


def kev_cves(session: Session, actor: Actor) -> set[str]:
    """Every CVE the organisation's known-exploited catalogues list."""
    return set(session.scalars(select(KevEntry.cve).where(KevEntry.org_id == actor.org_id)))


# ---- findings ------------------------------------------------------------------------------


def releases_with_packages(session: Session, actor: Actor,
                           keys: set[tuple[str, str]]) -> list[str]:
    """The package -> release index: the releases whose SBOM has a component with one of these
    (ecosystem, package) keys (``ix_components_match`` answers it without reading SBOMs)."""
    releases: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), CHUNK):
        releases |= set(session.scalars(
            select(SbomRecord.release_id).join(SbomComponent, SbomComponent.sbom_id == SbomRecord.id)
            .where(SbomComponent.org_id == actor.org_id,
                   tuple_(SbomComponent.ecosystem, SbomComponent.package)
                   .in_(ordered[start:start + CHUNK])).distinct()))
    return sorted(releases)


def recompute_for_packages(session: Session, actor: Actor,
                           keys: set[tuple[str, str]]) -> dict[str, int]:
    """Recompute the releases that contain any of these (ecosystem, package) keys."""
    return recompute_findings(session, actor, releases_with_packages(session, actor, keys))


#: Releases per rescan job when an advisory change touches many. A job per release spent more
#: on the queue (fetch, progress, finish: four commits) than on the rescan itself, and its five
#: queries per release become five per batch (bench/scale.py measures both).
RESCAN_BATCH = 25


def queue_rescans(session: Session, actor: Actor, release_ids: Iterable[str]) -> dict[str, int]:
    """Queue the rescans in this transaction: one job for a single release (an SBOM change),
    batches of ``RESCAN_BATCH`` releases for many (an advisory change). A release whose rescan
    is already waiting is not queued again: the waiting job reads the data when it runs. On
    SQLite they run when this transaction commits."""
    from prodsec import jobs

    releases = sorted(set(release_ids))
    if len(releases) == 1:
        queued = jobs.enqueue(session, "findings.rescan_release", actor=actor,
                              release_id=releases[0]) is not None
        return {"releases": 1, "queued": int(queued)}
    waiting = waiting_rescans(session, actor)
    fresh = [r for r in releases if r not in waiting]
    for batch in _chunks(fresh, RESCAN_BATCH):
        jobs.enqueue(session, "findings.rescan_releases", actor=actor, release_ids=batch)
    return {"releases": len(releases), "queued": len(fresh)}


def waiting_rescans(session: Session, actor: Actor) -> set[str]:
    """The organisation's releases with a rescan queued and not yet started (none on SQLite,
    where rescans run at the commit)."""
    from prodsec import jobs

    waiting = set()
    for args in jobs.waiting_args(session, "findings.rescan_release", actor.org_id):
        waiting.add(str(args["release_id"]))
    for args in jobs.waiting_args(session, "findings.rescan_releases", actor.org_id):
        waiting.update(str(r) for r in args["release_ids"])
    return waiting


def recompute_findings(session: Session, actor: Actor, release_ids: Iterable[str],
                       detached: dict[str, Detached] | None = None) -> dict[str, int]:
    """Bring the findings of these releases in line with their SBOMs and the advisories; a
    known-exploited finding in a supported release then proposes an Article 14 case
    (``proposals``: once per product and vulnerability, whichever path found it).

    The releases are read and written ``CHUNK`` at a time (one query each for components,
    advisories and stored findings, not one per release), each locked for the transaction
    first (``lock_releases``) so two rescans of one release queue instead of clashing.
    ``detached``: the findings a part removal deleted (``drop_part``), by release."""
    from prodsec.workspace.proposals import propose

    ids = sorted(set(release_ids))
    lock_releases(session, ids)
    totals = {"added": 0, "removed": 0, "kept": 0}
    for chunk in _chunks(ids, CHUNK):
        rows = release_match_rows_of(session, actor, chunk)
        counts = apply_findings_of(session, actor, wanted_findings_of(session, actor, rows),
                                   detached)
        for key, value in counts.items():
            totals[key] += value
    totals["proposed"] = len(propose(session, actor, release_ids=ids)) if ids else 0
    return totals


def lock_releases(session: Session, release_ids: list[str]) -> None:
    """On PostgreSQL, a transaction lock per release, taken in sorted order before any write,
    so overlapping rescans (a batch and a single release) wait for each other and cannot
    deadlock; SQLite writes one transaction at a time anyway."""
    if session.get_bind().dialect.name != "postgresql" or not release_ids:
        return
    session.execute(text(
        "SELECT pg_advisory_xact_lock(hashtextextended('prodsec.release:' || r, 0)) "
        "FROM (SELECT r FROM unnest(CAST(:ids AS text[])) AS r ORDER BY r) AS ordered"),
        {"ids": sorted(release_ids)})


#: What finding matching needs of a component: id, name, version, purl, ecosystem, package.
MatchRow = tuple[str, str, str | None, str | None, str | None, str | None]
MATCH_COLUMNS = (SbomComponent.id, SbomComponent.name, SbomComponent.version, SbomComponent.purl,
                 SbomComponent.ecosystem, SbomComponent.package)


def matched_packages(components: Iterable[MatchRow]) -> list[MatchRow]:
    """The components findings are matched on: one per package, since a package listed by
    several parts of a release is one finding, not one per part. The one kept is the first by
    name, version and id, ordered here rather than by the database (whose collation and NULL
    order differ between backends), so every recompute keeps the same one."""
    unique: dict[str, MatchRow] = {}
    for row in sorted(components, key=lambda r: (r[1], r[2] is not None, r[2] or "", r[0])):
        if row[5]:
            unique.setdefault(package_identity(row[1], row[2], row[3]), row)
    return list(unique.values())


#: A finding's identity in its release: (``package_identity``, advisory id).
FindingKey = tuple[str, str]
#: Findings deleted with a part's components: key → (finding id, first seen).
Detached = dict[FindingKey, tuple[str, Any]]


def package_identity(name: str, version: str | None, purl: str | None) -> str:
    """Which package a component is, whichever part lists it: its canonical purl
    (``formats.purl.canonical_purl``), else its purl as written, else name and version. A
    finding is one per package and advisory in a release (docs/sbom.md), so it is keyed on
    this rather than on the component row, which each part (and each re-import) has anew."""
    if purl:
        return _canonical(purl) or purl
    return f"{name}@{version or ''}"


@functools.lru_cache(maxsize=65536)
def _canonical(purl: str) -> str | None:
    """``canonical_purl``, cached: a rescan canonicalises every component of its releases."""
    from prodsec.formats.purl import canonical_purl

    return canonical_purl(purl)


def wanted_findings(session: Session, actor: Actor, components: Iterable[MatchRow]
                    ) -> dict[FindingKey, dict[str, Any]]:
    """(package identity, advisory id) → what the finding says (the component it points at,
    affected and fixed versions), for these components (reads the advisories only, so an
    import can run it before its write transaction)."""
    return wanted_findings_of(session, actor, {"": list(components)})[""]


def wanted_findings_of(session: Session, actor: Actor, components: dict[str, list[MatchRow]]
                       ) -> dict[str, dict[FindingKey, dict[str, Any]]]:
    """``wanted_findings`` of several releases (release id → its components), with one read of
    the advisories of all their packages."""
    from prodsec.formats.purl import package_key
    from prodsec.vuln.index import AdvisoryIndex

    chosen = {release: matched_packages(rows) for release, rows in components.items()}
    index = AdvisoryIndex(_advisories_for(session, actor, {
        (r[4] or "", r[5] or "") for rows in chosen.values() for r in rows}))
    wanted: dict[str, dict[FindingKey, dict[str, Any]]] = {}
    for release, rows in chosen.items():
        found = wanted[release] = {}
        for cid, name, version, purl, _, _ in rows:
            key = package_key(purl or "")
            if key is None:
                continue
            identity = package_identity(name, version, purl)
            for entry in index.lookup(*key):
                found[(identity, entry.advisory.id)] = {
                    "component_id": cid, "affected": entry.described, "fixed": list(entry.fixed)}
    return wanted


def release_match_rows(session: Session, actor: Actor, release_id: str) -> list[MatchRow]:
    """``MatchRow`` of every component of a release's SBOM."""
    return release_match_rows_of(session, actor, [release_id])[release_id]


def release_match_rows_of(session: Session, actor: Actor, release_ids: list[str]
                          ) -> dict[str, list[MatchRow]]:
    """``MatchRow`` of every component of each release's SBOM, in one query (a release
    without an SBOM has none)."""
    rows: dict[str, list[MatchRow]] = {r: [] for r in release_ids}
    for release_id, *match in session.execute(
            select(SbomRecord.release_id, *MATCH_COLUMNS)
            .join(SbomRecord, SbomRecord.id == SbomComponent.sbom_id)
            .where(SbomComponent.org_id == actor.org_id, SbomRecord.release_id.in_(release_ids))):
        rows[release_id].append(tuple(match))  # type: ignore[arg-type]
    return rows


def apply_findings(session: Session, actor: Actor, release_id: str,
                   wanted: dict[FindingKey, dict[str, Any]],
                   detached: Detached | None = None) -> dict[str, int]:
    """Make a release's stored findings ``wanted`` (``apply_findings_of`` for one release)."""
    return apply_findings_of(session, actor, {release_id: wanted},
                             {release_id: detached or {}})


def apply_findings_of(session: Session, actor: Actor,
                      wanted: dict[str, dict[FindingKey, dict[str, Any]]],
                      detached: dict[str, Detached] | None = None) -> dict[str, int]:
    """Make each release's stored findings what it ``wanted``, by package and advisory: keep
    those that still hold (id and ``first_seen`` stay, pointed at the component now chosen
    for the package when that changed), update what changed, add the new, remove the rest —
    one read, one delete and one insert for all the releases. A finding ``detached`` by a part
    replaced or removed in this transaction comes back with its id and ``first_seen`` when its
    package and advisory are still wanted; only a pair that disappears counts as removed."""
    stored, duplicates = _stored_findings(session, actor, list(wanted))
    detached = detached or {}
    gone = duplicates + [fid for rid, old in stored.items() for key, (fid, *_) in old.items()
                         if key not in wanted[rid]]
    for chunk in _chunks(gone, CHUNK):
        session.execute(delete(FindingRecord).where(FindingRecord.id.in_(chunk)))
    now = utcnow()
    fresh = [(rid, key, extra) for rid, found in wanted.items() for key, extra in found.items()
             if key not in stored[rid]]
    rows, returned = [], 0
    for rid, key, extra in fresh:
        back = detached.get(rid, {}).get(key)
        returned += back is not None
        fid, seen = back or (new_id(), now)
        rows.append({"id": fid, "org_id": actor.org_id, "release_id": rid,
                     "advisory_id": key[1], "first_seen": seen, **extra})
    _bulk(session, FindingRecord, rows)
    _update_changed(session, wanted, stored)
    lost = sum(1 for rid, old in detached.items() for key in old
               if key not in wanted.get(rid, {}) and key not in stored.get(rid, {}))
    return {"added": len(fresh) - returned,
            "removed": len(gone) - len(duplicates) + lost,
            "kept": sum(len(found.keys() & stored[r].keys()) for r, found in wanted.items())
            + returned}


StoredFinding = tuple[str, str, Any, Any]  # finding id, component id, affected, fixed


def _stored_findings(session: Session, actor: Actor, release_ids: list[str]
                     ) -> tuple[dict[str, dict[FindingKey, StoredFinding]], list[str]]:
    """The releases' stored findings by package and advisory, and the ids of any second
    finding of one package and advisory (stored before findings were keyed on the package:
    the oldest is kept)."""
    stored: dict[str, dict[FindingKey, StoredFinding]] = {r: {} for r in release_ids}
    duplicates = []
    for fid, rid, cid, aid, affected, fixed, name, version, purl in session.execute(
            select(FindingRecord.id, FindingRecord.release_id, FindingRecord.component_id,
                   FindingRecord.advisory_id, FindingRecord.affected, FindingRecord.fixed,
                   SbomComponent.name, SbomComponent.version, SbomComponent.purl)
            .join(SbomComponent, SbomComponent.id == FindingRecord.component_id)
            .where(FindingRecord.org_id == actor.org_id,
                   FindingRecord.release_id.in_(release_ids))
            .order_by(FindingRecord.first_seen, FindingRecord.id)):
        key = (package_identity(name, version, purl), aid)
        if key in stored[rid]:
            duplicates.append(fid)
        else:
            stored[rid][key] = (fid, cid, affected, fixed)
    return stored, duplicates


def _update_changed(session: Session, wanted: dict[str, dict[FindingKey, dict[str, Any]]],
                    stored: dict[str, dict[FindingKey, StoredFinding]]) -> None:
    """Rewrite only the kept findings whose component, affected or fixed versions changed (one
    UPDATE per finding was N+1)."""
    for rid, found in wanted.items():
        for key, extra in found.items():
            old = stored[rid].get(key)
            if old is not None and (old[1] != extra["component_id"]
                                    or old[2] != extra["affected"]
                                    or list(old[3]) != extra["fixed"]):
                session.execute(update(FindingRecord).where(FindingRecord.id == old[0])
                                .values(**extra))


def _advisories_for(session: Session, actor: Actor, keys: set[tuple[str, str]]) -> list[Advisory]:
    """Advisories (keyed by the *database* id, so findings can point at rows) for these keys."""
    by_advisory: dict[str, list[Affected]] = defaultdict(list)
    packages: dict[str, list[str]] = defaultdict(list)
    for ecosystem, package in sorted(keys):
        packages[ecosystem].append(package)
    # One IN list per ecosystem: building an OR of 15 000 (ecosystem, package) pairs took
    # SQLAlchemy most of a large import's time, far longer than the query itself.
    chunks = [(e, names[i:i + CHUNK]) for e, names in packages.items()
              for i in range(0, len(names), CHUNK)]
    # Columns, not ORM objects: a batched rescan reads thousands of rows it never changes.
    for ecosystem, chunk in chunks:
        for advisory_id, package, raw_ranges, versions in session.execute(
                select(AffectedPackage.advisory_id, AffectedPackage.package,
                       AffectedPackage.ranges, AffectedPackage.versions).where(
                AffectedPackage.org_id == actor.org_id, AffectedPackage.ecosystem == ecosystem,
                AffectedPackage.package.in_(chunk))):
            ranges = tuple(Range(str(r["type"]), tuple(Event(k, v) for k, v in r["events"]))  # type: ignore[attr-defined]
                           for r in raw_ranges)
            by_advisory[advisory_id].append(
                Affected(ecosystem, package, ranges, tuple(versions)))
    return [Advisory(pk, affected=tuple(items)) for pk, items in by_advisory.items()]


def list_findings(session: Session, actor: Actor, product_ref: str,
                  release_label: str | None = None) -> list[dict[str, Any]]:
    """A product's findings (one release, or every release), with VEX state and the
    exploitation signals (``signals.annotate``: exploited, EPSS, priority)."""
    from prodsec.workspace import signals
    from prodsec.workspace import vex_decisions as vex

    product = get_product(session, actor, product_ref)
    query = (select(FindingRecord, SbomComponent, AdvisoryRecord, Release)
             .join(SbomComponent, SbomComponent.id == FindingRecord.component_id)
             .join(AdvisoryRecord, AdvisoryRecord.id == FindingRecord.advisory_id)
             .join(Release, Release.id == FindingRecord.release_id)
             .where(FindingRecord.org_id == actor.org_id, Release.product_id == product.id))
    if release_label is not None:
        query = query.where(Release.id == get_release(session, actor, product.id, release_label).id)
    kev = kev_cves(session, actor)
    statements = vex.statements_for(session, actor, product.id)
    found = list(session.execute(
        query.order_by(Release.version_label, SbomComponent.name, AdvisoryRecord.osv_id)))
    borrowed = alias_scores(session, actor, [a for _, _, a, _ in found])
    rows = []
    for finding, component, advisory, release in found:
        names = {advisory.osv_id, *advisory.aliases}
        decision = vex.effective(statements, release.id, names, component.purl or "")
        view = finding_view(finding, component, advisory, release, bool(names & kev), decision)
        if view["cvss"] is None and advisory.id in borrowed:
            view["cvss"], view["cvss_source"] = borrowed[advisory.id]
        view["vex_conflicts"] = vex.conflicts(statements, release.id, names,
                                              component.purl or "", decision)
        rows.append(view)
    return signals.annotate(session, actor, rows)


def alias_scores(session: Session, actor: Actor, advisories: Iterable[AdvisoryRecord]
                 ) -> dict[str, tuple[dict[str, Any], str]]:
    """For each advisory without a scorable CVSS vector, the score of another imported
    advisory that shares one of its names (a Go or PyPI advisory with no CVSS gets its CVE's or
    GHSA's), and that advisory's id: ``{advisory id: (cvss, source id)}``. The highest score
    wins when several aliases are scored; a CVE is preferred on ties."""
    from prodsec.vuln.cvss_score import score

    unscored = {a.id: {a.osv_id, *a.aliases} for a in advisories if score(a.severity) is None}
    if not unscored:
        return {}
    names = set().union(*unscored.values())
    related: dict[str, list[AdvisoryRecord]] = defaultdict(list)
    for chunk in _chunks(sorted(names), CHUNK):
        for alias, other in session.execute(
                select(AdvisoryAlias.alias, AdvisoryRecord)
                .join(AdvisoryRecord, AdvisoryRecord.id == AdvisoryAlias.advisory_id)
                .where(AdvisoryAlias.org_id == actor.org_id, AdvisoryAlias.alias.in_(chunk),
                       AdvisoryRecord.severity.is_not(None))):
            related[alias].append(other)
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for advisory_id, own in unscored.items():
        best: tuple[float, bool, str, dict[str, Any]] | None = None
        for other in {o.id: o for n in own for o in related.get(n, [])}.values():
            cvss = score(other.severity) if other.id != advisory_id else None
            if cvss is None:
                continue
            rank = (cvss.base_score, other.osv_id.startswith("CVE-"), other.osv_id, cvss.to_dict())
            if best is None or rank[:3] > best[:3]:
                best = rank
        if best is not None:
            out[advisory_id] = (best[3], best[2])
    return out


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]



def finding_view(finding: FindingRecord, component: SbomComponent, advisory: AdvisoryRecord,
                 release: Release, known_exploited: bool, decision: Any) -> dict[str, Any]:
    """The stable JSON shape of one workspace finding; ``cvss`` is the base score computed from
    the advisory's vector (None when it gives a plain severity word or no vector we can score)."""
    from prodsec.vuln.cvss_score import score

    cvss = score(advisory.severity)
    return {
        "id": finding.id, "release": release.version_label, "release_id": release.id,
        "component": component.purl or component.name, "component_ref": component.ref,
        "csaf_product_id": component.csaf_product_id, "component_version": component.version,
        "vulnerability": advisory.osv_id, "aliases": list(advisory.aliases),
        "summary": advisory.summary, "severity": advisory.severity,
        "cvss": cvss.to_dict() if cvss else None, "cvss_source": advisory.osv_id if cvss else None,
        "affected": finding.affected, "fixed": list(finding.fixed),
        "known_exploited": known_exploited, "first_seen": finding.first_seen.isoformat(),
        "state": decision.state if decision else "in_triage",
        "justification": decision.justification if decision else None,
        "responses": list(decision.responses) if decision else [],
        "detail": decision.detail if decision else "",
        "decision_source": decision.source if decision else None,
        "vex_conflicts": [],
    }


def product_of(session: Session, actor: Actor, product_id: str) -> Product:
    """The product row, organisation-scoped."""
    return get_product(session, actor, product_id)


def release_sbom(session: Session, actor: Actor, release_id: str) -> SbomRecord | None:
    """A release's stored SBOM record (with its quality report), or None."""
    return session.scalar(select(SbomRecord).where(SbomRecord.org_id == actor.org_id,
                                                   SbomRecord.release_id == release_id))


def store_advisories(session: Session, actor: Actor, advisories: list[Advisory]) -> dict[str, int]:
    """Add or update advisories that come from elsewhere than an OSV import (a supplier's CSAF
    advisory, ``csaf_ingest``) and bring the findings of every release they touch up to date."""
    actor.require("editor")
    existing = {row.osv_id: (row.id, row.content_hash) for row in session.execute(
        select(AdvisoryRecord.osv_id, AdvisoryRecord.id, AdvisoryRecord.content_hash)
        .where(AdvisoryRecord.org_id == actor.org_id,
               AdvisoryRecord.osv_id.in_([a.id for a in advisories])))}
    touched = _store_advisories(session, actor, {a.id: a for a in advisories}, existing,
                                ImportReport())
    return recompute_for_packages(session, actor, touched)
