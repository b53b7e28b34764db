"""Supplier and CSIRT CSAF advisories read into the workspace: matched against the components
of the organisation's releases, so the supplier's statement becomes a finding or a VEX proposal.

Input is a file, a folder of files, or a provider tree copied offline (CSAF 2.0 7.1): a tree's
``provider-metadata.json`` must be schema-valid (else nothing is read), and each document's
hash files and OpenPGP signature are checked with the keys the tree carries (or ``--key``). A
document whose hash or signature is wrong, which is not valid CSAF 2.0 (schema and mandatory
tests), or cannot be read is refused with the reason and nothing of it is stored.

Matching (CSAF 2.0 9.1.13, asset matching): each product a status names is identified by its
``product_identification_helper`` purl (with a version; qualifiers ignored) or CPE, else by
its name, compared with a component's ``name version``; purls and CPEs are compared in their
canonical forms (``formats.purl.canonical_purl``, ``canonical_cpe``). A relationship ("X as part of Y") is
matched on Y first (the supplier's product we ship), then on X.

- ``known_affected`` (and ``first_affected``/``last_affected``) on a component that already
  has a finding for that vulnerability (its id or any alias, e.g. the CVE of an OSV advisory):
  the supplier's statement is recorded on that finding, not as a second one — a VEX statement
  proposal ``exploitable`` with the supplier's remediation (CSAF ``remediations``: response and
  details) and the source ``import:csaf:<tracking id>``. Two findings of one CVE would make
  every CSAF document authored from the release name the CVE twice (CSAF 2.0 test 6.1.23).
- ``known_affected`` on a component without such a finding: an advisory
  ``<tracking id>:<vulnerability>`` enters the advisory database for the exact component
  versions matched, and the findings of every release that contains them are recomputed.
- ``known_not_affected`` (with its flag or impact threat) and ``fixed``: a VEX statement
  proposal on the component, recorded with the source ``import:csaf:<tracking id>``. It goes
  through the supplier-VEX rules (``vex_import``): it never replaces or outranks our own
  triage; a disagreement is reported as a conflict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core.advisory import Advisory, Affected
from prodsec.db.models import Product, Release, SbomComponent, SbomRecord
from prodsec.errors import CsafTreeError
from prodsec.formats import csaf_rolie, csaf_tree
from prodsec.formats._io import read_bytes
from prodsec.formats.vex import Statement
from prodsec.workspace import audit, csaf_trust
from prodsec.workspace.context import Actor

AFFECTED = "exploitable"
PROPOSED = ("not_affected", "resolved")
MAX_DOCUMENTS = 5000


@dataclass(frozen=True)
class Component:
    """One component of one release, as matching needs it."""

    product_id: str
    product: str
    release: str
    name: str
    version: str | None
    purl: str | None
    cpe: str | None


@dataclass
class Candidates:
    """The organisation's components by purl (no qualifiers), CPE and ``name version``."""

    by_key: dict[str, list[Component]] = field(default_factory=dict)

    def add(self, key: str | None, component: Component) -> None:
        """Index a component under one of its identities."""
        if key:
            self.by_key.setdefault(key, []).append(component)

    def match(self, identity: str | None) -> list[Component]:
        """The components a CSAF product identity names (none for an unversioned purl: it
        would match every version)."""
        key = _key(identity)
        return list(self.by_key.get(key, [])) if key else []


def _key(identity: str | None) -> str | None:
    """The comparison form of a product identity: a purl canonical and without qualifiers or
    subpath (``pkg:npm/Lodash@4.17.21`` is ``pkg:npm/lodash@4.17.21``), a CPE as lower-case
    CPE 2.3, a name lower case with its spaces collapsed. None for an unversioned purl (it would
    name every version) or a malformed purl or CPE."""
    from prodsec.formats.purl import canonical_cpe, canonical_purl

    if not identity:
        return None
    text = identity.strip()
    if text.lower().startswith("pkg:"):
        core = canonical_purl(text, qualifiers=False)
        return core if core is not None and "@" in core.rsplit("/", 1)[-1] else None
    if text.lower().startswith("cpe:"):
        return canonical_cpe(text)
    return "name:" + " ".join(text.lower().split())


