"""Side by side: what each product of an organisation promises and proves, on one date.

One column per product, rows grouped by aspect (identity, promise, proof, vulnerability
handling); every cell is a value plus where it comes from, so a buyer comparing suppliers can
tell a recorded fact from an absence ("not recorded"). Nothing here queries on its own: each
cell is read through the service that owns the fact (applicability engine, gaps, document
records, SBOM quality report, findings with their VEX state, CSAF documents, Article 14 cases).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.models import Product, Release
from prodsec.workspace.context import Actor, ValidationFailed

ABSENT = "not recorded"
MAX_PRODUCTS = 10
CRA = "eu-cra"
DECLARATIONS = ("eu-declaration", "eu-declaration-simplified")
# CycloneDX VEX states, grouped the way a buyer reads them.
STATE_GROUPS = {"exploitable": "affected", "in_triage": "in triage",
                "not_affected": "not affected", "false_positive": "not affected",
                "resolved": "fixed", "resolved_with_pedigree": "fixed"}

Cell = dict[str, Any]


def cell(value: str | int | float | bool | None, source: str, note: str | None = None) -> Cell:
    """One value and where it comes from (``note`` qualifies it: a date, a count, "stale")."""
    return {"value": value, "source": source, "note": note}


def compare(session: Session, actor: Actor, kb: KnowledgeBase, product_refs: list[str],
            as_of: dt.date, now: dt.datetime | None = None) -> dict[str, Any]:
    """The comparison of 2 to ``MAX_PRODUCTS`` products (by id or name) of the actor's
    organisation; another organisation's product is ``NotFound`` like an unknown one."""
    from prodsec.workspace.products import get_product

    actor.require("viewer")
    if len(product_refs) < 2:
        raise ValidationFailed("product", "name at least two products to compare")
    if len(product_refs) > MAX_PRODUCTS:
        raise ValidationFailed("product", f"compare at most {MAX_PRODUCTS} products at once")
    products: list[Product] = []
    for ref in product_refs:
        product = get_product(session, actor, ref)
        if product.id not in {p.id for p in products}:
            products.append(product)
    if len(products) < 2:
        raise ValidationFailed("product", "name at least two different products to compare")
    columns = [_column(session, actor, kb, p, as_of, now) for p in products]
    return {"as_of": as_of.isoformat(), "kb_version": kb.version,
            "products": [{"id": p.id, "name": p.name} for p in products],
            "aspects": _aspects(kb, columns)}


# ---- one product's facts ---------------------------------------------------------------------


def _column(session: Session, actor: Actor, kb: KnowledgeBase, product: Product,
            as_of: dt.date, now: dt.datetime | None) -> dict[str, Any]:
    """Everything known about one product, read through the owning services."""
    from prodsec.core.applicability import Engine
    from prodsec.core.profile import parse_profile
    from prodsec.documents.gather import gather
    from prodsec.documents.render import list_records
    from prodsec.workspace import article14, csaf_documents, gaps

    inputs = gather(session, actor, kb, product.id, None, as_of)
    check = Engine(kb).check(parse_profile(product.profile, kb.vocabulary, product.name), as_of)
    release = inputs.release
    return {
        "product": product, "release": release, "as_of": as_of,
        "verdicts": {v.regulation: v for v in check.results},
        "gaps": {i["regulation"]: i for i in
                 gaps.product_gaps(session, actor, kb, product.id, as_of)["instruments"]},
        "evidence": _evidence(inputs.assessments.values()),
        "documents": list_records(session, actor, product.id, kb),
        **_vulnerabilities(session, actor, product, release),
        "csaf": len(csaf_documents.list_documents(session, actor, product.id)),
        "cases": [c for c in article14.list_cases(session, actor, kb, True, _moment(as_of, now))
                  if c["product"] == product.name],
    }


def _moment(as_of: dt.date, now: dt.datetime | None) -> dt.datetime:
    """The clock for Article 14 deadlines: now when comparing as of today, else that day's end."""
    if now is not None:
        return now
    if as_of == dt.date.today():
        return dt.datetime.now(dt.UTC)
    return dt.datetime.combine(as_of, dt.time(23, 59, 59), dt.UTC)


