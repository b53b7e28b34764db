"""Authoring CSAF 2.0 documents from a release's findings and triage: a security advisory
(``csaf_security_advisory``) or a VEX (``csaf_vex``).

Product identity is explicit: the release is a ``product_version`` branch (vendor → product →
version) with its own product id, each component a full product name with its purl/CPE as the
identification helper and the ``csaf_product_id`` stored at SBOM import, and a
``default_component_of`` relationship names "component in this release" — the product id the
statuses use. Every document is checked with ``prodsec.formats.csaf`` (schema and the section 6
mandatory tests) before it is stored or handed out.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import CsafDocument, Organisation, OrgProfile, utcnow
from prodsec.formats.vex import CSAF_STATUS, OPENVEX_JUSTIFICATION, OPENVEX_STATUS
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, Conflict, ValidationFailed
from prodsec.workspace.products import get_product

CATEGORIES = ("csaf_security_advisory", "csaf_vex")


def build(session: Session, actor: Actor, product_ref: str, release_label: str, category: str,
          *, publisher: str = "", tracking_id: str | None = None, title: str | None = None,
          summary: str = "") -> dict[str, Any]:
    """The CSAF document for a release (not stored; ``author`` stores it)."""
    from prodsec.workspace import vulnerabilities

    if category not in CATEGORIES:
        raise ValidationFailed("category", f"{category!r}: expected one of {', '.join(CATEGORIES)}")
    product = get_product(session, actor, product_ref)
    release = vulnerabilities.get_release(session, actor, product.id, release_label)
    findings = vulnerabilities.list_findings(session, actor, product.id, release_label)
    if not findings:
        raise ValidationFailed("findings", f"{product.name} {release_label} has no findings to "
                               "publish (import its SBOM and the advisories first)")
    if category == "csaf_security_advisory":
        findings = conclusive(findings)
        if not findings:
            raise ValidationFailed("findings", f"every finding of {product.name} {release_label} "
                                   "is still in triage: an advisory needs at least one decided "
                                   "vulnerability (prodsec vex set)")
    name, namespace = _publisher(session, actor, publisher)
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    release_pid = "CSAFPID-" + hashlib.sha256(release.id.encode()).hexdigest()[:16]
    tracking = tracking_id or f"{_slug(product.name)}-{_slug(release_label)}-{now[:10]}"
    heading = title or (f"Vulnerabilities in {product.name} {release_label}"
                        if category == "csaf_security_advisory"
                        else f"VEX for {product.name} {release_label}")
    return {
        "document": _document(category, heading, tracking, name, namespace, now,
                              summary or _summary(product.name, release_label, findings)),
        "product_tree": _product_tree(name, product.name, release_label, release_pid, findings),
        "vulnerabilities": _vulnerabilities(findings, release_pid),
    }


def conclusive(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings of vulnerabilities with at least one decided state: a security advisory may not
    carry a vulnerability that is only under investigation (CSAF 6.1.27, as the csaf package
    checks); those wait for the next revision."""
    decided = {f["vulnerability"] for f in findings if f["state"] != "in_triage"}
    return [f for f in findings if f["vulnerability"] in decided]


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def _publisher(session: Session, actor: Actor, override: str) -> tuple[str, str]:
    profile = session.scalar(select(OrgProfile).where(OrgProfile.org_id == actor.org_id))
    org = session.get(Organisation, actor.org_id)
    name = override or (profile.legal_name if profile and profile.legal_name else "") or (
        org.name if org else "unknown")
    namespace = (profile.website if profile and profile.website.startswith("https://") else
                 f"https://{_slug(name).lower()}.example")
    return name, namespace


def _summary(product: str, release: str, findings: list[dict[str, Any]]) -> str:
    vulns = sorted({f["vulnerability"] for f in findings})
    return (f"{product} {release} contains components affected by {len(vulns)} known "
            f"vulnerabilities: {', '.join(vulns[:20])}{' …' if len(vulns) > 20 else ''}.")