def candidates(session: Session, actor: Actor) -> Candidates:
    """Every component of every release of the organisation, indexed for matching."""
    found = Candidates()
    rows = session.execute(
        select(SbomComponent, Release.version_label, Product.id, Product.name)
        .join(SbomRecord, SbomRecord.id == SbomComponent.sbom_id)
        .join(Release, Release.id == SbomRecord.release_id)
        .join(Product, Product.id == Release.product_id)
        .where(SbomComponent.org_id == actor.org_id))
    for row, label, pid, pname in rows:
        comp = Component(pid, pname, label, row.name, row.version, row.purl, row.cpe)
        found.add(_key(row.purl), comp)
        found.add(_key(row.cpe), comp)
        found.add(_key(f"{row.name} {row.version}" if row.version else None), comp)
    return found


# ---- reading the input -----------------------------------------------------------------------


@dataclass
class Source:
    """One document to ingest: where it is, its bytes, and why it is refused already (the
    tree's hash, signature and placement checks)."""

    name: str
    data: bytes | None
    problems: list[str] = field(default_factory=list)
    signed_by: str | None = None


def sources(path: Path, extra_keys: list[bytes]) -> tuple[list[Source], list[str]]:
    """The documents under ``path`` (a file, a folder of files, or a provider tree) and the
    tree-level problems. An invalid provider-metadata.json refuses the whole tree."""
    from prodsec.workspace.csaf_tree import read_verified

    if path.is_file():
        return _loose([path], path.parent, extra_keys), []
    if not path.is_dir():
        raise CsafTreeError(f"{path}: no such file or folder")
    if csaf_tree.find_metadata(path) is not None:
        tree, problems = read_verified(path, extra_keys)
        if any(p.startswith(csaf_tree.METADATA + " /") for p in problems) or not tree.metadata:
            raise CsafTreeError(f"{path}: provider-metadata.json is invalid, nothing read: "
                                + "; ".join(problems[:5]))
        # index.txt / changes.csv that do not list the documents, and the ROLIE feeds'
        # problems (csaf tree --check's, CSAF 2.0 7.1.15): reported, not silently passed
        problems += csaf_tree.listing_problems(tree) + csaf_rolie.feed_problems(tree)
        return [Source(d.path, d.data, d.problems + _label_problems(d.path, problems),
                       d.signed_by) for d in tree.documents], problems
    # files inside the folder only: a symbolic link (to a file or a folder) is not followed out
    # of it (pentest h11pen2 F6)
    root = path.resolve()
    files = sorted(p for p in path.rglob("*.json")
                   if p.is_file() and not p.is_symlink() and p.resolve().is_relative_to(root))
    if len(files) > MAX_DOCUMENTS:
        raise CsafTreeError(f"{path}: {len(files)} JSON files, more than {MAX_DOCUMENTS}")
    return _loose(files, path, extra_keys), []


def _label_problems(path: str, tree_problems: list[str]) -> list[str]:
    """A document whose TLP label is not its feed's (``csaf_rolie``'s finding): refused, not
    ingested under the feed's looser label (review h18r M6)."""
    return [p for p in tree_problems if p.startswith(f"{path} is TLP:")]


def _loose(files: list[Path], root: Path, extra_keys: list[bytes]) -> list[Source]:
    """Files outside a tree, each with the hash files and signature found beside it checked
    (a signature needs the publisher's key, ``--key``)."""
    from contextlib import ExitStack

    from prodsec.formats import openpgp

    out = []
    with ExitStack() as stack:
        verify = (stack.enter_context(openpgp.verifier(extra_keys)).verify if extra_keys
                  else None)
        for file in files:
            name, data = file.relative_to(root).as_posix(), read_bytes(file)
            problems = []
            if any(file.with_name(f"{file.name}.{a}").is_file() for a in csaf_tree.HASHES):
                problems += csaf_tree.hash_problems(file, name, data)
            signature, signer = file.with_name(file.name + ".asc"), None
            if signature.is_file():
                result = ("error: signed, but no public key to check it with (--key)"
                          if verify is None else verify(data, signature.read_bytes()))
                if result.startswith("error: "):
                    problems.append(f"{name}.asc: bad signature ({result[7:]})")
                else:
                    signer = result
            out.append(Source(name, data, problems, signer))
    return out


