"""OSCAL 1.1.2 exports: an instrument's requirements as a catalog, and a product's assessment
as assessment-results, so GRC tools can import what prodsec knows.

UUIDs are derived (uuid5) from stable names, and timestamps from the issue date, so the same
inputs always give the same bytes. OSCAL ids are tokens (no ':'), so requirement ids map
``eu-cra:annex-i:part-i:1`` → ``eu-cra.annex-i.part-i.1``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from prodsec.core.knowledge import CATEGORIES, KnowledgeBase
from prodsec.documents.facts import Facts, cite, formal
from prodsec.documents.gather import AssessmentData, Inputs, Row, sorted_rows

OSCAL_VERSION = "1.1.2"
NAMESPACE = uuid.UUID("9a4c3f5e-2b1d-4e8f-9c6a-7d5b3e1f0a2c")
NS = "urn:prodsec:oscal"
STATE = {"met": ("satisfied", "pass"), "not-applicable": ("satisfied", "other"),
         "not-met": ("not-satisfied", "fail")}


def oscal_id(requirement_id: str) -> str:
    return requirement_id.replace(":", ".")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _stamp(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _metadata(title: str, day: dt.date, version: str, remarks: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"title": title, "last-modified": _stamp(day), "version": version,
                           "oscal-version": OSCAL_VERSION}
    if remarks:
        out["remarks"] = remarks
    return out


# ---- catalog ---------------------------------------------------------------------------


def catalog(kb: KnowledgeBase, regulation_id: str, day: dt.date) -> dict[str, Any]:
    """An instrument's requirements, grouped by prevention, readiness and handling."""
    reg = kb.document(regulation_id)
    groups = []
    for category in CATEGORIES:
        controls = [_control(kb, r, reg) for r in reg["requirements"] if r["category"] == category]
        if controls:
            groups.append({"id": category, "title": category.capitalize(), "controls": controls})
    return {"catalog": {
        "uuid": _uuid("catalog", regulation_id, kb.version),
        "metadata": _metadata(f"{reg['title']} — requirements", day, kb.version,
                              f"Paraphrased by prodsec from {formal(reg)}; knowledge base "
                              f"{kb.version}. Source: {reg.get('legal_reference') or reg['title']}"),
        "groups": groups}}


def _control(kb: KnowledgeBase, req: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    citation = req["citation"]
    control: dict[str, Any] = {
        "id": oscal_id(req["id"]), "title": req["title"],
        "props": [{"name": "label", "value": citation["ref"]},
                  {"name": "citation", "ns": NS, "value": cite(kb, citation, doc)},
                  {"name": "kind", "ns": NS, "value": req.get("kind") or "requirement"},
                  {"name": "verified", "ns": NS,
                   "value": "false" if citation.get("verified") is False else "true"}],
        "parts": [{"id": f"{oscal_id(req['id'])}_smt", "name": "statement", "prose": req["text"]}],
    }
    if citation.get("url"):
        control["links"] = [{"href": citation["url"], "rel": "reference"}]
    if req.get("condition"):
        control["parts"].append({"id": f"{oscal_id(req['id'])}_gdn", "name": "guidance",
                                 "prose": req["condition"]})
    return control


# ---- assessment results ---------------------------------------------------------------


def assessment_results(inputs: Inputs, facts: Facts) -> dict[str, Any]:
    """Each current binding assessment of the product becomes one OSCAL result."""
    assert inputs.product is not None
    product = inputs.product
    results = [_result(inputs, a) for _, a in sorted(inputs.assessments.items())
               if a.status in ("required", "upcoming", "voluntary")]
    if not results:
        facts.flag("assessment", "a current assessment in which an instrument binds the product",
                   f"prodsec assess {product.name!r}")
    plan = _uuid("plan", product.id)
    return {"assessment-results": {
        "uuid": _uuid("ar", product.id, inputs.digest()),
        "metadata": _metadata(f"Assessment results: {product.name}", inputs.today,
                              inputs.kb.version),
        "import-ap": {"href": f"#{plan}"},
        "results": results or [_empty_result(inputs)],
        "back-matter": {"resources": [{
            "uuid": plan, "title": "prodsec assessment (no separate OSCAL assessment plan)",
            "description": "Statuses recorded in the prodsec compliance workspace; each result "
                           "reviews the controls of the matching prodsec OSCAL catalog."}]},
    }}


def _result(inputs: Inputs, a: AssessmentData) -> dict[str, Any]:
    assert inputs.product is not None
    pid = inputs.product.id
    rows = sorted_rows(inputs.kb, a)
    observations = [_observation(pid, a, r) for r in rows]
    return {
        "uuid": _uuid("result", pid, a.regulation, a.as_of.isoformat()),
        "title": f"{inputs.kb.regulation(a.regulation)['short_name']}: {a.status}",
        "description": f"Requirement statuses of {inputs.product.name} for {a.regulation} "
                       f"(assessed as of {a.as_of.isoformat()}).",
        "start": _stamp(a.as_of),
        "props": [{"name": "regulation", "ns": NS, "value": a.regulation},
                  {"name": "stale", "ns": NS, "value": "true" if a.stale else "false"}],
        "reviewed-controls": {"control-selections": [{"include-controls": [
            {"control-id": oscal_id(r.id)} for r in rows]}]} if rows else
            {"control-selections": [{"include-all": {}}]},
        **({"observations": observations} if observations else {}),
        **({"findings": [_finding(pid, a, r) for r in rows]} if rows else {}),
    }


def _empty_result(inputs: Inputs) -> dict[str, Any]:
    assert inputs.product is not None
    return {"uuid": _uuid("result", inputs.product.id, "none"), "title": "No assessment",
            "description": "No binding assessment is recorded.", "start": _stamp(inputs.today),
            "reviewed-controls": {"control-selections": [{"include-all": {}}]}}


def _observation(pid: str, a: AssessmentData, r: Row) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "uuid": _uuid("obs", pid, a.regulation, r.id),
        "description": f"{r.title}: {r.status}" + (f" — {r.justification}" if r.justification else ""),
        "methods": ["EXAMINE"], "collected": _stamp(a.as_of),
        "props": [{"name": "prodsec-status", "ns": NS, "value": r.status}],
    }
    evidence = [_evidence(e) for e in r.evidence]
    if evidence:
        obs["relevant-evidence"] = evidence
    return obs


def _evidence(e: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": e["title"]}
    if e.get("url"):
        out["href"] = e["url"]
    if e.get("sha256"):
        out["props"] = [{"name": "sha256", "ns": NS, "value": e["sha256"]}]
    return out


def _finding(pid: str, a: AssessmentData, r: Row) -> dict[str, Any]:
    state, reason = STATE.get(r.status, ("not-satisfied", "other"))
    return {
        "uuid": _uuid("finding", pid, a.regulation, r.id), "title": r.title,
        "description": f"{r.citation}{'' if r.verified else ' [unverified]'}: {r.status}",
        "target": {"type": "objective-id", "target-id": oscal_id(r.id),
                   "status": {"state": state, "reason": reason}},
        "related-observations": [{"observation-uuid": _uuid("obs", pid, a.regulation, r.id)}],
    }
