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
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import CsafDocument, CsafRevision, Organisation, OrgProfile, utcnow
from prodsec.formats.vex import CSAF_STATUS, OPENVEX_JUSTIFICATION, OPENVEX_STATUS
from prodsec.workspace import audit, cra_metadata
from prodsec.workspace.context import Actor, Conflict, ValidationFailed
from prodsec.workspace.products import get_product

CATEGORIES = ("csaf_security_advisory", "csaf_vex")
STATUSES = ("draft", "interim", "final")
PUBLISHED = ("interim", "final")
TLP_LABELS = ("WHITE", "GREEN", "AMBER", "RED")


def build(session: Session, actor: Actor, product_ref: str, release_label: str, category: str,
          *, publisher: str = "", tracking_id: str | None = None, title: str | None = None,
          summary: str = "", status: str = "final", cvss: dict[str, str] | None = None,
          tlp: str = "WHITE", carried_cvss: dict[str, str] | None = None) -> dict[str, Any]:
    """The CSAF document for a release (not stored; ``author`` stores it), with keys sorted
    (test 6.2.13). ``status`` ``draft`` makes version 0 (tests 6.1.17, 6.1.18); ``cvss`` gives
    the manufacturer's CVSS v3/v2 vector per vulnerability where the advisory data has none."""
    from prodsec.workspace import csaf_trust, vulnerabilities

    if category not in CATEGORIES:
        raise ValidationFailed("category", f"{category!r}: expected one of {', '.join(CATEGORIES)}")
    if status not in STATUSES:
        raise ValidationFailed("status", f"{status!r}: expected one of {', '.join(STATUSES)}")
    if tlp not in TLP_LABELS:
        raise ValidationFailed("tlp", f"{tlp!r}: expected one of {', '.join(TLP_LABELS)}")
    product = get_product(session, actor, product_ref)
    release = vulnerabilities.get_release(session, actor, product.id, release_label)
    # a supplier's TLP:GREEN/AMBER/RED statement never goes out under a looser label
    findings = csaf_trust.withheld(session, actor, vulnerabilities.list_findings(
        session, actor, product.id, release_label), tlp)[0]
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
    known = {n for f in findings for n in (f["vulnerability"], *f["aliases"])}
    carried = {k: v for k, v in (carried_cvss or {}).items() if k in known}
    findings = _with_vectors(findings, {**carried, **(cvss or {})})
    meta = _document(category, heading, tracking, name, namespace, now,
                     summary or _summary(product.name, release_label, findings), status, tlp)
    doc: dict[str, Any] = {
        "document": meta,
        "product_tree": _product_tree(name, namespace, product.name, release_label, release_pid,
                                      findings),
        "vulnerabilities": _vulnerabilities(findings, release_pid),
    }
    cra_metadata.apply_csaf(doc, cra_facts(session, actor, product, release))
    return dict(sort_keys(doc))


def cra_facts(session: Session, actor: Actor, product: Any,
              release: Any) -> cra_metadata.CraMetadata:
    """The release's CRA facts (``cra_metadata``), the product named as in every VEX format."""
    maker = cra_metadata.organisation(session, actor)
    purl = cra_metadata.release_purl(maker, product.name, release.version_label)
    return cra_metadata.gather(session, actor, product, release, maker, purl)


def sort_keys(value: Any) -> Any:
    """Every object's keys in alphabetical order, as CSAF test 6.2.13 (sorting) asks."""
    if isinstance(value, dict):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(v) for v in value]
    return value