# ---- one document ----------------------------------------------------------------------------


def ingest(session: Session, actor: Actor, path: Path,
           extra_keys: list[bytes] | None = None, accept_tlp: str | None = None
           ) -> dict[str, Any]:
    """Ingest every advisory under ``path``; the answer lists each with what it did or why it
    was refused (``refused`` is non-empty when any was), the tree's problems (feeds, listings,
    keys) in ``tree_problems`` and, per advisory, every statement that recorded nothing in
    ``skipped`` with its JSON location and the reason. TLP:AMBER/RED documents need
    ``accept_tlp`` (``csaf_trust``); ``extra_keys`` given explicitly may re-pin a publisher's
    key."""
    actor.require("editor")
    accepted = csaf_trust.accepted_labels(accept_tlp)
    items, tree_problems = sources(path, extra_keys or [])
    return ingest_sources(session, actor, items, str(path), tree_problems, accepted,
                          explicit_key=bool(extra_keys))


def ingest_sources(session: Session, actor: Actor, items: list[Source], origin: str,
                   tree_problems: list[str] | None = None,
                   accepted: frozenset[str | None] = csaf_trust.DEFAULT_ACCEPTED,
                   explicit_key: bool = False) -> dict[str, Any]:
    """``ingest`` over documents already read (the API hands one request body)."""
    actor.require("editor")
    index = candidates(session, actor)
    done, refused = [], []
    for item in items:
        reasons = item.problems or unusable(item) or _untrusted(session, actor, item, accepted,
                                                                explicit_key)
        if reasons:
            refused.append({"source": item.name, "reasons": reasons})
            continue
        assert item.data is not None
        done.append(_document(session, actor, item, index))
        csaf_trust.remember(session, actor, json.loads(item.data), done[-1]["sha256"],
                            item.signed_by)
    summary = {"source": origin, "tree_problems": tree_problems or [], "advisories": done,
               "refused": refused}
    audit.record(session, actor, "csaf.ingest", "organisation", actor.org_id, None, {
        "source": origin, "refused": [r["source"] for r in refused],
        "advisories": [{k: d[k] for k in ("tracking_id", "version", "sha256")} for d in done]})
    return summary


def _untrusted(session: Session, actor: Actor, item: Source, accepted: frozenset[str | None],
               explicit_key: bool) -> list[str]:
    """Why a valid document is still refused: its status or TLP label, other bytes under a
    version already ingested, a signer other than the publisher's pinned key."""
    assert item.data is not None
    doc = json.loads(item.data)
    namespace = csaf_trust.identity(doc)[0]
    found = (csaf_trust.tlp_problems(doc, accepted)
             + csaf_trust.version_problems(session, actor, doc,
                                           hashlib.sha256(item.data).hexdigest())
             + csaf_trust.key_problems(session, actor, namespace, item.signed_by, explicit_key))
    return [f"{item.name}: {p}" for p in found]


def unusable(item: Source) -> list[str]:
    """Why the document cannot be ingested (unreadable, not valid CSAF 2.0), or nothing."""
    from prodsec.workspace.csaf_tree import invalid

    if item.data is None:
        return [f"{item.name}: cannot be read"]
    return [f"{item.name}: {p}" if not p.startswith(item.name) else p
            for p in invalid(item.data, item.name)]


