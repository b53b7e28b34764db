"""Triage as VEX: per vulnerability (and optionally per release and component) a state in the
CycloneDX VEX vocabulary, exported as CycloneDX VEX, OpenVEX or CSAF VEX, and imported from
suppliers in any of the three.

One vocabulary is stored (CycloneDX's: it is the richest — six states, nine justifications,
responses) and mapped on the way out; the mappings follow the CISA "VEX Status Justifications"
minimum requirements, which OpenVEX and CSAF share.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import Release, utcnow
from prodsec.formats.vex import (
    CSAF_STATUS,
    JUSTIFICATIONS,
    OPENVEX_CONTEXT,
    OPENVEX_JUSTIFICATION,
    OPENVEX_STATUS,
    RESPONSES,
    STATES,
    SYNONYMS,
    canonical,
    check_openvex,
    parse_vex,
)
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.cra_metadata import organisation, release_purl, slug
from prodsec.workspace.products import get_product
from prodsec.workspace.vex_decisions import effective, statements_for
from prodsec.workspace.vex_statements import normalise_state, set_statement, statement_view

__all__ = [  # the vocabulary and parser live in prodsec.formats.vex; re-exported for callers
    "CSAF_STATUS", "JUSTIFICATIONS", "OPENVEX_CONTEXT", "OPENVEX_JUSTIFICATION", "OPENVEX_STATUS",
    "RESPONSES", "STATES", "SYNONYMS", "check_openvex", "decided_at", "effective", "export",
    "export_problems", "export_with_warnings", "normalise_state", "openvex", "organisation", "parse_time", "parse_vex",
    "release_ids", "release_purl", "set_statement", "slug", "statement_view", "statements_for"]


# ---- export ---------------------------------------------------------------------------------


def export(session: Session, actor: Actor, product_ref: str, release_label: str, fmt: str,
           author: str = "") -> dict[str, Any]:
    """The release's triage as a VEX document in ``fmt`` (cyclonedx, openvex or csaf). Each
    names the manufacturer's product (``release_purl``) with the components as its parts, and
    the organisation (or ``author``) as who says so — never the person exporting."""
    return export_with_warnings(session, actor, product_ref, release_label, fmt, author)[0]


def export_with_warnings(session: Session, actor: Actor, product_ref: str, release_label: str,
                         fmt: str, author: str = "", location: str | None = None
                         ) -> tuple[dict[str, Any], list[str]]:
    """``export``, and the CRA facts (``cra_metadata``) it could not write: those prodsec does
    not hold, and for OpenVEX those its schema has no field for (it names only the author and
    the product). ``location``: the base URL the request reached the API at (CSAF's ``self``
    reference, ``vex_location.public_base``)."""
    from prodsec.workspace import cra_metadata, csaf_trust, vulnerabilities

    # what a TLP:GREEN/AMBER/RED supplier document said stays out: OpenVEX and CycloneDX carry
    # no label and the CSAF VEX is TLP:WHITE (csaf_author drops the same findings)
    findings, left_out = csaf_trust.withheld(session, actor, vulnerabilities.list_findings(
        session, actor, product_ref, release_label), "WHITE")
    product = get_product(session, actor, product_ref)
    release = vulnerabilities.get_release(session, actor, product.id, release_label)
    maker = organisation(session, actor)
    purl = release_purl(maker, product.name, release.version_label)
    meta = cra_metadata.gather(session, actor, product, release, maker, purl)
    warnings = list(meta.warnings) + csaf_trust.left_out_warnings(left_out)
    if fmt == "cyclonedx":
        doc = cyclonedx_vex(product.name, release_label, findings, purl=purl,
                            author=author or maker)
        cra_metadata.apply_cyclonedx(doc, meta)
        if author:
            doc["metadata"]["authors"] = [{"name": author}]
        return doc, warnings
    if fmt == "openvex":
        times = decided_at(session, actor, product.id, release.id, findings)
        warnings.append("OpenVEX 0.2.0 has no field for the security contact, support period "
                        "or declaration of conformity: only the author and the product "
                        "identifier are written")
        return openvex(findings, author or maker, purl, times), warnings
    if fmt == "csaf":
        # csaf_author writes the CRA facts (publisher contact, references, support note,
        # the release's purl) into every CSAF document it builds, VEX included.
        from prodsec.workspace import csaf_author, vex_location

        doc = csaf_author.build(session, actor, product_ref, release_label, "csaf_vex",
                                publisher=author,
                                tracking_id=vex_location.tracking_id(product.name, release_label))
        base = vex_location.public_base(location)
        doc = vex_location.with_self(doc, base and vex_location.location_url(
            base, product.id, product.name, release_label))
        if base is None:
            warnings.append(f"no self reference: set {vex_location.PUBLIC_URL_ENV} to the "
                            "address customers reach the API at")
        return vex_location.versioned_csaf(session, actor, release.id, doc), warnings
    raise ValidationFailed("format", f"{fmt!r}: expected cyclonedx, openvex or csaf")


def decided_at(session: Session, actor: Actor, product_id: str, release_id: str,
               findings: list[dict[str, Any]]) -> dict[str, dt.datetime]:
    """finding id → when what it says became known: its decision's last change, or when it was
    first seen while still in triage. The export's timestamps come from here, so the same
    triage exports as the same document."""
    statements = statements_for(session, actor, product_id)
    out = {}
    for f in findings:
        names = {f["vulnerability"], *f["aliases"]}
        purl = f["component"] if f["component"].startswith("pkg:") else ""
        row = effective(statements, release_id, names, purl)
        seen = dt.datetime.fromisoformat(f["first_seen"])
        out[f["id"]] = _utc(row.updated_at) if row is not None else _utc(seen)
    return out


def _utc(value: dt.datetime) -> dt.datetime:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _stamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _grouped(findings: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        groups.setdefault(f["vulnerability"], []).append(f)
    return groups


def cyclonedx_vex(product: str, release: str, findings: list[dict[str, Any]], *,
                  purl: str | None = None, author: str = "") -> dict[str, Any]:
    """CycloneDX 1.6 VEX: the BOM's subject is the product (with its purl), its components the
    affected ones; one vulnerability entry per (vulnerability, state) with ``analysis`` and
    ``affects`` pointing at the components' bom-refs."""
    import uuid

    components: dict[str, dict[str, Any]] = {}
    vulns = []
    for vid, group in _grouped(findings).items():
        by_state: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for f in group:
            key = (f["state"], f["justification"], tuple(f["responses"]), f["detail"])
            by_state.setdefault(key, []).append(f)
            components.setdefault(f["component_ref"], _cdx_component(f))
        for (state, justification, responses, detail), items in by_state.items():
            vulns.append(_cdx_vulnerability(vid, items, state, justification, responses, detail))
    subject: dict[str, Any] = {"type": "application", "bom-ref": "product", "name": product,
                               "version": release}
    if purl:
        subject["purl"] = purl
    metadata: dict[str, Any] = {"timestamp": _now(), "component": subject}
    if author:
        metadata["manufacturer"] = {"name": author}
    return {"bomFormat": "CycloneDX", "specVersion": "1.6",
            "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1, "metadata": metadata,
            "components": list(components.values()), "vulnerabilities": vulns}