def _with_vectors(findings: list[dict[str, Any]], vectors: dict[str, str]) -> list[dict[str, Any]]:
    """Findings with the manufacturer's own CVSS vector where one is given for the vulnerability
    (by its id or an alias): the Go database, for one, carries no severity."""
    from prodsec.vuln.cvss_score import score

    known = {n for f in findings for n in (f["vulnerability"], *f["aliases"])}
    for name, vector in vectors.items():
        if name not in known:
            raise ValidationFailed(f"cvss.{name}", "no finding of this release has this "
                                   "vulnerability id or alias")
        result = score(vector)
        if result is None or result.version == "4.0":
            raise ValidationFailed(f"cvss.{name}", f"{vector!r}: expected a CVSS v3.x or v2 "
                                   "base vector (CSAF 2.0 scores cannot carry v4.0)")
    out = []
    for f in findings:
        given = next((vectors[n] for n in (f["vulnerability"], *f["aliases"]) if n in vectors),
                     None)
        result = score(given) if given else None
        out.append({**f, "cvss": result._asdict()} if result else f)
    return out


def conclusive(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings of vulnerabilities with at least one decided state: a security advisory may not
    carry a vulnerability that is only under investigation (CSAF 6.1.27, as the csaf package
    checks); those wait for the next revision."""
    decided = {vulnerability_key(f) for f in findings if f["state"] != "in_triage"}
    return [f for f in findings if vulnerability_key(f) in decided]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def publisher_name(session: Session, actor: Actor) -> str:
    """The organisation's legal name (profile), else its workspace name."""
    return _publisher(session, actor, "")[0]


def publisher_identity(session: Session, actor: Actor) -> tuple[str, str]:
    """(name, namespace) the organisation publishes under: its documents' and its CSAF
    provider tree's ``publisher``."""
    return _publisher(session, actor, "")


def _publisher(session: Session, actor: Actor, override: str) -> tuple[str, str]:
    profile = session.scalar(select(OrgProfile).where(OrgProfile.org_id == actor.org_id))
    org = session.get(Organisation, actor.org_id)
    name = override or (profile.legal_name if profile and profile.legal_name else "") or (
        org.name if org else "unknown")
    namespace = (profile.website.rstrip("/") if profile and profile.website.startswith("https://") else
                 f"https://{_slug(name).lower()}.example")
    return name, namespace


def _summary(product: str, release: str, findings: list[dict[str, Any]]) -> str:
    vulns = sorted({f["vulnerability"] for f in findings})
    return (f"{product} {release} contains components affected by {len(vulns)} known "
            f"vulnerabilities: {', '.join(vulns[:20])}{' …' if len(vulns) > 20 else ''}.")


def _document(category: str, title: str, tracking: str, publisher: str, namespace: str,
              now: str, summary: str, status: str, tlp: str) -> dict[str, Any]:
    from prodsec import __version__

    version = "0" if status == "draft" else "1"
    return {
        "category": category, "csaf_version": "2.0", "lang": "en", "title": title,
        "publisher": {"category": "vendor", "name": publisher, "namespace": namespace},
        "distribution": {"tlp": {"label": tlp, "url": "https://www.first.org/tlp/"}},
        "notes": [{"category": "summary", "title": "Summary", "text": summary}],
        "references": [
            {"category": "self", "summary": "Canonical URL of this document",
             "url": canonical_url(namespace, tlp, now, tracking)},
            {"category": "external", "summary": "OSV.dev vulnerability database",
             "url": "https://osv.dev/"}],
        "tracking": {
            "id": tracking, "status": status, "version": version,
            "initial_release_date": now, "current_release_date": now,
            "revision_history": [{"date": now, "number": version, "summary": (
                "Draft, not published." if status == "draft" else "Initial version.")}],
            "generator": {"date": now, "engine": {"name": "prodsec", "version": __version__}},
        },
    }


def canonical_url(namespace: str, tlp: str, initial_release_date: str, tracking: str) -> str:
    """Where the publisher's provider tree serves the document (``csaf_tree.document_url``:
    ``<namespace>/.well-known/csaf/<tlp>/<yyyy>/<file>``, CSAF 2.0 7.1.9, 7.1.11, 5.1): the URL
    of its ``self`` reference (test 6.2.11), so the reference and the published file are one."""
    from prodsec.formats import csaf_tree

    return csaf_tree.document_url(csaf_tree.base_url(namespace), tlp, initial_release_date,
                                  tracking)


def with_canonical_url(meta: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its ``self`` reference set from its own publisher namespace, TLP label
    and tracking: publishing fixes ``initial_release_date`` (and so the year folder) only at
    the first release, after the draft was written."""
    tracking = meta["tracking"]
    url = canonical_url(meta["publisher"]["namespace"], meta["distribution"]["tlp"]["label"],
                        tracking["initial_release_date"], tracking["id"])
    references = [{**r, "url": url} if r.get("category") == "self" else r
                  for r in meta.get("references", [])]
    return {**meta, "references": references}


def _product_tree(vendor: str, namespace: str, product: str, release: str, release_pid: str,
                  findings: list[dict[str, Any]]) -> dict[str, Any]:
    """Vendor → product → version branch for the release, one full product name per component
    and a ``default_component_of`` relationship per component. Every product carries a
    product identification helper (test 6.2.16): a component its purl (or CPE); the release and
    "component in release" products, which have no public identifier of their own, a generic URI
    under the publisher's namespace (``x_generic_uris``, CSAF 3.1.3.3.3.8) that names the
    product, the release and the component — never the component's purl alone, which would
    make a scanner apply the status to the component in every product."""
    components: dict[str, dict[str, Any]] = {}
    relationships = []
    release_uri = _release_uri(namespace, product, release)
    for f in findings:
        pid = f["csaf_product_id"]
        if pid in components:
            continue
        entry: dict[str, Any] = {"product_id": pid, "name": _component_name(f),
                                 "product_identification_helper": _component_helper(f, namespace)}
        components[pid] = entry
        relationships.append({
            "category": "default_component_of", "product_reference": pid,
            "relates_to_product_reference": release_pid,
            "full_product_name": {
                "product_id": _in_release(pid, release_pid),
                "name": f"{_component_name(f)} as part of {product} {release}",
                "product_identification_helper": _generic(
                    namespace, f"{release_uri}/components/{pid}")}})
    return {
        "branches": [{"category": "vendor", "name": vendor, "branches": [{
            "category": "product_name", "name": product, "branches": [{
                "category": "product_version", "name": release,
                "product": {"product_id": release_pid, "name": f"{product} {release}",
                            "product_identification_helper": _generic(namespace, release_uri)},
            }]}]}],
        "full_product_names": list(components.values()),
        "relationships": relationships,
    }


def _release_uri(namespace: str, product: str, release: str) -> str:
    from urllib.parse import quote

    return f"{namespace}/products/{quote(_slug(product).lower())}/releases/{quote(_slug(release))}"


def _generic(namespace: str, uri: str) -> dict[str, Any]:
    return {"x_generic_uris": [{"namespace": f"{namespace}/products", "uri": uri}]}


def _component_helper(f: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The component's purl; a component its SBOM names without one gets a generic URI from its
    stable CSAF product id (assigned at SBOM import) rather than no helper."""
    if f["component"].startswith("pkg:"):
        return {"purl": f["component"]}
    return _generic(namespace, f"{namespace}/components/{f['csaf_product_id']}")


def _component_name(f: dict[str, Any]) -> str:
    name = f["component"].split("?")[0]
    return name if f["component_version"] is None or "@" in name else f"{name} {f['component_version']}"


def _in_release(component_pid: str, release_pid: str) -> str:
    return f"{component_pid}:{release_pid.removeprefix('CSAFPID-')}"


_CVE = re.compile(r"^CVE-[0-9]{4}-[0-9]{4,}$")


def vulnerability_key(f: dict[str, Any]) -> str:
    """What one ``vulnerabilities[]`` entry stands for: the finding's CVE (its id or first CVE
    alias), else its id. Two advisories of one CVE (a GHSA and a PYSEC, an OSV advisory and a
    supplier's CSAF) are one entry: CSAF 2.0 test 6.1.23 forbids naming a CVE twice."""
    names: list[str] = [f["vulnerability"], *f["aliases"]]
    return next((n for n in names if _CVE.match(n)), names[0])


def _vulnerabilities(findings: list[dict[str, Any]], release_pid: str) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        groups.setdefault(vulnerability_key(f), []).append(f)
    return [_vulnerability(key, _one_per_product(items), release_pid)
            for key, items in sorted(groups.items())]


#: which finding speaks for a product when several advisories of one CVE cover it: a decision
#: before one still in triage, then the most cautious status (never understate)
_CAUTION = ("exploitable", "in_triage", "resolved", "resolved_with_pedigree", "false_positive",
            "not_affected")


def _one_per_product(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One finding per component of the release, so a product gets one status, one score and
    one remediation per vulnerability entry (tests 6.1.6 contradicting status, 6.1.7 several
    scores of one version)."""
    ranked = sorted(items, key=lambda f: (f["state"] == "in_triage", _CAUTION.index(f["state"]),
                                         f["cvss"] is None, f["vulnerability"]))
    chosen: dict[str, dict[str, Any]] = {}
    for f in ranked:
        chosen.setdefault(f["csaf_product_id"], f)
    return sorted(chosen.values(), key=lambda f: (f["vulnerability"], f["csaf_product_id"]))


def _vulnerability(key: str, items: list[dict[str, Any]], release_pid: str) -> dict[str, Any]:
    first = items[0]
    vid = first["vulnerability"]
    names = list(dict.fromkeys(n for f in items for n in (f["vulnerability"], *f["aliases"])))
    cve = key if _CVE.match(key) else None
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
    for f in items:
        pid = _in_release(f["csaf_product_id"], release_pid)
        if pid in status.get("under_investigation", []) and not any(
                pid in r["product_ids"] for r in remediations):
            remediations.append({"category": "none_available", "product_ids": [pid],
                                 "details": "Under investigation: no remediation is known yet."})
    entry: dict[str, Any] = {
        # a CVE goes in ``cve``, never in ``ids`` (test 6.2.17)
        "ids": [{"system_name": "OSV", "text": n} for n in names if not _CVE.match(n)][:1],
        "notes": [{"category": "description", "title": "Description",
                   "text": first["summary"] or f"{vid} affects {first['component']}"},
                  *_cvss_v4_notes(items)],
        "product_status": {k: sorted(v) for k, v in status.items()},
    }
    if cve:
        entry["cve"] = cve
    if not entry["ids"]:
        del entry["ids"]
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


# not "fixed": a score on a fixed product must be an environmental 0 (test 6.2.19)
SCORED_STATUSES = ("known_affected", "under_investigation")


def _scores(items: list[dict[str, Any]], release_pid: str,
            status: dict[str, list[str]]) -> list[dict[str, Any]]:
    """CSAF ``scores``: each CVSS v2/v3 base score with the products it applies to — those the
    vulnerability affects or may affect (a score says nothing about a product that is not
    affected, and on a fixed one CSAF test 6.2.19 wants only an environmental 0). The objects follow FIRST's CVSS JSON schemas, and score and
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
    return [f"{f.test} {f.path}: {f.message}" for f in _failures(doc, ("6.1.",))]


def check_clean(doc: dict[str, Any]) -> list[str]:
    """Schema, mandatory (6.1) and recommended (6.2) failures: an authored document has none.
    Informative (6.3) findings are allowed; docs/csaf.md explains each one prodsec leaves."""
    return [f"{f.test} {f.path}: {f.message}" for f in _failures(doc, ("6.1.", "6.2."))]


def _failures(doc: dict[str, Any], groups: tuple[str, ...]) -> list[Any]:
    from prodsec.formats import csaf

    report = csaf.validate(json.dumps(doc).encode(), "generated CSAF",
                           tests=tuple(t for t in csaf.TESTS if t.startswith(groups)))
    return [f for f in report.failures if f.group in ("schema", "mandatory", "optional")]


def _refuse_unclean(doc: dict[str, Any]) -> None:
    """Stop with what to do: a known-affected product without a score (6.2.3) needs the
    manufacturer's vector; anything else is prodsec's fault and is listed as is."""
    problems = check_clean(doc)
    unscored = sorted({_label(v) for v, _ in _unscored(doc)})
    if unscored:
        raise ValidationFailed("cvss", "known affected products need a CVSS score (CSAF 6.2.3) "
                               "and the advisory data gives none for " + ", ".join(unscored)
                               + ": give the manufacturer's assessment as ID=CVSS:3.1/... "
                               "(CLI --cvss, API cvss)")
    if problems:
        raise ValidationFailed("csaf", "generated document fails validation: "
                               + "; ".join(problems[:5]))


def _label(vuln: dict[str, Any]) -> str:
    """"GO-2020-0017 (CVE-2020-26160)": the ids a ``--cvss`` option accepts."""
    names = [str(i["text"]) for i in vuln.get("ids", [])] + (
        [str(vuln["cve"])] if "cve" in vuln else [])
    return names[0] + (f" ({', '.join(names[1:])})" if names[1:] else "")


def _unscored(doc: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    found = []
    for vuln in doc.get("vulnerabilities", []):
        scored = {p for s in vuln.get("scores", []) for p in s["products"]}
        found += [(vuln, p) for p in vuln["product_status"].get("known_affected", [])
                  if p not in scored]
    return found


def document_bytes(doc: dict[str, Any]) -> bytes:
    """The exact bytes of a published revision: what its audited SHA-256 is of, and what the
    CLI writes (a trailing newline would make the file's hash differ from the audited one)."""
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()


def _sha(doc: dict[str, Any]) -> str:
    return hashlib.sha256(document_bytes(doc)).hexdigest()


def author(session: Session, actor: Actor, product_ref: str, release_label: str,
           category: str = "csaf_security_advisory", **options: Any) -> CsafDocument:
    """Build, validate and store a CSAF document as a ``draft`` (version 0); refuse it unless
    the schema, mandatory and recommended tests all pass. ``publish`` releases it."""
    actor.require("editor")
    options.pop("status", None)
    doc = build(session, actor, product_ref, release_label, category, status="draft", **options)
    _refuse_unclean(doc)
    tracking = doc["document"]["tracking"]["id"]
    if session.scalar(select(CsafDocument.id).where(CsafDocument.org_id == actor.org_id,
                                                    CsafDocument.tracking_id == tracking)):
        raise Conflict(f"a CSAF document with tracking id {tracking!r} exists already",
                       precondition=False)
    row = CsafDocument(org_id=actor.org_id, product_id=get_product(session, actor, product_ref).id,
                       tracking_id=tracking, category=category, title=doc["document"]["title"],
                       document=doc, sha256=_sha(doc), status="draft")
    session.add(row)
    session.flush()
    audit.record(session, actor, "csaf.author", "csaf-document", row.id, None,
                 {"tracking_id": tracking, "category": category, "sha256": row.sha256,
                  "status": "draft", "vulnerabilities": len(doc["vulnerabilities"])})
    return row


def publish(session: Session, actor: Actor, ref: str, status: str, summary: str = "",
            release_label: str | None = None, **options: Any) -> CsafRevision:
    """Publish a CSAF document as ``interim`` or ``final``: a new revision, kept unchanged.

    A draft becomes version 1 (its draft history entry dropped: test 6.1.18 allows no version 0
    in a released history). A published document is never changed: publishing it again
    rebuilds it from the current triage as version n+1 with a revision history entry (CSAF
    3.2.1.12.8), keeping its initial release date. Each step is in the audit trail with the
    revision's SHA-256."""
    actor.require("editor")
    if status not in PUBLISHED:
        raise ValidationFailed("status", f"{status!r}: publish as interim or final")
    row = get_document(session, actor, ref)
    if row.status == "final" and status == "interim":
        raise ValidationFailed("status", (
            f"{row.tracking_id} is final: a final advisory does not go back to interim "
            "(consumers rely on a final document only changing by a new final revision, CSAF "
            "2.0 section 3.2.1.12.7); publish the next revision as final"))
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    old: dict[str, Any] = row.document
    tracking = dict(old["document"]["tracking"])
    if row.status == "draft":
        doc, history, version = old, [], 1
        initial = now
    else:
        doc = _rebuilt(session, actor, row, release_label, options)
        history = list(tracking["revision_history"])
        version = max(int(h["number"]) for h in history) + 1
        initial = tracking["initial_release_date"]
    history.append({"date": now, "number": str(version), "summary": summary or (
        "Initial release." if version == 1 else f"Revision {version}: {status}.")})
    meta: dict[str, Any] = dict(doc["document"])
    meta["tracking"] = {**tracking, "status": status, "version": str(version),
                        "initial_release_date": initial, "current_release_date": now,
                        "revision_history": history,
                        "generator": {**tracking["generator"], "date": now}}
    new = sort_keys({**doc, "document": with_canonical_url(meta)})
    _refuse_unclean(new)
    before = {"status": row.status, "version": tracking["version"], "sha256": row.sha256}
    row.document, row.sha256, row.status = new, _sha(new), status
    revision = CsafRevision(org_id=actor.org_id, document_id=row.id, version=str(version),
                            status=status, document=new, sha256=row.sha256,
                            published_by=actor.email)
    session.add(revision)
    session.flush()
    audit.record(session, actor, "csaf.publish", "csaf-document", row.id, before,
                 {"status": status, "version": str(version), "sha256": row.sha256})
    return revision


def _rebuilt(session: Session, actor: Actor, row: CsafDocument, release_label: str | None,
             options: dict[str, Any]) -> dict[str, Any]:
    """The document rebuilt from the current triage, same tracking id, title and publisher."""
    meta = row.document["document"]
    release = release_label or _release_of(row)
    return build(session, actor, row.product_id, release, row.category,
                 publisher=meta["publisher"]["name"], tracking_id=row.tracking_id,  # type: ignore[index]
                 title=row.title, carried_cvss=_vectors_of(row.document), **options)


def _vectors_of(doc: dict[str, Any]) -> dict[str, str]:
    """The CVSS vectors a revision gave, by vulnerability: the manufacturer's assessment
    carries over to the next revision unless a new vector is given."""
    vectors = {}
    for vuln in doc.get("vulnerabilities", []):
        name = (vuln.get("ids") or [{}])[0].get("text") or vuln.get("cve")
        for score in vuln.get("scores", []):
            cvss = score.get("cvss_v3") or score.get("cvss_v2")
            if name and cvss:
                vectors[name] = cvss["vectorString"]
    return vectors


def _release_of(row: CsafDocument) -> str:
    branch = row.document["product_tree"]["branches"][0]["branches"][0]["branches"][0]  # type: ignore[index]
    return str(branch["name"])


def revisions(session: Session, actor: Actor, ref: str) -> list[CsafRevision]:
    """A document's published revisions, oldest first."""
    row = get_document(session, actor, ref)
    return list(session.scalars(select(CsafRevision).where(
        CsafRevision.org_id == actor.org_id, CsafRevision.document_id == row.id)
        .order_by(CsafRevision.published_at)))


def get_document(session: Session, actor: Actor, ref: str) -> CsafDocument:
    """A stored CSAF document by id or tracking id, organisation-scoped."""
    from prodsec.workspace.context import NotFound

    row = session.scalar(select(CsafDocument).where(
        CsafDocument.org_id == actor.org_id,
        (CsafDocument.id == ref) | (CsafDocument.tracking_id == ref)))
    if row is None:
        raise NotFound(f"no CSAF document {ref!r}")
    return row