def _document(session: Session, actor: Actor, item: Source, index: Candidates) -> dict[str, Any]:
    from prodsec.formats.vex import parse_vex

    assert item.data is not None
    doc = json.loads(item.data)
    tracking = doc["document"]["tracking"]
    statements = parse_vex(item.data, item.name)
    affected: dict[str, list[Component]] = {}
    proposals: dict[str, list[Statement]] = {}
    unmatched, skipped = 0, []
    for st in statements:
        if st.problem:
            skipped.append({"where": st.where, "reason": st.problem})
            continue
        comps = index.match(st.product) or index.match(st.component)
        if not comps:
            unmatched += 1
            skipped.append({"where": st.where, "reason": f"{st.vulnerability}: no component of "
                            f"any release is {st.component or st.product or 'the product named'}"})
        for comp in comps:
            if comp.purl is None:
                skipped.append({"where": st.where, "reason": f"{comp.name} matched but has no "
                                "purl: prodsec matches findings by purl"})
            elif st.state == AFFECTED:
                affected.setdefault(st.vulnerability, []).append(comp)
            elif st.state in PROPOSED:
                proposals.setdefault(comp.product_id, []).append(st._replace(
                    product=None, component=comp.purl))
            else:
                skipped.append({"where": st.where, "reason": f"{st.vulnerability} on "
                                f"{comp.purl}: under investigation, nothing to record"})
    found = _with_findings(session, actor, tracking["id"], statements, affected)
    for st in statements:
        for comp in affected.get(st.vulnerability, []):
            if (st.vulnerability, comp.purl) in found and not st.problem:
                proposals.setdefault(comp.product_id, []).append(_on_finding(doc, st, comp))
    fresh = {v: [c for c in cs if (v, c.purl) not in found] for v, cs in affected.items()}
    findings = _findings(session, actor, doc, statements, fresh)
    vex = _proposals(session, actor, tracking["id"], proposals)
    return {"source": item.name, "tracking_id": tracking["id"], "version": tracking["version"],
            "publisher": doc["document"]["publisher"]["name"],
            "tlp": csaf_tree.tlp_of(doc), "signed_by": item.signed_by,
            "sha256": hashlib.sha256(item.data).hexdigest(), "statements": len(statements),
            "unmatched": unmatched, "skipped": skipped, "findings": findings,
            "affected": sorted({f"{v} {c.purl}" for v, cs in fresh.items() for c in cs}),
            "on_existing_findings": sorted({f"{v} {p}" for v, p in found}),
            "proposals": vex}


def _own_id(tracking: str, vid: str) -> str:
    """The advisory id a supplier's known-affected vulnerability gets in the database."""
    return f"{tracking}:{vid}"[:128]


def _with_findings(session: Session, actor: Actor, tracking: str, statements: list[Statement],
                   affected: dict[str, list[Component]]) -> set[tuple[str, str | None]]:
    """(vulnerability, component purl) pairs of ``affected`` that already have a finding from
    another advisory naming the vulnerability by its id or an alias (an OSV import, another
    supplier's CSAF). This document's own advisories do not count: re-ingesting it must find
    the same."""
    from prodsec.db.models import AdvisoryAlias, AdvisoryRecord, FindingRecord

    names: dict[str, set[str]] = {}
    for st in statements:
        if st.vulnerability in affected:
            for name in (st.vulnerability, *st.aliases):
                names.setdefault(name, set()).add(st.vulnerability)
    purls = sorted({c.purl for cs in affected.values() for c in cs if c.purl})
    if not names or not purls:
        return set()
    rows = session.execute(
        select(SbomComponent.purl, AdvisoryAlias.alias, AdvisoryRecord.osv_id)
        .select_from(FindingRecord)
        .join(SbomComponent, SbomComponent.id == FindingRecord.component_id)
        .join(AdvisoryAlias, AdvisoryAlias.advisory_id == FindingRecord.advisory_id)
        .join(AdvisoryRecord, AdvisoryRecord.id == FindingRecord.advisory_id)
        .where(FindingRecord.org_id == actor.org_id, SbomComponent.purl.in_(purls),
               AdvisoryAlias.alias.in_(sorted(names))))
    wanted = {(v, c.purl) for v, cs in affected.items() for c in cs}
    return {(vid, purl) for purl, alias, osv_id in rows if not osv_id.startswith(f"{tracking}:")
            for vid in names.get(alias, ()) if (vid, purl) in wanted}


