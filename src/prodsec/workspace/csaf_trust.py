"""What a CSAF ingest trusts, and what it remembers having trusted (review h18r H1, H2).

- **TLP** (CSAF 2.0 3.2.1.5.2, FIRST TLP 1.0 as CSAF 2.0 names it): a TLP:AMBER or RED
  document is ingested only when the user accepts that label (``accept_tlp``, the same service
  parameter for the CLI, the API and the web), and a draft (``/document/tracking/status``
  ``draft``, 3.2.1.12.7) never. Each ingested document's label is stored with it, and what a
  TLP:GREEN, AMBER or RED document said stays out of any export labelled less strictly
  (``withheld``): OpenVEX and CycloneDX VEX carry no label and count as public (TLP:WHITE).
- **One version, one document** (3.2.1.8 publisher namespace, 3.2.1.12.4 id, 3.2.1.12.8
  version identify it): the SHA-256 of each (namespace, id, version) is stored on first ingest;
  other bytes under the same version are refused, the error naming both hashes.
- **The signing key** is pinned per publisher namespace on first use, per organisation: a
  document signed by another key (or not signed at all, once a key is pinned) is refused unless
  the admin names the key explicitly (``--key``), which re-pins it and is audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import CsafPublisherKey, IngestedCsaf
from prodsec.errors import ValidationFailed
from prodsec.formats import csaf_tree
from prodsec.workspace import audit
from prodsec.workspace.context import Actor

#: how strictly a label restricts sharing (None: unlabeled, treated as public like WHITE)
RANK = {None: 0, "WHITE": 0, "GREEN": 1, "AMBER": 2, "RED": 3}
#: the labels ingested without asking: public, and GREEN (shareable within the community)
DEFAULT_ACCEPTED = frozenset({None, "WHITE", "GREEN"})
ACCEPT_CHOICES = ("AMBER", "RED")
SOURCE_PREFIX = "import:csaf:"


def accepted_labels(accept_tlp: str | None) -> frozenset[str | None]:
    """The TLP labels an ingest takes: the default ones, up to ``accept_tlp`` (RED includes
    AMBER)."""
    if accept_tlp is None or accept_tlp == "":
        return DEFAULT_ACCEPTED
    label = accept_tlp.upper()
    if label not in ACCEPT_CHOICES:
        raise ValidationFailed("accept_tlp", f"{accept_tlp!r}: expected AMBER or RED")
    return DEFAULT_ACCEPTED | {t for t in ACCEPT_CHOICES if RANK[t] <= RANK[label]}


def tlp_problems(doc: dict[str, Any], accepted: frozenset[str | None]) -> list[str]:
    """Why the document's status or label keeps it out (a draft; a label not accepted)."""
    meta = doc["document"]
    problems = []
    if meta["tracking"].get("status") == "draft":
        problems.append("/document/tracking/status is draft: a draft is not a published "
                        "advisory and is not ingested (CSAF 2.0 3.2.1.12.7)")
    label = csaf_tree.tlp_of(doc)
    if label not in accepted:
        problems.append(f"/document/distribution/tlp/label is TLP:{label}: not ingested without "
                        f"accepting it (--accept-tlp {label}; CSAF 2.0 3.2.1.5.2, FIRST TLP)")
    return problems


def _ingested(session: Session, actor: Actor, namespace: str, tracking_id: str,
              version: str) -> IngestedCsaf | None:
    return session.scalars(select(IngestedCsaf).where(
        IngestedCsaf.org_id == actor.org_id, IngestedCsaf.namespace == namespace,
        IngestedCsaf.tracking_id == tracking_id, IngestedCsaf.version == version)).first()


def identity(doc: dict[str, Any]) -> tuple[str, str, str]:
    """(publisher namespace, tracking id, version): what names one CSAF document."""
    meta = doc["document"]
    return (str(meta["publisher"]["namespace"]), str(meta["tracking"]["id"]),
            str(meta["tracking"]["version"]))


def version_problems(session: Session, actor: Actor, doc: dict[str, Any],
                     sha256: str) -> list[str]:
    """Other bytes under a (namespace, id, version) ingested before: refused, both hashes
    named (a publisher changes a document by giving it a new version, 3.2.1.12.8)."""
    namespace, tracking_id, version = identity(doc)
    earlier = _ingested(session, actor, namespace, tracking_id, version)
    if earlier is None or earlier.sha256 == sha256:
        return []
    return [f"{namespace} {tracking_id} version {version} was ingested with SHA-256 "
            f"{earlier.sha256}; this document has SHA-256 {sha256}: the same version with "
            "other content is refused (CSAF 2.0 3.2.1.12.4, 3.2.1.12.8)"]


