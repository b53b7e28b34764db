"""VEX documents without a database: the vocabulary of each format, its mapping onto the one
prodsec stores, and the parser that turns a CycloneDX VEX, OpenVEX or CSAF VEX document into
``Statement`` values — each naming the *product* the statement is about and the *component* in
it, as the three formats do (docs/vex.md has the tables).

One vocabulary is stored (CycloneDX's: six states, nine justifications, responses) and mapped on
the way out; OpenVEX and CSAF share the CISA "VEX Status Justifications" five, so a CycloneDX
justification maps onto one of them and back onto a representative (``canonical`` is the
comparison form all three formats agree on).

A malformed document (not JSON, a wrong type at some JSON location, a required document field
missing) is a ``VexFormatError`` naming the file and the location; a statement that breaks its
format's rules (an unknown status or justification, ``not_affected`` without a reason) is kept
with its ``problem`` so the importer refuses that statement alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from prodsec.errors import VexFormatError

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
# CSAF product_status keys → CycloneDX state; ``recommended`` says which version to use, not
# whether one is affected, so it is not a VEX status and is refused.
FROM_CSAF_STATUS = {"known_affected": "exploitable", "first_affected": "exploitable",
                    "last_affected": "exploitable", "known_not_affected": "not_affected",
                    "fixed": "resolved", "first_fixed": "resolved",
                    "under_investigation": "in_triage"}
FROM_OPENVEX_STATUS = {"not_affected": "not_affected", "affected": "exploitable",
                       "fixed": "resolved", "under_investigation": "in_triage"}
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
#: a false positive says the vulnerable component is not what the product contains
FALSE_POSITIVE_LABEL = "component_not_present"
OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0"


class Statement(NamedTuple):
    """One (vulnerability, product, component) assertion of a VEX document, in the stored
    (CycloneDX) vocabulary; ``product`` is what the document names as the product (a purl, CPE
    or identifier; None when it names none) and ``component`` the subcomponent of it the
    statement is about (None: the product itself). ``problem`` is why the statement breaks its
    format's rules, if it does; ``where`` its JSON location."""

    vulnerability: str
    product: str | None
    component: str | None
    state: str
    justification: str | None
    responses: list[str]
    detail: str
    aliases: tuple[str, ...] = ()
    where: str = ""
    problem: str | None = None


def canonical(state: str, justification: str | None) -> tuple[str, str | None]:
    """(status, justification) in the vocabulary all three formats share: OpenVEX's statuses
    and the CISA justification labels. The comparison form of a triage decision."""
    status = OPENVEX_STATUS[state]
    if status != "not_affected":
        return status, None
    label = OPENVEX_JUSTIFICATION.get(justification or "")
    return status, label or (FALSE_POSITIVE_LABEL if state == "false_positive" else None)


# ---- OpenVEX rules --------------------------------------------------------------------------


def check_openvex(doc: Any) -> list[str]:
    """OpenVEX 0.2.0's rules (those of its JSON schema and spec): required document fields,
    statuses, justification vocabulary, and the status-dependent statements."""
    problems = _check_document(doc)
    if not isinstance(doc, dict) or not isinstance(doc.get("statements"), list):
        return problems
    for i, st in enumerate(doc["statements"]):
        problems += [f"/statements/{i}{p}" for p in _check_statement(st)]
    return problems


def _check_document(doc: Any) -> list[str]:
    if not isinstance(doc, dict):
        return ["/: expected an object"]
    problems = [f"/{key}: required" for key in ("@context", "@id", "author", "timestamp",
                                                 "version", "statements") if key not in doc]
    if not str(doc.get("@context", "")).startswith("https://openvex.dev/ns"):
        problems.append("/@context: expected https://openvex.dev/ns/v…")
    if "statements" in doc and not isinstance(doc["statements"], list):
        problems.append("/statements: expected an array")
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
    if not isinstance(status, str) or status not in FROM_OPENVEX_STATUS:
        problems.append(f"/status: {status!r} is not an OpenVEX status")
    just = st.get("justification")
    if just is not None and (not isinstance(just, str) or just not in FROM_OPENVEX_JUSTIFICATION):
        problems.append(f"/justification: {just!r} is not an OpenVEX justification")
    if status == "not_affected" and not (just or st.get("impact_statement")):
        problems.append("/justification: not_affected needs a justification or impact_statement")
    if status == "affected" and not st.get("action_statement"):
        problems.append("/action_statement: required when affected")
    return problems


