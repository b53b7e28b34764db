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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core import limits
from prodsec.db.models import Release, VexStatement, new_id, utcnow
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, ValidationFailed, bounded
from prodsec.workspace.products import _flush, check_version, get_product

STATES = ("in_triage", "exploitable", "not_affected", "false_positive", "resolved",
          "resolved_with_pedigree")
SYNONYMS = {"under_investigation": "in_triage", "affected": "exploitable",
            "known_affected": "exploitable", "fixed": "resolved",
            "known_not_affected": "not_affected"}
JUSTIFICATIONS = ("code_not_present", "code_not_reachable", "requires_configuration",
                  "requires_dependency", "requires_environment", "protected_by_compiler",
                  "protected_at_runtime", "protected_at_perimeter",
                  "protected_by_mitigating_control")
RESPONSES = ("can_not_fix", "will_not_fix", "update", "rollback", "workaround_available")
# CycloneDX state → OpenVEX status (CSAF: the same with known_ prefixes for the two affected ones)
OPENVEX_STATUS = {"in_triage": "under_investigation", "exploitable": "affected",
                  "not_affected": "not_affected", "false_positive": "not_affected",
                  "resolved": "fixed", "resolved_with_pedigree": "fixed"}
CSAF_STATUS = {"under_investigation": "under_investigation", "affected": "known_affected",
               "not_affected": "known_not_affected", "fixed": "fixed"}