def _evidence(assessments: Any) -> list[dict[str, Any]]:
    """The distinct evidence items linked to the current assessments' requirements."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for data in assessments:
        for row in data.rows:
            for item in row.evidence:
                seen[(item["title"], item["sha256"], item["url"], item["version"])] = item
    return list(seen.values())


def _vulnerabilities(session: Session, actor: Actor, product: Product,
                     release: Release | None) -> dict[str, Any]:
    from prodsec.workspace.vulnerabilities import list_findings, release_sbom

    if release is None:
        return {"sbom": None, "findings": []}
    record = release_sbom(session, actor, release.id)
    return {"sbom": None if record is None else {"filename": record.filename,
                                                 "format": record.format,
                                                 "spec_version": record.spec_version,
                                                 "quality": record.quality},
            "findings": list_findings(session, actor, product.id, release.version_label)}


# ---- rows --------------------------------------------------------------------------------------


def _row(key: str, label: str, columns: list[dict[str, Any]],
         make: Callable[[dict[str, Any]], Cell]) -> dict[str, Any]:
    return {"key": key, "label": label, "cells": [make(c) for c in columns]}


def _aspects(kb: KnowledgeBase, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"aspect": "identity", "title": "Identity", "rows": _identity(columns)},
        {"aspect": "promise", "title": "Promise: what applies and is claimed",
         "rows": _promise(kb, columns)},
        {"aspect": "proof", "title": "Proof: assessments, evidence, documents",
         "rows": _proof(columns)},
        {"aspect": "vulnerabilities", "title": "Vulnerability handling",
         "rows": _handling(columns)},
    ]


def _release_source(c: dict[str, Any]) -> str:
    release = c["release"]
    return f"release {release.version_label}" if release else "releases"


def _identity(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def profile(key: str) -> Callable[[dict[str, Any]], Cell]:
        def make(c: dict[str, Any]) -> Cell:
            value = c["product"].profile.get(key)
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value) or None
            return cell(value if value not in (None, "") else ABSENT, "product profile")
        return make

    def latest(c: dict[str, Any]) -> Cell:
        release = c["release"]
        if release is None:
            return cell(ABSENT, "releases")
        placed = release.placed_on_market
        return cell(release.version_label, "releases (latest placed on the market)",
                    f"placed on the market {placed.isoformat()}" if placed else None)

    return [_row("name", "Name", columns, lambda c: cell(c["product"].name, "product profile")),
            _row("manufacturer", "Manufacturer", columns, profile("manufacturer")),
            _row("markets", "Markets", columns, profile("markets")),
            _row("latest_release", "Latest release", columns, latest)]


def _promise(kb: KnowledgeBase, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    source = f"applicability engine (knowledge base {kb.version})"
    shown = [r for r in kb.regulations
             if any(r in c["verdicts"] and c["verdicts"][r].status != "not-applicable"
                    for c in columns)]

    def instrument(reg: str) -> Callable[[dict[str, Any]], Cell]:
        def make(c: dict[str, Any]) -> Cell:
            verdict = c["verdicts"].get(reg)
            if verdict is None:
                return cell("not applicable", source)
            note = f"applies from {verdict.applies_from}" if verdict.applies_from else None
            return cell(verdict.status, source, note)
        return make

    def cra(attribute: str) -> Callable[[dict[str, Any]], Cell]:
        def make(c: dict[str, Any]) -> Cell:
            verdict = c["verdicts"].get(CRA)
            if verdict is None or not verdict.binds:
                return cell("not applicable", source)
            value = getattr(verdict, attribute)
            detail = verdict.assessment_detail if attribute == "assessment" else None
            note = detail if detail and detail != value else None
            return cell(value or "—", source, note)
        return make

    def support(c: dict[str, Any]) -> Cell:
        release = c["release"]
        if release is None or release.support_end is None:
            return cell(ABSENT, _release_source(c))
        return cell(release.support_end.isoformat(), _release_source(c),
                    release.support_rationale or None)

    def labels(c: dict[str, Any]) -> Cell:
        eligible = [r for r, v in c["verdicts"].items()
                    if kb.regulations.get(r, {}).get("kind") == "label" and v.binds]
        return cell(", ".join(sorted(eligible)) or "none", source,
                    "eligible; claims of a label are not recorded in the workspace")

    rows = [_row(f"instrument:{r}", kb.regulations[r].get("short_name") or r, columns,
                 instrument(r)) for r in shown]
    return [*rows, _row("cra_class", "CRA product class", columns, cra("category")),
                   _row("cra_route", "CRA conformity route", columns, cra("assessment")),
                   _row("support_end", "End of security support", columns, support),
                   _row("labels", "Labels", columns, labels)]


def _proof(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    instruments = sorted({r for c in columns for r in c["gaps"]})

    def progress(reg: str) -> Callable[[dict[str, Any]], Cell]:
        def make(c: dict[str, Any]) -> Cell:
            gap = c["gaps"].get(reg)
            if gap is None:
                return cell("not assessed", "assessments")
            open_ = gap["total"] - gap["done"]
            note = f"{open_} open" + (", assessment stale" if gap["stale"] else "")
            return cell(f"{gap['done']}/{gap['total']}", "current assessment (gaps)", note)
        return make

    def evidence(c: dict[str, Any]) -> Cell:
        return cell(len(c["evidence"]), "evidence linked to requirement statuses")

    def expired(c: dict[str, Any]) -> Cell:
        day = c["as_of"].isoformat()
        return cell(sum(1 for e in c["evidence"] if e["expires_on"] and e["expires_on"] < day),
                    "evidence expiry dates")

    def documents(c: dict[str, Any]) -> Cell:
        latest: dict[str, dict[str, Any]] = {}
        for record in c["documents"]:  # newest first
            latest.setdefault(record["kind"], record)
        if not latest:
            return cell("none", "document generation records")
        stale = sorted(k for k, r in latest.items() if r.get("stale"))
        return cell(", ".join(sorted(latest)), "document generation records",
                    f"stale: {', '.join(stale)}" if stale else "all current")

    def declaration(c: dict[str, Any]) -> Cell:
        records = [r for r in c["documents"] if r["kind"] in DECLARATIONS]
        final = [r for r in records if not r["draft"]]
        if final:
            note = "stale" if final[0].get("stale") else "current"
            return cell("yes", "document generation records", f"{final[0]['kind']}, {note}")
        return cell("draft only" if records else "no", "document generation records")

    rows = [_row(f"progress:{r}", f"{r}: met or not applicable / total", columns, progress(r))
            for r in instruments]
    return [*rows, _row("evidence", "Evidence items", columns, evidence),
                   _row("evidence_expired", "Evidence expired", columns, expired),
                   _row("documents", "Documents generated", columns, documents),
                   _row("eu_declaration", "EU declaration of conformity", columns, declaration)]


def _handling(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def sbom(c: dict[str, Any]) -> Cell:
        if c["release"] is None:
            return cell("no release", "releases")
        record = c["sbom"]
        if record is None:
            return cell("no", _release_source(c))
        return cell("yes", _release_source(c),
                    f"{record['filename']} ({record['format']} {record['spec_version']})")

    def quality(key: str, note: Callable[[dict[str, Any]], str | None] | None = None
                ) -> Callable[[dict[str, Any]], Cell]:
        def make(c: dict[str, Any]) -> Cell:
            if c["sbom"] is None:
                return cell("—", _release_source(c))
            report = c["sbom"]["quality"]
            return cell(report.get(key), f"SBOM quality report ({_release_source(c)})",
                        note(report) if note else None)
        return make

    def states(group: str) -> Callable[[dict[str, Any]], Cell]:
        def make(c: dict[str, Any]) -> Cell:
            if c["sbom"] is None:
                return cell("—", _release_source(c))
            counts = Counter(STATE_GROUPS.get(f["state"], f["state"]) for f in c["findings"])
            return cell(counts[group], f"findings and VEX ({_release_source(c)})")
        return make

    def total(c: dict[str, Any]) -> Cell:
        if c["sbom"] is None:
            return cell("—", _release_source(c))
        return cell(len(c["findings"]), f"findings ({_release_source(c)})")

    def exploited(c: dict[str, Any]) -> Cell:
        if c["sbom"] is None:
            return cell("—", _release_source(c))
        return cell(sum(1 for f in c["findings"] if f["known_exploited"]),
                    f"known-exploited catalogue ({_release_source(c)})")

    def cvss(c: dict[str, Any]) -> Cell:
        scored = [f["cvss"] for f in c["findings"] if f["cvss"]]
        if not scored:
            return cell("—", f"findings ({_release_source(c)})")
        top = max(scored, key=lambda s: s["base_score"])
        return cell(top["base_score"], f"findings ({_release_source(c)})",
                    top.get("base_severity"))

    def cases(c: dict[str, Any]) -> Cell:
        overdue = sum(1 for case in c["cases"] for s in case["stages"] if s["status"] == "overdue")
        return cell(len(c["cases"]), "CRA Article 14 cases",
                    f"{overdue} overdue stage{'s' if overdue != 1 else ''}")

    def minimum(report: dict[str, Any]) -> str:
        return "NTIA minimum met" if report.get("ntia_minimum_met") else "NTIA minimum not met"

    return [_row("sbom", "SBOM of the latest release", columns, sbom),
            _row("components", "Components", columns, quality("components")),
            _row("sbom_quality", "SBOM quality (NTIA score)", columns,
                 quality("ntia_score", minimum)),
            _row("findings", "Findings", columns, total),
            _row("findings_affected", "Findings affected (exploitable)", columns,
                 states("affected")),
            _row("findings_in_triage", "Findings in triage", columns, states("in triage")),
            _row("findings_not_affected", "Findings not affected", columns,
                 states("not affected")),
            _row("findings_fixed", "Findings fixed", columns, states("fixed")),
            _row("known_exploited", "Known exploited", columns, exploited),
            _row("highest_cvss", "Highest CVSS base score", columns, cvss),
            _row("csaf_advisories", "CSAF advisories authored", columns,
                 lambda c: cell(c["csaf"], "CSAF documents")),
            _row("article14_open", "Open CRA Article 14 cases", columns, cases)]


def display(value: Cell) -> str:
    """A cell as text: the value (or "—") with its note in parentheses."""
    shown = "—" if value["value"] is None else str(value["value"])
    return f"{shown} ({value['note']})" if value.get("note") else shown