# ---- parsing --------------------------------------------------------------------------------


def parse_vex(data: bytes, source: str) -> list[Statement]:
    """The statements of a CycloneDX VEX, OpenVEX or CSAF VEX document. Anything malformed is a
    ``VexFormatError`` naming the file and the JSON location."""
    from prodsec.formats._io import expect_object, load_json

    doc = expect_object(load_json(data, source, error=VexFormatError), source, "a VEX document",
                        error=VexFormatError)
    if str(doc.get("@context", "")).startswith("https://openvex.dev/ns"):
        problems = _check_document(doc)
        if problems:
            raise VexFormatError(f"{source}: invalid OpenVEX: {'; '.join(problems[:5])}",
                                 source=source)
        return _from_openvex(doc, source)
    if doc.get("bomFormat") == "CycloneDX":
        return _from_cyclonedx(doc, source)
    if isinstance(doc.get("document"), dict) and "csaf_version" in doc["document"]:
        return _from_csaf(doc, source)
    raise VexFormatError(f"{source}: expected CycloneDX VEX, OpenVEX or CSAF VEX", source=source)


def _bad(source: str, where: str, expected: str, value: Any) -> VexFormatError:
    return VexFormatError(f"{source}: {where}: expected {expected}, found {type(value).__name__}",
                          source=source)


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


def _identity(node: Any, source: str, where: str) -> str | None:
    """An OpenVEX product or subcomponent's identifier: its purl, else a CPE, else its @id."""
    node = _object(node, source, where)
    ids = _object(node.get("identifiers"), source, f"{where}/identifiers")
    for key in ("purl", "cpe23", "cpe22"):
        found = _string(ids.get(key), source, f"{where}/identifiers/{key}")
        if found:
            return found
    return _string(node.get("@id"), source, f"{where}/@id")


def _from_openvex(doc: dict[str, Any], source: str) -> list[Statement]:
    out: list[Statement] = []
    for i, st in enumerate(_array(doc["statements"], source, "/statements")):
        where = f"/statements/{i}"
        st = _object(st, source, where)
        rules = _check_statement(st)
        problem = "; ".join(f"{where}{p}" for p in rules) or None
        vuln = _object(st.get("vulnerability"), source, f"{where}/vulnerability")
        name = _string(vuln.get("name"), source, f"{where}/vulnerability/name") or ""
        aliases = tuple(_string(a, source, f"{where}/vulnerability/aliases/{k}") or ""
                        for k, a in enumerate(_array(vuln.get("aliases"), source,
                                                     f"{where}/vulnerability/aliases")))
        status = st.get("status")
        state = FROM_OPENVEX_STATUS.get(status, str(status)) if isinstance(status, str) else ""
        label = st.get("justification")
        just = FROM_OPENVEX_JUSTIFICATION.get(label) if isinstance(label, str) else None
        detail = str(st.get("impact_statement") or st.get("action_statement")
                     or st.get("status_notes") or "")
        for j, product in enumerate(_array(st.get("products"), source, f"{where}/products")):
            at = f"{where}/products/{j}"
            pid = _identity(product, source, at)
            subs = _array(_object(product, source, at).get("subcomponents"), source,
                          f"{at}/subcomponents")
            components = [_identity(s, source, f"{at}/subcomponents/{k}")
                          for k, s in enumerate(subs)] or [None]
            out += [Statement(name, pid, c, state, just, [], detail, aliases, where, problem)
                    for c in components]
        if not st.get("products") and problem:  # keep it, so that it is refused by name
            out.append(Statement(name, None, None, state, just, [], detail, aliases, where,
                                 problem))
    return out