def key_problems(session: Session, actor: Actor, namespace: str, signed_by: str | None,
                 explicit_key: bool) -> list[str]:
    """Whether the signer matches the key pinned for the publisher namespace. An explicit
    ``--key`` overrides the pin (``pin`` re-pins); nothing pinned yet accepts any signer."""
    pinned = _pin(session, actor, namespace)
    if pinned is None or explicit_key or signed_by == pinned.fingerprint:
        return []
    said = f"signed by {signed_by}" if signed_by else "not signed"
    return [f"{said}, but {namespace}'s documents were first ingested signed by "
            f"{pinned.fingerprint} (pinned): give the publisher's key with --key to trust a "
            "new one"]


def _pin(session: Session, actor: Actor, namespace: str) -> CsafPublisherKey | None:
    return session.scalars(select(CsafPublisherKey).where(
        CsafPublisherKey.org_id == actor.org_id,
        CsafPublisherKey.namespace == namespace)).first()


def remember(session: Session, actor: Actor, doc: dict[str, Any], sha256: str,
             signed_by: str | None) -> None:
    """Store the document's hash and label, and pin (or re-pin, audited) its signer."""
    namespace, tracking_id, version = identity(doc)
    if _ingested(session, actor, namespace, tracking_id, version) is None:
        session.add(IngestedCsaf(org_id=actor.org_id, namespace=namespace,
                                 tracking_id=tracking_id, version=version, sha256=sha256,
                                 tlp=csaf_tree.tlp_of(doc)))
    if signed_by is None:
        session.flush()
        return
    pinned = _pin(session, actor, namespace)
    if pinned is None:
        session.add(CsafPublisherKey(org_id=actor.org_id, namespace=namespace,
                                     fingerprint=signed_by))
    elif pinned.fingerprint != signed_by:
        audit.record(session, actor, "csaf.key_repin", "organisation", actor.org_id,
                     {"namespace": namespace, "fingerprint": pinned.fingerprint},
                     {"namespace": namespace, "fingerprint": signed_by})
        pinned.fingerprint = signed_by
    session.flush()


def source_labels(session: Session, actor: Actor) -> dict[str, str]:
    """Statement source (``import:csaf:<tracking id>``) → the strictest TLP label an ingested
    document of that tracking id carried, for the labelled ones only."""
    out: dict[str, str] = {}
    for tracking_id, label in session.execute(select(
            IngestedCsaf.tracking_id, IngestedCsaf.tlp).where(
            IngestedCsaf.org_id == actor.org_id, IngestedCsaf.tlp.is_not(None))):
        key = SOURCE_PREFIX + tracking_id
        if RANK.get(label, 3) > RANK.get(out.get(key), 0):
            out[key] = str(label)
    return out


def withheld(session: Session, actor: Actor, findings: list[dict[str, Any]],
             label: str | None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The findings an export labelled ``label`` may carry, and those left out: a finding
    whose decision or whose advisory came from a document labelled more strictly."""
    labels = source_labels(session, actor)
    keep, left_out = [], []
    for f in findings:
        source = _strict_source(f, labels, RANK[label])
        if source is None:
            keep.append(f)
        else:
            left_out.append({"vulnerability": f["vulnerability"], "component": f["component"],
                             "release": f["release"], "source": source,
                             "tlp": labels[source]})
    return keep, left_out


def _strict_source(finding: dict[str, Any], labels: dict[str, str], limit: int) -> str | None:
    """The source of the finding stricter than ``limit``: its decision's, or the document its
    advisory (``<tracking id>:<vulnerability>``) was made from."""
    decision = finding.get("decision_source") or ""
    if RANK.get(labels.get(decision), 0) > limit:
        return str(decision)
    for source, label in labels.items():
        if RANK.get(label, 3) > limit and finding["vulnerability"].startswith(
                source.removeprefix(SOURCE_PREFIX) + ":"):
            return source
    return None


def left_out_warnings(left_out: list[dict[str, str]]) -> list[str]:
    """One line per finding an export left out, for every face."""
    return [f"{item['vulnerability']} on {item['component']} ({item['release']}) left out: it "
            f"comes from {item['source'].removeprefix('import:')}, labelled TLP:{item['tlp']}, "
            "stricter than this export (CSAF 2.0 3.2.1.5.2)" for item in left_out]
