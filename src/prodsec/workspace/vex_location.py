"""A stable place per release where customers pull the current VEX.

``GET /api/v1/products/{id}/releases/{release}/vex?format=...`` answers the release's triage as
it is now. To make that URL something a customer's tooling can poll, the answer carries:

- an ETag that changes only when what the VEX says changes. The documents carry the moment
  they were made (CycloneDX ``serialNumber`` and ``metadata.timestamp``, CSAF ``tracking``
  dates, OpenVEX's fallback ``timestamp``), so the tag is the SHA-256 of the document without
  those fields, and weak (``W/``): two answers with the same tag say the same thing, byte for
  byte they may differ. ``If-None-Match`` with the tag answers 304 with no body.
- a file name that does not change from one pull to the next: for CSAF, the name CSAF 5.1 gives
  the stable tracking id ``<product>-<release>-vex`` (lower case, every character but
  ``+-a-z0-9`` as ``_``), which is also its name in a CSAF provider's tree
  (``<tlp>/<year>/<name>``, CSAF 7.1.11); for the other formats ``<product>-<release>`` and
  the format's suffix.
- for CSAF, a version that means something: a consumer treats the same tracking id and version
  as the same document, so each content the location hands out is a stored revision
  (``ReleaseVexRevision``: the SHA-256 the ETag is made from, and when it was first handed
  out). The same content answers with the same ``version`` and ``current_release_date``;
  changed content with the next version and a new ``revision_history`` entry (CSAF 2.0
  3.2.1.12).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prodsec.db.models import ReleaseVexRevision, utcnow
from prodsec.errors import ServiceBusy
from prodsec.workspace.context import Actor

SUFFIX = {"cyclonedx": "vex.cdx.json", "openvex": "openvex.json"}


def tracking_id(product: str, release: str) -> str:
    """The CSAF VEX's tracking id for a release: the same for every export of that release
    (CSAF 2.0 3.2.1.12.4 lets the publisher choose it; a new export is a new version of it)."""
    return f"{_slug(product)}-{_slug(release)}-vex"


def file_name(product: str, release: str, fmt: str) -> str:
    """The release's VEX file name in ``fmt`` (CSAF: the CSAF 5.1 name of its tracking id)."""
    if fmt == "csaf":
        return re.sub(r"[^+\-a-z0-9]+", "_", tracking_id(product, release).lower()) + ".json"
    return f"{_slug(product)}-{_slug(release)}.{SUFFIX[fmt]}"


#: The address customers reach prodsec's API at (``https://prodsec.example.com``): the base
#: of the CSAF VEX's ``self`` reference when the export is not made for an HTTP request.
PUBLIC_URL_ENV = "PRODSEC_PUBLIC_URL"


def public_base(request_base: str | None = None) -> str | None:
    """The base URL of the location: ``PRODSEC_PUBLIC_URL`` when set (behind a proxy the
    request's own address is not the public one), else the request's, else none (the CLI)."""
    base = os.environ.get(PUBLIC_URL_ENV, "").strip() or request_base or ""
    return base.rstrip("/") or None


def location_url(base: str, product_id: str, product: str, release: str) -> str:
    """Where the API serves the release's current CSAF VEX under its own file name
    (``GET …/releases/{release}/vex/{file}``): the document's ``self`` reference. CSAF 2.0
    3.2.1.8.2 ``self``: the document's own URL; 6.2.11: it ends with the CSAF 5.1 file name.
    Not the provider tree's ``<tlp>/<yyyy>/<file>``, where this document is never written."""
    return (f"{base}/api/v1/products/{quote(product_id, safe='')}/releases/"
            f"{quote(release, safe='')}/vex/{file_name(product, release, 'csaf')}")


def with_self(doc: dict[str, Any], url: str | None) -> dict[str, Any]:
    """``doc`` with its ``self`` reference at ``url``, or without one when no URL is known (a
    reference to where the document is not would be worse than none)."""
    meta = doc["document"]
    others = [r for r in meta.get("references", []) if r.get("category") != "self"]
    mine = [{"category": "self", "summary": "Canonical URL of this document", "url": url}]
    return {**doc, "document": {**meta, "references": (mine if url else []) + others}}