def _cdx_vulnerability(vid: str, items: list[dict[str, Any]], state: str,
                       justification: str | None, responses: tuple[str, ...],
                       detail: str) -> dict[str, Any]:
    analysis: dict[str, Any] = {"state": state}
    if justification:
        analysis["justification"] = justification
    if responses:
        analysis["response"] = list(responses)
    if detail:
        analysis["detail"] = detail
    first = items[0]
    entry: dict[str, Any] = {"id": vid, "source": {"name": _source_name(vid)},
                             "analysis": analysis,
                             "affects": [{"ref": f["component_ref"]} for f in items]}
    if first["summary"]:
        entry["description"] = first["summary"]
    references = [{"id": a, "source": {"name": _source_name(a)}} for a in first["aliases"]]
    if references:
        entry["references"] = references
    return entry


def _cdx_component(f: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "library", "bom-ref": f["component_ref"],
                            "name": f["component"].split("/")[-1].split("@")[0]}
    if f["component_version"]:
        item["version"] = f["component_version"]
    if f["component"].startswith("pkg:"):
        item["purl"] = f["component"]
    return item


def _source_name(vid: str) -> str:
    prefix = vid.split("-")[0]
    return {"CVE": "NVD", "GHSA": "GitHub", "GO": "Go", "PYSEC": "PyPA"}.get(prefix, "OSV")


def _now() -> str:
    return _stamp(utcnow())