# CycloneDX justification → OpenVEX/CSAF label (both use the CISA five)
OPENVEX_JUSTIFICATION = {
    "code_not_present": "vulnerable_code_not_present",
    "code_not_reachable": "vulnerable_code_not_in_execute_path",
    "requires_configuration": "vulnerable_code_cannot_be_controlled_by_adversary",
    "requires_dependency": "component_not_present",
    "requires_environment": "vulnerable_code_cannot_be_controlled_by_adversary",
    "protected_by_compiler": "inline_mitigations_already_exist",
    "protected_at_runtime": "inline_mitigations_already_exist",
    "protected_at_perimeter": "inline_mitigations_already_exist",
    "protected_by_mitigating_control": "inline_mitigations_already_exist",
}
FROM_OPENVEX_JUSTIFICATION = {
    "component_not_present": "requires_dependency",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0"


def normalise_state(value: str) -> str:
    """A CycloneDX state from it or an OpenVEX/CSAF synonym; refuse anything else."""
    state = SYNONYMS.get(value.replace("-", "_"), value.replace("-", "_"))
    if state not in STATES:
        raise ValidationFailed("state", f"{value!r}: expected one of {', '.join(STATES)} "
                               f"(or {', '.join(SYNONYMS)})")
    return state


def _validate(state: str, justification: str | None, responses: list[str], detail: str) -> None:
    if justification is not None and justification not in JUSTIFICATIONS:
        raise ValidationFailed("justification", f"{justification!r}: expected one of "
                               f"{', '.join(JUSTIFICATIONS)}")
    if state == "not_affected" and not (justification or detail.strip()):
        raise ValidationFailed("justification", "not_affected needs a justification or a detail "
                               "(why the product is not affected)")
    bounded("detail", detail, limits.TEXT)
    for response in responses:
        if response not in RESPONSES:
            raise ValidationFailed("response", f"{response!r}: expected one of {', '.join(RESPONSES)}")


def set_statement(session: Session, actor: Actor, product_ref: str, vulnerability: str,
                  state: str, *, justification: str | None = None,
                  responses: list[str] | None = None, detail: str = "",
                  release_label: str | None = None, component: str | None = None,
                  source: str = "manual", if_match: int | None = None) -> VexStatement:
    """Create or replace the triage decision for a vulnerability in a product."""
    from prodsec.workspace.vulnerabilities import get_release

    actor.require("editor")
    product = get_product(session, actor, product_ref)
    state = normalise_state(state)
    bounded("vulnerability", vulnerability, limits.VULNERABILITY_ID, required=True)
    responses = list(responses or [])
    _validate(state, justification, responses, detail)
    release_key = get_release(session, actor, product.id, release_label).id if release_label else ""
    row = session.scalar(select(VexStatement).where(
        VexStatement.org_id == actor.org_id, VexStatement.product_id == product.id,
        VexStatement.release_key == release_key, VexStatement.vulnerability == vulnerability,
        VexStatement.component_key == (component or "")))
    before = statement_view(row) if row else None
    if row is None:
        row = VexStatement(id=new_id(), org_id=actor.org_id, product_id=product.id,
                           release_key=release_key, vulnerability=vulnerability,
                           component_key=component or "")
        session.add(row)
    else:
        check_version(row, if_match)
    row.state, row.justification, row.responses = state, justification, responses
    row.detail, row.source, row.updated_at = detail, source[:300], utcnow()
    _flush(session, row)
    audit.record(session, actor, "vex.set", "vex-statement", row.id, before, statement_view(row))
    return row


def statement_view(row: VexStatement) -> dict[str, Any]:
    """The JSON shape of one stored statement."""
    return {"id": row.id, "product_id": row.product_id, "release_id": row.release_key or None,
            "vulnerability": row.vulnerability, "component": row.component_key or None,
            "state": row.state, "justification": row.justification,
            "responses": list(row.responses), "detail": row.detail, "source": row.source,
            "version": row.version}


def statements_for(session: Session, actor: Actor, product_id: str) -> list[VexStatement]:
    """Every statement on a product, organisation-scoped."""
    return list(session.scalars(select(VexStatement).where(
        VexStatement.org_id == actor.org_id, VexStatement.product_id == product_id)))


def effective(statements: list[VexStatement], release_id: str, names: set[str],
              purl: str) -> VexStatement | None:
    """The most specific statement that applies: this release over all releases, this
    component over all components; the vulnerability may be named by any alias."""
    best: tuple[int, VexStatement] | None = None
    for row in statements:
        if row.vulnerability not in names:
            continue
        if row.release_key not in ("", release_id) or row.component_key not in ("", purl):
            continue
        rank = (2 if row.release_key else 0) + (1 if row.component_key else 0)
        if best is None or rank > best[0]:
            best = (rank, row)
    return best[1] if best else None


# ---- export ---------------------------------------------------------------------------------


def export(session: Session, actor: Actor, product_ref: str, release_label: str, fmt: str,
           author: str = "") -> dict[str, Any]:
    """The release's triage as a VEX document in ``fmt`` (cyclonedx, openvex or csaf)."""
    from prodsec.workspace import vulnerabilities

    findings = vulnerabilities.list_findings(session, actor, product_ref, release_label)
    product = get_product(session, actor, product_ref)
    if fmt == "cyclonedx":
        return cyclonedx_vex(product.name, release_label, findings)
    if fmt == "openvex":
        return openvex(findings, author or actor.email)
    if fmt == "csaf":
        from prodsec.workspace import csaf_author

        return csaf_author.build(session, actor, product_ref, release_label, "csaf_vex",
                                 publisher=author)
    raise ValidationFailed("format", f"{fmt!r}: expected cyclonedx, openvex or csaf")


def _grouped(findings: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        groups.setdefault(f["vulnerability"], []).append(f)
    return groups


def cyclonedx_vex(product: str, release: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    """CycloneDX 1.6 VEX: the affected components, one vulnerability entry per (vulnerability,
    state) with ``analysis`` and ``affects`` pointing at the components' bom-refs."""
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
            vulns.append(entry)
    return {"bomFormat": "CycloneDX", "specVersion": "1.6",
            "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1,
            "metadata": {"timestamp": _now(),
                         "component": {"type": "application", "bom-ref": "product",
                                       "name": product, "version": release}},
            "components": list(components.values()), "vulnerabilities": vulns}


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
    return utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def openvex(findings: list[dict[str, Any]], author: str) -> dict[str, Any]:
    """OpenVEX 0.2.0: one statement per (vulnerability, status) with the products' purls."""
    import uuid

    statements = []
    for vid, group in _grouped(findings).items():
        by_state: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for f in group:
            by_state.setdefault((f["state"], f["justification"], f["detail"]), []).append(f)
        for (state, justification, detail), items in by_state.items():
            statements.append(_openvex_statement(vid, items, state, justification, detail))
    return {"@context": OPENVEX_CONTEXT, "@id": f"https://openvex.dev/docs/prodsec/{uuid.uuid4()}",
            "author": author, "timestamp": _now(), "version": 1, "statements": statements}


def _openvex_statement(vid: str, items: list[dict[str, Any]], state: str,
                       justification: str | None, detail: str) -> dict[str, Any]:
    status = OPENVEX_STATUS[state]
    statement: dict[str, Any] = {
        "vulnerability": {"name": vid, "aliases": items[0]["aliases"]},
        "products": [{"@id": f["component"], **({"identifiers": {"purl": f["component"]}}
                                                 if f["component"].startswith("pkg:") else {})}
                     for f in items],
        "status": status}
    if status == "not_affected":
        if justification or state == "false_positive":
            statement["justification"] = OPENVEX_JUSTIFICATION.get(justification or "",
                                                                   "component_not_present")
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


def check_openvex(doc: Any) -> list[str]:
    """OpenVEX 0.2.0's field rules (no JSON schema ships with it): required document fields,
    statuses, justification vocabulary, and the status-dependent statements."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["/: expected an object"]
    for key in ("@context", "@id", "author", "timestamp", "version", "statements"):
        if key not in doc:
            problems.append(f"/{key}: required")
    if not str(doc.get("@context", "")).startswith("https://openvex.dev/ns"):
        problems.append("/@context: expected https://openvex.dev/ns/v…")
    statements = doc.get("statements") or []
    if not isinstance(statements, list):
        return [*problems, "/statements: expected an array"]
    for i, st in enumerate(statements):
        problems += [f"/statements/{i}{p}" for p in _check_statement(st)]
    return problems


def _check_statement(st: Any) -> list[str]:
    if not isinstance(st, dict):
        return [": expected an object"]
    problems = []
    vuln = st.get("vulnerability")
    if not isinstance(vuln, dict) or not vuln.get("name"):
        problems.append("/vulnerability/name: required")
    if not st.get("products"):
        problems.append("/products: at least one product")
    status = st.get("status")
    if status not in ("not_affected", "affected", "fixed", "under_investigation"):
        problems.append(f"/status: {status!r} is not an OpenVEX status")
    just = st.get("justification")
    if just is not None and (not isinstance(just, str) or just not in FROM_OPENVEX_JUSTIFICATION):
        problems.append(f"/justification: {just!r} is not an OpenVEX justification")
    if status == "not_affected" and not (just or st.get("impact_statement")):
        problems.append("/justification: not_affected needs a justification or impact_statement")
    if status == "affected" and not st.get("action_statement"):
        problems.append("/action_statement: required when affected")
    return problems


# ---- import ---------------------------------------------------------------------------------


def import_vex(session: Session, actor: Actor, product_ref: str, data: bytes, source: str,
               release_label: str | None = None) -> int:
    """Statements from a supplier's CycloneDX VEX, OpenVEX or CSAF VEX, applied to the product
    (one release or all) per component purl; returns how many were stored."""
    parsed = parse_vex(data, source)
    for vid, purl, state, justification, responses, detail in parsed:
        set_statement(session, actor, product_ref, vid, state, justification=justification,
                      responses=responses, detail=detail, release_label=release_label,
                      component=purl, source=f"import:{source}"[:300])
    return len(parsed)


def import_summary(session: Session, actor: Actor, product_ref: str, data: bytes, source: str,
                   release_label: str | None = None,
                   parsed: list[Any] | None = None) -> dict[str, Any]:
    """Like ``import_vex``, but a statement the vocabulary refuses (an unknown state or
    justification, not_affected without a reason, an over-long id) is skipped with its reason
    instead of refusing the document; a malformed document still stores nothing. Also names the
    purls no release of the product contains (stored anyway: they apply to a later SBOM).
    ``parsed`` is ``parse_vex(data, source)`` when the caller ran it already (the server parses
    before its write transaction begins)."""
    from prodsec.workspace.vulnerabilities import get_release

    actor.require("editor")
    product = get_product(session, actor, product_ref)
    if release_label:
        get_release(session, actor, product.id, release_label)
    if parsed is None:
        parsed = parse_vex(data, source)
    known = product_purls(session, actor, product.id)
    skipped: list[dict[str, Any]] = []
    unknown: set[str] = set()
    for vid, purl, state, justification, responses, detail in parsed:
        reason = _refusal(vid, purl, state, justification, responses, detail)
        if reason:
            skipped.append({"vulnerability": vid, "component": purl, "reason": reason})
            continue
        set_statement(session, actor, product.id, vid, state, justification=justification,
                      responses=responses, detail=detail, release_label=release_label,
                      component=purl, source=f"import:{source}"[:300])
        if purl and purl not in known:
            unknown.add(purl)
    return {"source": source, "product_id": product.id, "release": release_label,
            "statements": len(parsed), "imported": len(parsed) - len(skipped),
            "skipped": skipped, "components_not_in_product": sorted(unknown)}


def _refusal(vid: str, purl: str | None, state: str, justification: str | None,
             responses: list[str], detail: str) -> str | None:
    """Why ``set_statement`` would refuse this statement, or None."""
    if not vid or len(vid) > 128:
        return "the vulnerability id is empty or longer than 128 characters"
    if purl is not None and len(purl) > 2000:
        return "the component purl is longer than 2000 characters"
    try:
        _validate(normalise_state(state), justification, responses, detail)
    except ValidationFailed as exc:
        return str(exc)
    return None


def product_purls(session: Session, actor: Actor, product_id: str) -> set[str]:
    """The purls of every component in the SBOMs of the product's releases."""
    from prodsec.db.models import SbomComponent, SbomRecord

    return set(session.scalars(
        select(SbomComponent.purl).join(SbomRecord, SbomRecord.id == SbomComponent.sbom_id)
        .join(Release, Release.id == SbomRecord.release_id)
        .where(SbomComponent.org_id == actor.org_id, Release.product_id == product_id,
               SbomComponent.purl.is_not(None)).distinct()))


Parsed = tuple[str, str | None, str, str | None, list[str], str]


def parse_vex(data: bytes, source: str) -> list[Parsed]:
    """The statements of a CycloneDX VEX, OpenVEX or CSAF VEX document, without a database:
    (vulnerability, purl, state, justification, responses, detail). Anything malformed is an
    ``InputError`` naming the file and the JSON location."""
    from prodsec.errors import VexFormatError
    from prodsec.formats._io import expect_object, load_json

    doc = expect_object(load_json(data, source, error=VexFormatError), source, "a VEX document",
                        error=VexFormatError)
    if str(doc.get("@context", "")).startswith("https://openvex.dev/ns"):
        problems = check_openvex(doc)
        if problems:
            raise ValidationFailed("vex", f"{source}: invalid OpenVEX: {'; '.join(problems[:5])}")
        return _from_openvex(doc, source)
    if doc.get("bomFormat") == "CycloneDX":
        return _from_cyclonedx(doc, source)
    if isinstance(doc.get("document"), dict) and "csaf_version" in doc["document"]:
        return _from_csaf(doc, source)
    raise ValidationFailed("vex", f"{source}: expected CycloneDX VEX, OpenVEX or CSAF VEX")


def _bad(source: str, where: str, expected: str, value: Any) -> ValidationFailed:
    return ValidationFailed("vex", f"{source}: {where}: expected {expected}, "
                                   f"found {type(value).__name__}")


def _object(value: Any, source: str, where: str) -> dict[str, Any]:
    """An object, or {} for a missing (null) one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(source, where, "an object", value)
    return value


def _array(value: Any, source: str, where: str) -> list[Any]:
    """An array, or [] for a missing (null) one."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(source, where, "an array", value)
    return value


def _string(value: Any, source: str, where: str) -> str | None:
    """A string, or None for a missing (null or empty) one."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(source, where, "a string", value)
    return value


def _from_openvex(doc: dict[str, Any], source: str) -> list[Parsed]:
    out: list[Parsed] = []
    for i, st in enumerate(_array(doc["statements"], source, "/statements")):
        where = f"/statements/{i}"
        state = {"not_affected": "not_affected", "affected": "exploitable", "fixed": "resolved",
                 "under_investigation": "in_triage"}[st["status"]]
        just = FROM_OPENVEX_JUSTIFICATION.get(st.get("justification") or "")
        detail = str(st.get("impact_statement") or st.get("action_statement") or "")
        name = _string(st["vulnerability"]["name"], source, f"{where}/vulnerability/name")
        for j, product in enumerate(_array(st["products"], source, f"{where}/products")):
            product = _object(product, source, f"{where}/products/{j}")
            ids = _object(product.get("identifiers"), source, f"{where}/products/{j}/identifiers")
            purl = (_string(ids.get("purl"), source, f"{where}/products/{j}/identifiers/purl")
                    or _string(product.get("@id"), source, f"{where}/products/{j}/@id"))
            out.append((name or "", purl, state, just, [], detail))
    return out


def _from_cyclonedx(doc: dict[str, Any], source: str) -> list[Parsed]:
    refs: dict[str, str | None] = {}
    for i, c in enumerate(_array(doc.get("components"), source, "/components")):
        if isinstance(c, dict) and isinstance(c.get("bom-ref"), str):
            refs[c["bom-ref"]] = _string(c.get("purl"), source, f"/components/{i}/purl")
    out: list[Parsed] = []
    for i, v in enumerate(_array(doc.get("vulnerabilities"), source, "/vulnerabilities")):
        where = f"/vulnerabilities/{i}"
        v = _object(v, source, where)
        analysis = _object(v.get("analysis"), source, f"{where}/analysis")
        vid = _string(v.get("id"), source, f"{where}/id")
        state = _string(analysis.get("state"), source, f"{where}/analysis/state")
        if not vid or not state:
            continue
        just = _string(analysis.get("justification"), source, f"{where}/analysis/justification")
        responses = [_string(r, source, f"{where}/analysis/response/{k}") or ""
                     for k, r in enumerate(_array(analysis.get("response"), source,
                                                  f"{where}/analysis/response"))]
        detail = str(analysis.get("detail") or "")
        for j, target in enumerate(_array(v.get("affects"), source, f"{where}/affects") or [{}]):
            ref = _string(_object(target, source, f"{where}/affects/{j}").get("ref"), source,
                          f"{where}/affects/{j}/ref")
            purl = (refs.get(ref) if ref is not None else None) or (
                ref if ref is not None and ref.startswith("pkg:") else None)
            out.append((vid, purl, state, just, responses, detail))
    return out


def _from_csaf(doc: dict[str, Any], source: str) -> list[Parsed]:
    purls = _csaf_purls(_object(doc.get("product_tree"), source, "/product_tree"), source)
    out: list[Parsed] = []
    for i, v in enumerate(_array(doc.get("vulnerabilities"), source, "/vulnerabilities")):
        where = f"/vulnerabilities/{i}"
        v = _object(v, source, where)
        ids = [_object(x, source, f"{where}/ids/{k}")
               for k, x in enumerate(_array(v.get("ids"), source, f"{where}/ids"))]
        vid = _string(v.get("cve"), source, f"{where}/cve") or next(
            (_string(x.get("text"), source, f"{where}/ids/{k}/text") for k, x in enumerate(ids)), None)
        if not vid:
            continue
        labels: dict[str, Any] = {}
        for k, flag in enumerate(_array(v.get("flags"), source, f"{where}/flags")):
            flag = _object(flag, source, f"{where}/flags/{k}")
            for m, pid in enumerate(_array(flag.get("product_ids"), source, f"{where}/flags/{k}/product_ids")):
                labels[_string(pid, source, f"{where}/flags/{k}/product_ids/{m}") or ""] = flag.get("label")
        statuses = _object(v.get("product_status"), source, f"{where}/product_status")
        for status, pids in statuses.items():
            state = SYNONYMS.get(status)
            if state is None:
                continue
            for m, pid in enumerate(_array(pids, source, f"{where}/product_status/{status}")):
                pid = _string(pid, source, f"{where}/product_status/{status}/{m}") or ""
                label = labels.get(pid)
                just = FROM_OPENVEX_JUSTIFICATION.get(label) if isinstance(label, str) else None
                detail = "" if just or state != "not_affected" else "supplier: known not affected"
                out.append((vid, purls.get(pid), state, just, [], detail))
    return out


def _csaf_purls(tree: dict[str, Any], source: str) -> dict[str, str | None]:
    """product_id → purl, from full_product_names, branches and relationships."""
    found: dict[str, str | None] = {}

    def visit(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "product_id" in node:
                pid = _string(node["product_id"], source, f"{where}/product_id")
                helper = _object(node.get("product_identification_helper"), source,
                                 f"{where}/product_identification_helper")
                found[pid or ""] = _string(helper.get("purl"), source,
                                           f"{where}/product_identification_helper/purl")
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for k, value in enumerate(node):
                visit(value, f"{where}/{k}")

    visit(tree, "/product_tree")
    for k, rel in enumerate(_array(tree.get("relationships"), source, "/product_tree/relationships")):
        where = f"/product_tree/relationships/{k}"
        rel = _object(rel, source, where)
        full = _object(rel.get("full_product_name"), source, f"{where}/full_product_name")
        pid = _string(full.get("product_id"), source, f"{where}/full_product_name/product_id")
        if pid:
            reference = rel.get("product_reference")
            found[pid] = found.get(reference) if isinstance(reference, str) else None
    return found


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