def _bom_ref_purl(ref: str | None, refs: dict[str, str | None]) -> str | None:
    """The purl behind a CycloneDX ``affects`` ref: a bom-ref of this document, a purl used as
    bom-ref, or a BOM-link (``urn:cdx:serial/version#bom-ref``) whose bom-ref is a purl."""
    if ref is None:
        return None
    if ref in refs:
        return refs[ref]
    if ref.startswith("urn:cdx:") and "#" in ref:
        ref = ref.split("#", 1)[1]
    return ref if ref.startswith("pkg:") else None


def _from_cyclonedx(doc: dict[str, Any], source: str) -> list[Statement]:
    refs: dict[str, str | None] = {}
    for i, c in enumerate(_array(doc.get("components"), source, "/components")):
        if isinstance(c, dict) and isinstance(c.get("bom-ref"), str):
            refs[c["bom-ref"]] = _string(c.get("purl"), source, f"/components/{i}/purl")
    subject = _object(_object(doc.get("metadata"), source, "/metadata").get("component"),
                      source, "/metadata/component")
    product = _string(subject.get("purl"), source, "/metadata/component/purl") or (
        " ".join(str(subject[k]) for k in ("name", "version") if subject.get(k)) or None)
    subject_ref = subject.get("bom-ref")
    out: list[Statement] = []
    for i, v in enumerate(_array(doc.get("vulnerabilities"), source, "/vulnerabilities")):
        where = f"/vulnerabilities/{i}"
        v = _object(v, source, where)
        analysis = _object(v.get("analysis"), source, f"{where}/analysis")
        vid = _string(v.get("id"), source, f"{where}/id")
        state = _string(analysis.get("state"), source, f"{where}/analysis/state")
        if not vid or not state:
            continue  # a vulnerability without analysis is a finding, not a VEX statement
        aliases = tuple(
            _string(_object(r, source, f"{where}/references/{k}").get("id"), source,
                    f"{where}/references/{k}/id") or ""
            for k, r in enumerate(_array(v.get("references"), source, f"{where}/references")))
        just = _string(analysis.get("justification"), source, f"{where}/analysis/justification")
        responses = [_string(r, source, f"{where}/analysis/response/{k}") or ""
                     for k, r in enumerate(_array(analysis.get("response"), source,
                                                  f"{where}/analysis/response"))]
        detail = str(analysis.get("detail") or "")
        for j, target in enumerate(_array(v.get("affects"), source, f"{where}/affects") or [{}]):
            ref = _string(_object(target, source, f"{where}/affects/{j}").get("ref"), source,
                          f"{where}/affects/{j}/ref")
            component = None if ref is not None and ref == subject_ref else _bom_ref_purl(ref, refs)
            out.append(Statement(vid, product, component, state, just, responses, detail,
                                 aliases, f"{where}/affects/{j}"))
    return out


def _from_csaf(doc: dict[str, Any], source: str) -> list[Statement]:
    tree = _object(doc.get("product_tree"), source, "/product_tree")
    names = _csaf_names(tree, source)
    parts = _csaf_parts(tree, source)
    out: list[Statement] = []
    for i, v in enumerate(_array(doc.get("vulnerabilities"), source, "/vulnerabilities")):
        where = f"/vulnerabilities/{i}"
        v = _object(v, source, where)
        ids = [_string(_object(x, source, f"{where}/ids/{k}").get("text"), source,
                       f"{where}/ids/{k}/text") or ""
               for k, x in enumerate(_array(v.get("ids"), source, f"{where}/ids"))]
        cve = _string(v.get("cve"), source, f"{where}/cve")
        every = [n for n in [cve, *ids] if n]
        if not every:
            continue
        labels = _csaf_by_product(v, "flags", "label", source, where)
        impacts = _csaf_by_product(v, "threats", "details", source, where, category="impact")
        statuses = _object(v.get("product_status"), source, f"{where}/product_status")
        for status, pids in statuses.items():
            state = FROM_CSAF_STATUS.get(status, status)
            for m, pid in enumerate(_array(pids, source, f"{where}/product_status/{status}")):
                at = f"{where}/product_status/{status}/{m}"
                pid = _string(pid, source, at) or ""
                label = labels.get(pid)
                just = FROM_OPENVEX_JUSTIFICATION.get(label) if isinstance(label, str) else None
                problem = _csaf_problem(status, label, bool(impacts.get(pid)), at)
                detail = str(impacts.get(pid) or "")
                product, component = parts.get(pid, (names.get(pid), None))
                out.append(Statement(every[0], product, component, state, just, [], detail,
                                     tuple(every[1:]), at, problem))
    return out