def etag(doc: dict[str, Any], fmt: str) -> str:
    """A weak ETag over what the document says, not when it was made."""
    return f'W/"{content_sha256(doc, fmt)[:32]}"'


def content_sha256(doc: dict[str, Any], fmt: str) -> str:
    """SHA-256 of what the document says: without the moments it was made (and, for CSAF, its
    tracking), keys sorted."""
    body = json.dumps(_without_moments(doc, fmt), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


#: Revisions tried when concurrent pulls keep recording the same version first.
RECORD_ATTEMPTS = 5


def versioned_csaf(session: Session, actor: Actor, release_id: str,
                   doc: dict[str, Any]) -> dict[str, Any]:
    """The release's CSAF VEX with its tracking from the stored revisions: a new revision is
    recorded when the content differs from the latest one. Any member who may read the VEX
    records it: the revision is a fact about what was handed out, not an edit.

    The pull is a GET, which a client may repeat and must never be told to change (RFC 9110
    9.2.1, 15.5.10): when a concurrent pull recorded the version first, the latest revision
    is read again and served if it says what this one says, else the next version is tried;
    only after ``RECORD_ATTEMPTS`` collisions is the answer a 503 with Retry-After."""
    digest = content_sha256(doc, "csaf")
    for _ in range(RECORD_ATTEMPTS):
        revisions = _revisions(session, actor, release_id)
        if revisions and revisions[-1].content_sha256 == digest:
            return _with_tracking(doc, revisions)
        row = _record(session, actor, release_id,
                      revisions[-1].version + 1 if revisions else 1, digest)
        if row is not None:
            return _with_tracking(doc, [*revisions, row])
    raise ServiceBusy("the release's VEX was being versioned by other requests at the same "
                      "moment: ask again")


def _revisions(session: Session, actor: Actor, release_id: str) -> list[ReleaseVexRevision]:
    return list(session.scalars(select(ReleaseVexRevision).where(
        ReleaseVexRevision.org_id == actor.org_id, ReleaseVexRevision.release_id == release_id)
        .order_by(ReleaseVexRevision.version).execution_options(populate_existing=True)))


def _record(session: Session, actor: Actor, release_id: str, version: int,
            digest: str) -> ReleaseVexRevision | None:
    """Store the next revision, or None when a concurrent request stored that version first
    (its savepoint is rolled back; the caller reads again)."""
    row = ReleaseVexRevision(org_id=actor.org_id, release_id=release_id, version=version,
                             content_sha256=digest, released_at=utcnow().replace(microsecond=0))
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def _with_tracking(doc: dict[str, Any], revisions: list[ReleaseVexRevision]) -> dict[str, Any]:
    """``doc`` with ``/document/tracking`` saying which revision it is: version, first and
    current release dates, the generator's date and one history entry per revision."""
    first, latest = revisions[0], revisions[-1]
    history = [{"date": _stamp(r.released_at), "number": str(r.version),
                "summary": "Initial version." if r.version == 1 else
                f"Revision {r.version}: the release's triage or findings changed."}
               for r in revisions]
    tracking = dict(doc["document"]["tracking"])
    tracking.update({"version": str(latest.version), "revision_history": history,
                     "initial_release_date": _stamp(first.released_at),
                     "current_release_date": _stamp(latest.released_at),
                     "generator": {**tracking.get("generator", {}),
                                   "date": _stamp(latest.released_at)}})
    return {**doc, "document": {**doc["document"], "tracking": tracking}}


def _stamp(moment: Any) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` (SQLite hands back naive UTC, PostgreSQL aware)."""
    import datetime as dt

    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return str(aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (or is ``*``), weak comparison."""
    if not if_none_match:
        return False
    wanted = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in wanted or tag.removeprefix("W/") in wanted


def _without_moments(doc: dict[str, Any], fmt: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(doc))
    if fmt == "cyclonedx":
        copy.pop("serialNumber", None)
        copy.get("metadata", {}).pop("timestamp", None)
    elif fmt == "openvex":
        copy.pop("timestamp", None)
        copy.pop("@id", None)  # derived from the content without the timestamp
    elif fmt == "csaf":
        document = copy.get("document", {})
        document.pop("tracking", None)
        document["references"] = [r for r in document.get("references", [])
                                  if r.get("category") != "self"]
    return dict(copy)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"
