"""Vulnerability handling: findings, VEX triage decisions and CRA Article 14 cases with their
reporting clocks (UTC). Thin wrappers over ``prodsec.workspace.{vulnerabilities,vex,article14}``
so the CLI, the API and the web UI show the same clocks."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from prodsec.api.deps import UnitDep, Writer

router = APIRouter(tags=["vulnerabilities"])
Stage = Literal["early-warning", "notification", "final-report"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseOpen(Strict):
    kind: Literal["vulnerability", "incident"]
    title: str = Field(min_length=1, max_length=500)
    aware_at: dt.datetime = Field(description="When the manufacturer became aware (ISO 8601, with offset).")
    vulnerability: str | None = Field(default=None, max_length=100)
    member_state: str | None = Field(default=None, min_length=2, max_length=2)
    description: str = Field(default="", max_length=20000)


class Submission(Strict):
    stage: Stage
    at: dt.datetime | None = Field(default=None, description="Default: now.")
    reference: str = Field(default="", max_length=500)


class Measure(Strict):
    at: dt.datetime = Field(description="When a corrective or mitigating measure became available.")


class VexDecision(Strict):
    vulnerability: str = Field(min_length=1, max_length=100)
    state: str = Field(description="CycloneDX VEX state: in_triage, exploitable, not_affected, resolved, ...")
    justification: str | None = None
    responses: list[str] = Field(default_factory=list)
    detail: str = Field(default="", max_length=20000)
    release: str | None = None
    component: str | None = Field(default=None, description="purl; default: every component")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


SBOM_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}},
    "application/xml": {"schema": {"type": "string"}},
    "text/plain": {"schema": {"type": "string"}}}}}


@router.post("/products/{product_id}/releases/{release}/sbom", openapi_extra=SBOM_BODY)
async def import_sbom(work: Writer, request: Request, product_id: str, release: str,
                      filename: str = Query(default="sbom.json", max_length=300)) -> dict[str, Any]:
    """Import a release's SBOM (CycloneDX JSON/XML, SPDX JSON/tag-value) as the request body;
    returns its quality report and recomputed findings. ``filename``'s ending picks the parser."""
    from fastapi.concurrency import run_in_threadpool

    from prodsec.formats._io import MAX_BYTES
    from prodsec.workspace.compliance import EvidenceTooLarge
    from prodsec.workspace.vulnerabilities import import_sbom as store

    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BYTES:
            raise EvidenceTooLarge("sbom", f"larger than the limit of {MAX_BYTES} bytes")
    return await run_in_threadpool(store, work.session, work.actor, product_id, release, data,
                                   filename)


@router.get("/products/{product_id}/findings")
def findings(work: UnitDep, product_id: str, release: str | None = None) -> list[dict[str, Any]]:
    """Components × advisories of a product's releases, with KEV flag and VEX state."""
    from prodsec.workspace.vulnerabilities import list_findings

    return list_findings(work.session, work.actor, product_id, release)


@router.post("/products/{product_id}/vex")
def set_vex(work: Writer, product_id: str, body: VexDecision) -> dict[str, Any]:
    """Record the triage decision for a vulnerability in a product (replaces an earlier one)."""
    from prodsec.workspace import vex

    row = vex.set_statement(work.session, work.actor, product_id, body.vulnerability, body.state,
                            justification=body.justification, responses=body.responses,
                            detail=body.detail, release_label=body.release,
                            component=body.component)
    return vex.statement_view(row)


@router.get("/cases")
def cases(work: UnitDep, open_only: bool = Query(default=False)) -> list[dict[str, Any]]:
    """Article 14 cases, overdue first, each with its clocks."""
    from prodsec.workspace import article14

    return article14.list_cases(work.session, work.actor, work.kb, open_only)


@router.post("/products/{product_id}/cases", status_code=201)
def open_case(work: Writer, product_id: str, body: CaseOpen) -> dict[str, Any]:
    """Record an actively exploited vulnerability or a severe incident: the clocks start."""
    from prodsec.workspace import article14

    case = article14.open_case(work.session, work.actor, product_id, body.kind, body.title,
                               _aware(body.aware_at), vulnerability=body.vulnerability,
                               member_state_code=body.member_state, description=body.description)
    return article14.case_view(work.session, work.kb, case)


@router.get("/cases/{case_id}")
def case(work: UnitDep, case_id: str) -> dict[str, Any]:
    from prodsec.workspace import article14

    found = article14.get_case(work.session, work.actor, case_id)
    return article14.case_view(work.session, work.kb, found)


@router.post("/cases/{case_id}/measure")
def measure(work: Writer, case_id: str, body: Measure) -> dict[str, Any]:
    """A corrective or mitigating measure is available: the final-report clock starts."""
    from prodsec.workspace import article14

    found = article14.measure_available(work.session, work.actor, case_id, _aware(body.at))
    return article14.case_view(work.session, work.kb, found)


@router.post("/cases/{case_id}/submissions")
def submit(work: Writer, case_id: str, body: Submission) -> dict[str, Any]:
    """Record a report stage as submitted to the CSIRT coordinator (ENISA's platform)."""
    from prodsec.workspace import article14

    article14.submit(work.session, work.actor, work.kb, case_id, body.stage,
                     _aware(body.at) if body.at else None, body.reference)
    return article14.case_view(work.session, work.kb, article14.get_case(
        work.session, work.actor, case_id))


@router.get("/cases/{case_id}/drafts/{stage}")
def draft(work: UnitDep, case_id: str, stage: Stage) -> dict[str, Any]:
    """The report a stage requires, pre-filled; ``to_complete`` names what is left to write."""
    from prodsec.workspace import article14

    return article14.draft(work.session, work.actor, work.kb, case_id, stage)