def openvex(findings: list[dict[str, Any]], author: str, product: str,
            times: dict[str, dt.datetime] | None = None) -> dict[str, Any]:
    """OpenVEX 0.2.0: one statement per (vulnerability, status, reason) naming ``product`` (the
    manufacturer's product identifier) with the components concerned as its subcomponents.

    The document's ``@id`` is derived from its content (like openvex/go-vex's ``CanonicalHash``) and its
    timestamps from when each decision was made, so exporting the same triage again gives the
    same document, and any change a new ``@id`` (each at version 1: a changed triage is a new
    document, not a revision we could number without storing every export)."""
    import hashlib
    import uuid

    from prodsec import __version__

    times = times or {}
    statements = []
    for vid, group in sorted(_grouped(findings).items()):
        by_state: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for f in group:
            by_state.setdefault((f["state"], f["justification"], f["detail"]), []).append(f)
        for (state, justification, detail), items in by_state.items():
            statement = _openvex_statement(vid, items, state, justification, detail, product)
            known = [times[f["id"]] for f in items if f["id"] in times]
            if known:
                statement["timestamp"] = _stamp(max(known))
            statements.append(statement)
    stamps = [s["timestamp"] for s in statements if "timestamp" in s]
    body = {"author": author, "role": "manufacturer", "statements": statements}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {"@context": OPENVEX_CONTEXT, "@id": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, digest)}",
            "author": author, "role": "manufacturer",
            "timestamp": max(stamps) if stamps else _now(), "version": 1,
            "tooling": f"prodsec {__version__}", "statements": statements}


def _ident(value: str) -> dict[str, Any]:
    """An OpenVEX product/subcomponent for a purl (or, for a component without one, a name)."""
    if value.startswith("pkg:"):
        return {"@id": value, "identifiers": {"purl": value}}
    from urllib.parse import quote

    return {"@id": f"urn:x-prodsec:component:{quote(value, safe='')}"}


#: Ids osv.dev serves: CVE, GHSA, GO, PYSEC, RUSTSEC, OSV... — a prefix, a dash, no spaces.
_OSV_ID = re.compile(r"[A-Z][A-Za-z0-9]*-[A-Za-z0-9][A-Za-z0-9._:-]*")


def _openvex_statement(vid: str, items: list[dict[str, Any]], state: str,
                       justification: str | None, detail: str, product: str) -> dict[str, Any]:
    status = OPENVEX_STATUS[state]
    aliases = sorted({a for a in items[0]["aliases"] if a != vid})
    vulnerability: dict[str, Any] = {"name": vid}
    if _OSV_ID.fullmatch(vid):  # an IRI only where OSV serves the id (review h18 F2)
        vulnerability["@id"] = f"https://osv.dev/vulnerability/{vid}"
    if aliases:
        vulnerability["aliases"] = aliases
    subcomponents = [_ident(c) for c in sorted({f["component"] for f in items})]
    statement: dict[str, Any] = {
        "vulnerability": vulnerability,
        "products": [{**_ident(product), "subcomponents": subcomponents}],
        "status": status}
    if status == "not_affected":
        label = canonical(state, justification)[1]
        if label:
            statement["justification"] = label
        if detail:
            statement["impact_statement"] = detail
    if status == "affected":
        fixed = sorted({v for f in items for v in f["fixed"]})
        statement["action_statement"] = detail or (
            f"Update to a fixed version ({', '.join(fixed)})" if fixed else
            "No fix is available yet; follow the vendor advisory for mitigations")
    elif detail and status != "not_affected":
        statement["status_notes"] = detail
    return statement


def release_ids(session: Session, actor: Actor, product_id: str) -> list[str]:
    """The product's release ids (organisation-scoped)."""
    return list(session.scalars(select(Release.id).where(Release.org_id == actor.org_id,
                                                         Release.product_id == product_id)))


def parse_time(value: str | None) -> dt.datetime:
    """An ISO 8601 time as UTC (a naive one is taken as UTC); now when None."""
    if value is None:
        return utcnow()
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed("time", f"{value!r}: expected ISO 8601, e.g. 2026-09-12T08:30Z") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def export_problems(doc: dict[str, Any], fmt: str) -> list[str]:
    """An export is checked with the validator of its format, as any input document is; the
    CLI and the API refuse to hand out a document that fails."""
    if fmt == "cyclonedx":
        from prodsec.formats import cyclonedx

        report = cyclonedx.validate(json.dumps(doc).encode(), "export")
        return [f"{i.location}: {i.message}" for i in report.issues]
    if fmt == "openvex":
        return check_openvex(doc)
    from prodsec.workspace.csaf_author import check

    return check(doc)