def _document(category: str, title: str, tracking: str, publisher: str, namespace: str,
              now: str, summary: str) -> dict[str, Any]:
    from prodsec import __version__

    return {
        "category": category, "csaf_version": "2.0", "lang": "en", "title": title,
        "publisher": {"category": "vendor", "name": publisher, "namespace": namespace},
        "notes": [{"category": "summary", "title": "Summary", "text": summary}],
        "references": [{"category": "external", "summary": "OSV.dev vulnerability database",
                        "url": "https://osv.dev/"}],
        "tracking": {
            "id": tracking, "status": "final", "version": "1",
            "initial_release_date": now, "current_release_date": now,
            "revision_history": [{"date": now, "number": "1", "summary": "Initial version."}],
            "generator": {"date": now, "engine": {"name": "prodsec", "version": __version__}},
        },
    }


def _product_tree(vendor: str, product: str, release: str, release_pid: str,
                  findings: list[dict[str, Any]]) -> dict[str, Any]:
    components: dict[str, dict[str, Any]] = {}
    relationships = []
    for f in findings:
        pid = f["csaf_product_id"]
        if pid in components:
            continue
        entry: dict[str, Any] = {"product_id": pid, "name": _component_name(f)}
        if f["component"].startswith("pkg:"):
            entry["product_identification_helper"] = {"purl": f["component"]}
        components[pid] = entry
        relationships.append({
            "category": "default_component_of", "product_reference": pid,
            "relates_to_product_reference": release_pid,
            "full_product_name": {"product_id": _in_release(pid, release_pid),
                                  "name": f"{_component_name(f)} as part of {product} {release}"}})
    return {
        "branches": [{"category": "vendor", "name": vendor, "branches": [{
            "category": "product_name", "name": product, "branches": [{
                "category": "product_version", "name": release,
                "product": {"product_id": release_pid, "name": f"{product} {release}"}}]}]}],
        "full_product_names": list(components.values()),
        "relationships": relationships,
    }


def _component_name(f: dict[str, Any]) -> str:
    name = f["component"].split("?")[0]
    return name if f["component_version"] is None or "@" in name else f"{name} {f['component_version']}"


def _in_release(component_pid: str, release_pid: str) -> str:
    return f"{component_pid}:{release_pid.removeprefix('CSAFPID-')}"


def _vulnerabilities(findings: list[dict[str, Any]], release_pid: str) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        groups.setdefault(f["vulnerability"], []).append(f)
    return [_vulnerability(vid, items, release_pid) for vid, items in sorted(groups.items())]


def _vulnerability(vid: str, items: list[dict[str, Any]], release_pid: str) -> dict[str, Any]:
    first = items[0]
    names = [vid, *first["aliases"]]
    cve = next((n for n in names if n.startswith("CVE-")), None)
    status: dict[str, list[str]] = {}
    flags: dict[str, list[str]] = {}
    threats: list[dict[str, Any]] = []
    remediations: list[dict[str, Any]] = []
    for f in items:
        pid = _in_release(f["csaf_product_id"], release_pid)
        csaf_status = CSAF_STATUS[OPENVEX_STATUS[f["state"]]]
        if pid in status.get(csaf_status, []):
            continue
        status.setdefault(csaf_status, []).append(pid)
        if csaf_status == "known_not_affected":
            if f["justification"] or f["state"] == "false_positive":
                label = OPENVEX_JUSTIFICATION.get(f["justification"] or "", "component_not_present")
                flags.setdefault(label, []).append(pid)
            else:
                threats.append({"category": "impact", "details": f["detail"], "product_ids": [pid]})
        elif csaf_status == "known_affected":
            remediations.append(_remediation(f, pid))
        elif csaf_status == "fixed":
            remediations.append({"category": "vendor_fix", "product_ids": [pid],
                                 "details": f["detail"] or "Fixed in this release."})
    entry: dict[str, Any] = {
        "ids": [{"system_name": "OSV", "text": vid}],
        "notes": [{"category": "description", "title": "Description",
                   "text": first["summary"] or f"{vid} affects {first['component']}"},
                  *_cvss_v4_notes(items)],
        "product_status": {k: sorted(v) for k, v in status.items()},
    }
    if cve:
        entry["cve"] = cve
    scores = _scores(items, release_pid, status)
    if scores:
        entry["scores"] = scores
    if flags:
        entry["flags"] = [{"label": k, "product_ids": sorted(v)} for k, v in sorted(flags.items())]
    if threats:
        entry["threats"] = threats
    if remediations:
        entry["remediations"] = remediations
    return entry


SCORED_STATUSES = ("fixed", "known_affected", "under_investigation")


