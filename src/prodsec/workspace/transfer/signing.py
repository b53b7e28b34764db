"""Signatures of exports and backup manifests (HMAC under a server key)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodsec.workspace import keys
from prodsec.workspace.keys import SecretKey
from prodsec.workspace.transfer.common import SignatureError


@dataclass(frozen=True)
class Provenance:
    """What the import could establish about where the document came from."""

    verified: bool  # the signature matched under the key used
    key_id: str | None  # the key id the document claims to be signed with
    trust_unsigned: bool

    def to_dict(self) -> dict[str, Any]:
        return {"verified": self.verified, "key_id": self.key_id,
                "trust_unsigned": self.trust_unsigned}


def signed_content(document: dict[str, Any]) -> bytes:
    """What the signature covers: the canonical JSON of the document without the signature and
    without inline blob content (each blob is bound by its SHA-256, checked on import)."""
    body = {k: v for k, v in document.items() if k != "signature"}
    if isinstance(body.get("blobs"), list):
        body["blobs"] = [{k: v for k, v in blob.items() if k != "content_base64"}
                         if isinstance(blob, dict) else blob for blob in body["blobs"]]
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii")


def sign_document(document: dict[str, Any], key: SecretKey) -> None:
    document.pop("signature", None)
    document["signature"] = {"algorithm": keys.ALGORITHM, "key_id": key.key_id,
                             "value": key.mac(signed_content(document))}


def verify_signature(path: Path, member: str, document: dict[str, Any], key: SecretKey,
                     trust_unsigned: bool, hint: str) -> Provenance:
    """A document edited after it was signed is always refused; one that is unsigned or signed
    with a key we do not have only with ``trust_unsigned``."""
    signature, where = document.get("signature"), f"{path}: {member}"
    if not (isinstance(signature, dict) and signature.get("algorithm") == keys.ALGORITHM
            and isinstance(signature.get("key_id"), str)
            and isinstance(signature.get("value"), str)):
        if trust_unsigned:
            return Provenance(False, None, True)
        raise SignatureError(f"{where}$.signature: not signed with {keys.ALGORITHM}; {hint}")
    if signature["key_id"] != key.key_id:
        if trust_unsigned:
            return Provenance(False, signature["key_id"], True)
        raise SignatureError(f"{where}$.signature: signed with key id {signature['key_id']}, "
                             f"but the key in use ({key.source}) has id {key.key_id}; {hint}")
    if not key.verify(signed_content(document), signature["value"]):
        raise SignatureError(f"{where}$.signature: does not match the content: the file was "
                             "edited or damaged after it was signed; nothing was written")
    return Provenance(True, key.key_id, trust_unsigned)
