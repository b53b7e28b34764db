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
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

SUFFIX = {"cyclonedx": "vex.cdx.json", "openvex": "openvex.json"}


def tracking_id(product: str, release: str) -> str:
    """The CSAF VEX's tracking id for a release: the same for every export of that release
    (CSAF 3.2.1.12.6 lets the publisher choose it; a new export is a new version of it)."""
    return f"{_slug(product)}-{_slug(release)}-vex"


def file_name(product: str, release: str, fmt: str) -> str:
    """The release's VEX file name in ``fmt`` (CSAF: the CSAF 5.1 name of its tracking id)."""
    if fmt == "csaf":
        return re.sub(r"[^+\-a-z0-9]+", "_", tracking_id(product, release).lower()) + ".json"
    return f"{_slug(product)}-{_slug(release)}.{SUFFIX[fmt]}"


def etag(doc: dict[str, Any], fmt: str) -> str:
    """A weak ETag over what the document says, not when it was made."""
    body = json.dumps(_without_moments(doc, fmt), sort_keys=True, ensure_ascii=False)
    return f'W/"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'


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