def _csaf_problem(status: str, label: Any, impact: bool, where: str) -> str | None:
    if status not in FROM_CSAF_STATUS:
        return f"{where}: {status!r} is not a CSAF VEX product status"
    if label is not None and (not isinstance(label, str) or label not in FROM_OPENVEX_JUSTIFICATION):
        return f"{where}: flag label {label!r} is not a CSAF justification"
    if status == "known_not_affected" and label is None and not impact:
        return f"{where}: known_not_affected needs a flag or an impact statement (CSAF 6.1.27.9)"
    return None


def _csaf_by_product(v: dict[str, Any], key: str, field: str, source: str, where: str,
                     category: str | None = None) -> dict[str, Any]:
    """product_id → the ``field`` of the flag/threat naming it."""
    found: dict[str, Any] = {}
    for k, item in enumerate(_array(v.get(key), source, f"{where}/{key}")):
        item = _object(item, source, f"{where}/{key}/{k}")
        if category is not None and item.get("category") != category:
            continue
        for m, pid in enumerate(_array(item.get("product_ids"), source,
                                       f"{where}/{key}/{k}/product_ids")):
            found[_string(pid, source, f"{where}/{key}/{k}/product_ids/{m}") or ""] = item.get(field)
    return found


def _csaf_names(tree: dict[str, Any], source: str) -> dict[str, str | None]:
    """product_id → its identifier: the purl or CPE of its identification helper, else its
    name; from branches, full_product_names and relationships alike."""
    found: dict[str, str | None] = {}

    def visit(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "product_id" in node:
                pid = _string(node["product_id"], source, f"{where}/product_id")
                helper = _object(node.get("product_identification_helper"), source,
                                 f"{where}/product_identification_helper")
                found[pid or ""] = (
                    _string(helper.get("purl"), source, f"{where}/product_identification_helper/purl")
                    or _string(helper.get("cpe"), source, f"{where}/product_identification_helper/cpe")
                    or _string(node.get("name"), source, f"{where}/name"))
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for k, value in enumerate(node):
                visit(value, f"{where}/{k}")

    visit(tree, "/product_tree")
    return found


def _csaf_parts(tree: dict[str, Any], source: str) -> dict[str, tuple[str | None, str | None]]:
    """product_id of a relationship → (the product it is part of, the component): CSAF says
    "component X as part of product Y" with a relationship, as OpenVEX says it with
    subcomponents."""
    names = _csaf_names(tree, source)
    found: dict[str, tuple[str | None, str | None]] = {}
    for k, rel in enumerate(_array(tree.get("relationships"), source, "/product_tree/relationships")):
        where = f"/product_tree/relationships/{k}"
        rel = _object(rel, source, where)
        full = _object(rel.get("full_product_name"), source, f"{where}/full_product_name")
        pid = _string(full.get("product_id"), source, f"{where}/full_product_name/product_id")
        part = _string(rel.get("product_reference"), source, f"{where}/product_reference")
        whole = _string(rel.get("relates_to_product_reference"), source,
                        f"{where}/relates_to_product_reference")
        if pid:
            found[pid] = (names.get(whole or ""), names.get(part or ""))
    return found