#: CSAF remediation category → the CycloneDX response prodsec stores (none_available says
#: nothing about what will be done, so it carries none)
RESPONSE_OF = {"vendor_fix": "update", "workaround": "workaround_available",
               "mitigation": "workaround_available", "no_fix_planned": "will_not_fix"}


def _on_finding(doc: dict[str, Any], st: Statement, comp: Component) -> Statement:
    """The supplier's known-affected statement as a proposal on the existing finding: the
    remediations the advisory gives the product (responses and their details) and where it
    comes from."""
    from prodsec.core import limits

    remedies = _remediations(doc, st.where)
    responses = sorted({RESPONSE_OF[r["category"]] for r in remedies
                        if r.get("category") in RESPONSE_OF})
    meta = doc["document"]
    said = "; ".join(str(r.get("details", "")).strip() for r in remedies if r.get("details"))
    detail = (f"{meta['publisher']['name']} {meta['tracking']['id']} version "
              f"{meta['tracking']['version']}: known affected" + (f". {said}" if said else "."))
    return st._replace(product=None, component=comp.purl, responses=responses,
                       detail=detail[:limits.TEXT])


def _remediations(doc: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The remediations of the vulnerability at ``where`` (``/vulnerabilities/i/product_status/
    <status>/m``) that name the product it points at."""
    parts = where.strip("/").split("/")
    try:
        vuln = doc["vulnerabilities"][int(parts[1])]
        pid = vuln["product_status"][parts[3]][int(parts[4])]
    except (IndexError, KeyError, ValueError, TypeError):
        return []
    return [r for r in vuln.get("remediations", []) if isinstance(r, dict)
            and pid in (r.get("product_ids") or [])]


def _findings(session: Session, actor: Actor, doc: dict[str, Any], statements: list[Statement],
              affected: dict[str, list[Component]]) -> dict[str, int]:
    """One advisory per affected vulnerability, for exactly the component versions matched
    that have no finding of it yet. One the document made earlier for components that since
    have a finding of their own is emptied (its findings go), never left as a duplicate."""
    from prodsec.db.models import AdvisoryRecord
    from prodsec.formats.purl import package_key
    from prodsec.workspace.vulnerabilities import store_advisories

    tracking = doc["document"]["tracking"]["id"]
    earlier = set(session.scalars(select(AdvisoryRecord.osv_id).where(
        AdvisoryRecord.org_id == actor.org_id,
        AdvisoryRecord.osv_id.in_([_own_id(tracking, v) for v in affected]))))
    aliases = {st.vulnerability: st.aliases for st in statements}
    advisories = []
    for vid, comps in sorted(affected.items()):
        keys = {k for k in (package_key(c.purl or "") for c in comps) if k is not None}
        if not keys and _own_id(tracking, vid) not in earlier:
            continue
        items = tuple(Affected(eco, name, (), (version,)) for eco, name, version in sorted(keys))
        advisories.append(Advisory(_own_id(tracking, vid), (vid, *aliases.get(vid, ())),
                                   summary=doc["document"]["title"][:500], affected=items,
                                   modified=doc["document"]["tracking"]["current_release_date"]))
    if not advisories:
        return {"added": 0, "removed": 0, "kept": 0}
    return store_advisories(session, actor, advisories)


def _proposals(session: Session, actor: Actor, tracking: str,
               by_product: dict[str, list[Statement]]) -> list[dict[str, Any]]:
    from prodsec.workspace.vex_import import import_summary

    out = []
    for product_id, items in sorted(by_product.items()):
        summary = import_summary(session, actor, product_id, b"", f"csaf:{tracking}",
                                 parsed=_unique(items))
        out.append({k: summary[k] for k in ("product_id", "statements", "imported", "refused",
                                             "conflicts")})
    return out


def _unique(items: list[Statement]) -> list[Statement]:
    """One statement per (vulnerability, component): a document may name a component twice."""
    seen: dict[tuple[str, str | None], Statement] = {}
    for st in items:
        seen.setdefault((st.vulnerability, st.component), st)
    return list(seen.values())
