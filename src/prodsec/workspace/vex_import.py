"""A supplier's VEX (CycloneDX VEX, OpenVEX or CSAF VEX) applied to a product's triage.

Each statement must say something about *this* product, or it would silence a vulnerability
for the wrong thing: its product is either one of the product's releases (prodsec's own product
identifier, ``vex.release_purl``; then its subcomponents must be in that release's SBOM) or a
component of the product's SBOM (a supplier speaking about the library it supplies). A
statement naming anything else, a component not in the SBOM, or a status or justification
outside the vocabulary is refused with its reason and the rest imported — all in the caller's
one transaction, so a failure half-way stores nothing.

An imported statement never replaces or outranks a decision we made (``source`` ``manual``):
one with our decision at exactly its scope is not stored, one at a narrower scope is stored but
ranks below ours (``vex_decisions.effective``); where they disagree the import is reported as
a conflict (summary ``conflicts``, audit event ``vex.import-conflict``, and ``vex_conflicts`` on
the findings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import Release, SbomComponent, SbomRecord, VexStatement
from prodsec.formats.vex import Statement, parse_vex
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.products import get_product
from prodsec.workspace.vex import organisation, release_purl
from prodsec.workspace.vex_decisions import imported, statements_for
from prodsec.workspace.vex_statements import (
    normalise_state,
    set_statement,
    statement_view,
    validate_decision,
)


@dataclass
class Known:
    """What the workspace knows of the product: its releases' identifiers and SBOM purls."""

    name: str
    product_purl: str
    releases: dict[str, str] = field(default_factory=dict)  # release purl → version label
    purls: dict[str, set[str]] = field(default_factory=dict)  # version label → SBOM purls
    target: str | None = None  # the release the import is for (None: every release)

    def sbom(self, label: str | None) -> set[str]:
        """The purls of one release's SBOM, or of every release's."""
        if label is not None:
            return self.purls.get(label, set())
        return set().union(*self.purls.values()) if self.purls else set()


def known(session: Session, actor: Actor, product_ref: str, release_label: str | None) -> Known:
    """The product's identifiers and SBOM purls, organisation-scoped (404 for another's)."""
    from prodsec.workspace.vulnerabilities import get_release

    product = get_product(session, actor, product_ref)
    if release_label:
        get_release(session, actor, product.id, release_label)
    maker = organisation(session, actor)
    out = Known(product.name, release_purl(maker, product.name, None), target=release_label)
    rows = session.execute(
        select(Release.version_label, SbomComponent.purl)
        .join(SbomRecord, SbomRecord.release_id == Release.id, isouter=True)
        .join(SbomComponent, SbomComponent.sbom_id == SbomRecord.id, isouter=True)
        .where(Release.org_id == actor.org_id, Release.product_id == product.id))
    for label, purl in rows:
        out.releases[release_purl(maker, product.name, label)] = label
        bucket = out.purls.setdefault(label, set())
        if purl:
            bucket.add(purl)
    return out


def resolve(st: Statement, k: Known) -> tuple[str | None, str | None] | str:
    """(release label or None for every release, component purl or None for the product) the
    statement applies to — or why it is refused."""
    release = k.target
    if st.product is not None and (st.product in k.releases or st.product == k.product_purl):
        named = k.releases.get(st.product)
        if named is not None and k.target is not None and named != k.target:
            return f"it is about {k.name} {named}, not {k.target} (the release imported into)"
        release = named or k.target
        if st.component is None:
            return release, None
        if st.component not in k.sbom(release):
            return (f"component {st.component} is not in the SBOM of {k.name}"
                    f"{' ' + release if release else ''}")
        return release, st.component
    where = f"{k.name} {k.target}" if k.target else f"any release of {k.name}"
    if st.product is not None and st.product not in k.sbom(release):
        return (f"product {st.product} is unknown here: neither {k.name} ({k.product_purl}@…) "
                f"nor a component in the SBOM of {where}")
    component = st.component or st.product
    if component is None:
        return "the statement names no product and no component"
    if component not in k.sbom(release):
        return f"component {component} is not in the SBOM of {where}"
    return release, component


def refusal(st: Statement) -> str | None:
    """Why the stored vocabulary refuses the statement (or its format's rules did), or None."""
    if st.problem:
        return st.problem
    if not st.vulnerability or len(st.vulnerability) > 128:
        return "the vulnerability id is empty or longer than 128 characters"
    if st.component is not None and len(st.component) > 2000:
        return "the component purl is longer than 2000 characters"
    try:
        validate_decision(normalise_state(st.state), st.justification, st.responses, st.detail)
    except ValidationFailed as exc:
        return str(exc)
    return None


def import_summary(session: Session, actor: Actor, product_ref: str, data: bytes, source: str,
                   release_label: str | None = None,
                   parsed: list[Statement] | None = None) -> dict[str, Any]:
    """Apply the document's statements to the product (one release or, where a statement names
    none, every release); each refused statement is listed with its reason. A malformed
    document stores nothing (``VexFormatError``). ``parsed`` is ``parse_vex(data, source)`` when
    the caller ran it already (the server parses before its write transaction begins)."""
    actor.require("editor")
    if parsed is None:
        parsed = parse_vex(data, source)
    k = known(session, actor, product_ref, release_label)
    product = get_product(session, actor, product_ref)
    refused: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    for st in parsed:
        target = refusal(st) or resolve(st, k)
        if isinstance(target, str):
            refused.append({"vulnerability": st.vulnerability, "product": st.product,
                            "component": st.component, "where": st.where, "reason": target})
            continue
        release, component = target
        ours = _ours(session, actor, product.id, st, release, component)
        clash = [r for r in ours if (r.state, r.justification)
                 != (normalise_state(st.state), st.justification)]
        if clash:
            conflicts.append({"vulnerability": st.vulnerability, "component": component,
                              "release": release, "where": st.where,
                              "state": normalise_state(st.state),
                              "justification": st.justification,
                              "ours": [statement_view(r) for r in clash]})
        if any(_same_scope(r, release_key(session, actor, product.id, release), component)
               for r in ours):
            continue  # never replace our own decision; the conflict (if any) is reported
        set_statement(session, actor, product.id, st.vulnerability, st.state,
                      justification=st.justification, responses=st.responses, detail=st.detail,
                      release_label=release, component=component,
                      source=f"import:{source}"[:300])
    if conflicts:
        audit.record(session, actor, "vex.import-conflict", "product", product.id, None,
                     {"source": source, "conflicts": conflicts})
    return {"source": source, "product_id": product.id, "release": release_label,
            "statements": len(parsed), "imported": len(parsed) - len(refused),
            "refused": refused, "conflicts": conflicts}


def release_key(session: Session, actor: Actor, product_id: str, label: str | None) -> str:
    """The stored release key of a label ("" for every release)."""
    from prodsec.workspace.products import get_release_by_label

    return get_release_by_label(session, actor, product_id, label).id if label else ""


def _ours(session: Session, actor: Actor, product_id: str, st: Statement, release: str | None,
          component: str | None) -> list[VexStatement]:
    """Our own (manual) decisions on the same vulnerability whose scope overlaps the imported
    statement's: the release or all releases, the component or all components."""
    key = release_key(session, actor, product_id, release)
    return [r for r in statements_for(session, actor, product_id)
            if not imported(r) and r.vulnerability == st.vulnerability
            and (not key or r.release_key in ("", key))
            and (not component or r.component_key in ("", component))]


def _same_scope(row: VexStatement, key: str, component: str | None) -> bool:
    return row.release_key == key and row.component_key == (component or "")