def _scores(items: list[dict[str, Any]], release_pid: str,
            status: dict[str, list[str]]) -> list[dict[str, Any]]:
    """CSAF ``scores``: each CVSS v2/v3 base score with the products it applies to — those the
    vulnerability affects, affected before a fix, or may affect (a score says nothing about a
    product that is not affected). The objects follow FIRST's CVSS JSON schemas, and score and
    vector come from the same computation, so tests 6.1.8 and 6.1.9 hold by construction."""
    from prodsec.vuln.cvss_score import CvssScore, first_json

    scored = {pid for key in SCORED_STATUSES for pid in status.get(key, ())}
    groups: dict[CvssScore, set[str]] = {}
    for f in items:
        pid = _in_release(f["csaf_product_id"], release_pid)
        if f["cvss"] and pid in scored:
            groups.setdefault(CvssScore(**f["cvss"]), set()).add(pid)
    scores = []
    for result, pids in groups.items():
        cvss = first_json(result)
        if cvss is not None:
            field = "cvss_v2" if result.version == "2.0" else "cvss_v3"
            scores.append({"products": sorted(pids), field: cvss})
    return scores


def _cvss_v4_notes(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A CVSS v4.0 vector as a note: CSAF 2.0 ``scores`` only take v2 and v3, yet dropping the
    only score an advisory gives would hide its severity from the reader."""
    vectors = {f["cvss"]["vector"]: f["cvss"] for f in items
               if f["cvss"] and f["cvss"]["version"] == "4.0"}
    return [{"category": "other", "title": "CVSS v4.0",
             "text": f"Base score {c['base_score']:.1f} ({c['base_severity']}), vector "
                     f"{c['vector']}. CSAF 2.0 scores cannot carry CVSS v4.0."}
            for c in vectors.values()]


def _remediation(f: dict[str, Any], pid: str) -> dict[str, Any]:
    if f["fixed"]:
        return {"category": "vendor_fix", "product_ids": [pid],
                "details": f["detail"] or f"Update {f['component'].split('@')[0]} to "
                f"{' or '.join(f['fixed'])} or later."}
    return {"category": "none_available", "product_ids": [pid],
            "details": f["detail"] or "No fixed version is known yet."}


def check(doc: dict[str, Any]) -> list[str]:
    """Blocking problems the formats.csaf validator finds (schema and mandatory 6.1 tests)."""
    from prodsec.formats import csaf

    report = csaf.validate(json.dumps(doc).encode(), "generated CSAF",
                           tests=tuple(t for t in csaf.TESTS if t.startswith("6.1.")))
    return [f"{f.test} {f.path}: {f.message}" for f in report.failures if f.blocking]


def author(session: Session, actor: Actor, product_ref: str, release_label: str,
           category: str = "csaf_security_advisory", **options: Any) -> CsafDocument:
    """Build, validate and store a CSAF document; refuse it if the validator does."""
    actor.require("editor")
    doc = build(session, actor, product_ref, release_label, category, **options)
    problems = check(doc)
    if problems:
        raise ValidationFailed("csaf", "generated document fails validation: " + "; ".join(problems[:5]))
    tracking = doc["document"]["tracking"]["id"]
    if session.scalar(select(CsafDocument.id).where(CsafDocument.org_id == actor.org_id,
                                                    CsafDocument.tracking_id == tracking)):
        raise Conflict(f"a CSAF document with tracking id {tracking!r} exists already",
                       precondition=False)
    data = json.dumps(doc, indent=2, ensure_ascii=False).encode()
    row = CsafDocument(org_id=actor.org_id, product_id=get_product(session, actor, product_ref).id,
                       tracking_id=tracking, category=category, title=doc["document"]["title"],
                       document=doc, sha256=hashlib.sha256(data).hexdigest())
    session.add(row)
    session.flush()
    audit.record(session, actor, "csaf.author", "csaf-document", row.id, None,
                 {"tracking_id": tracking, "category": category, "sha256": row.sha256,
                  "vulnerabilities": len(doc["vulnerabilities"])})
    return row


def get_document(session: Session, actor: Actor, ref: str) -> CsafDocument:
    """A stored CSAF document by id or tracking id, organisation-scoped."""
    from prodsec.workspace.context import NotFound

    row = session.scalar(select(CsafDocument).where(
        CsafDocument.org_id == actor.org_id,
        (CsafDocument.id == ref) | (CsafDocument.tracking_id == ref)))
    if row is None:
        raise NotFound(f"no CSAF document {ref!r}")
    return row
