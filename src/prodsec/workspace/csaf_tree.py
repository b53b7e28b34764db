"""The organisation's published CSAF advisories as a static trusted-provider tree (CSAF 2.0
7.1), ready to copy to any web server, and the check of such a tree.

What goes in: every interim or final document, as its current revision's exact published bytes
(``csaf_author.document_bytes``: the bytes whose SHA-256 the audit trail holds). By default only
TLP:WHITE (and unlabeled) ones: TLP:GREEN, AMBER and RED documents are left out and named in the
answer (7.1.5: AMBER/RED access protected; GREEN not on a publicly accessible channel). With
``access_protected`` they are written too, each label in its own folder (``green/``,
``amber/``, ``red/``) that the answer names as one to serve only behind access control.
The tree is written into a temporary folder beside ``OUT_DIR`` and renamed into place,
so a failure (a bad key, a full disk) leaves ``OUT_DIR`` as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import CsafDocument, utcnow
from prodsec.errors import CsafTreeError
from prodsec.formats import csaf_tree
from prodsec.workspace import audit
from prodsec.workspace.context import Actor


def published(session: Session, actor: Actor, access_protected: bool = False
              ) -> tuple[list[bytes], list[dict[str, str]]]:
    """The published documents' bytes the tree holds, and those left out (tracking id and TLP
    label: not TLP:WHITE or unlabeled, and ``access_protected`` not asked for), in tracking-id
    order."""
    from prodsec.workspace.csaf_author import PUBLISHED, document_bytes

    rows = session.scalars(select(CsafDocument).where(
        CsafDocument.org_id == actor.org_id, CsafDocument.status.in_(PUBLISHED))
        .order_by(CsafDocument.tracking_id))
    keep, left_out = [], []
    for row in rows:
        label = csaf_tree.tlp_of(row.document)
        if label in csaf_tree.PUBLIC_TLP or access_protected:
            keep.append(document_bytes(row.document))
        else:
            left_out.append({"tracking_id": row.tracking_id, "tlp": str(label)})
    return keep, left_out


def build_files(session: Session, actor: Actor, now: datetime | None = None,
                secret_key: bytes | None = None, passphrase: str | None = None,
                key_source: str = "key", access_protected: bool = False,
                aggregators: str = "list") -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every file of the tree (path → bytes) and a summary. Signed when a secret key is given."""
    from prodsec.formats import openpgp

    actor.require("editor")
    documents, left_out = published(session, actor, access_protected)
    publisher = provider_publisher(session, actor)
    stamp = (now or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = csaf_tree.base_url(publisher["namespace"])
    with ExitStack() as stack:
        sign: Callable[[bytes], bytes] | None = None
        key = None
        if secret_key is not None:
            signer = stack.enter_context(openpgp.signer(secret_key, passphrase, key_source))
            sign, key = signer.sign, csaf_tree.Key(signer.fingerprint, signer.public_key)
        files = csaf_tree.build(documents, publisher, base, stamp, sign, key,
                                access_protected=access_protected, aggregators=aggregators)
    summary = {"documents": len(documents), "left_out": left_out, "files": len(files),
               "signed_by": key.fingerprint if key else None,
               "provider_metadata": f"{base}/{csaf_tree.METADATA}",
               "access_protected": protected_folders(files),
               "self_reference_elsewhere": moved(documents, base)}
    return files, summary


def provider_publisher(session: Session, actor: Actor) -> dict[str, Any]:
    """provider-metadata.json's ``publisher``: the one the organisation's documents carry
    (CSAF 2.0 7.1.7: it SHOULD match them), ``contact_details`` included when the profile
    holds a security contact, e-mail or address."""
    from prodsec.workspace.cra_metadata import organisation_contact
    from prodsec.workspace.csaf_author import publisher_identity

    name, namespace = publisher_identity(session, actor)
    publisher = {"category": "vendor", "name": name, "namespace": namespace}
    contact = organisation_contact(session, actor)
    if contact:
        publisher["contact_details"] = contact
    return publisher


def protected_folders(files: dict[str, bytes]) -> list[str]:
    """The tree's folders that hold TLP:GREEN/AMBER/RED documents: to serve only behind access
    control (TLS client certificates, tokens: CSAF 2.0 7.1.5), never on the public server."""
    names = {csaf_tree.TLP_FOLDER[t] for t in csaf_tree.ACCESS_PROTECTED_TLP}
    return sorted({f"{csaf_tree.WELL_KNOWN}/{p.split('/')[2]}/" for p in files
                   if p.count("/") > 2 and p.split("/")[2] in names})


def moved(documents: list[bytes], base: str) -> list[dict[str, str]]:
    """Documents whose ``self`` reference names another URL than the one the tree serves them
    at (published before the reference followed the tree, or under another namespace): the
    next revision (``prodsec csaf publish``) gets the tree's URL."""
    import json

    out = []
    for data in documents:
        meta = json.loads(data)["document"]
        tracking = meta["tracking"]
        url = csaf_tree.document_url(base, csaf_tree.tlp_of({"document": meta}),
                                     tracking["initial_release_date"], tracking["id"])
        refs = [r.get("url") for r in meta.get("references", []) if r.get("category") == "self"]
        if url not in refs:
            out.append({"tracking_id": tracking["id"], "self": ", ".join(map(str, refs)) or "none",
                        "served_at": url})
    return out


def write_tree(session: Session, actor: Actor, out_dir: Path, **options: Any) -> dict[str, Any]:
    """Build the tree and put it at ``out_dir`` atomically (an existing tree there is
    replaced whole; any other non-empty folder is refused rather than overwritten)."""
    files, summary = build_files(session, actor, **options)
    _replace(out_dir, files)
    audit.record(session, actor, "csaf.tree", "organisation", actor.org_id, None,
                 {**summary, "out_dir": str(out_dir)})
    return summary


def _replace(out_dir: Path, files: dict[str, bytes]) -> None:
    out_dir = out_dir.resolve()
    if out_dir.exists() and any(out_dir.iterdir()) and csaf_tree.find_metadata(out_dir) is None:
        raise CsafTreeError(f"{out_dir}: not empty and not a CSAF tree: refusing to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for rel, data in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            staging.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_tree(root: Path, extra_keys: list[bytes] | None = None) -> dict[str, Any]:
    """Every problem of a tree on disk: provider-metadata schema, ROLIE feeds (``csaf_rolie``),
    listings, each document's hashes, signature, name, place and CSAF validity (schema and
    mandatory tests)."""
    from prodsec.formats import csaf_rolie

    tree, problems = read_verified(root, extra_keys or [])
    problems += csaf_rolie.feed_problems(tree)
    problems += csaf_tree.listing_problems(tree)
    for item in tree.documents:
        problems += item.problems
        if item.data is not None:
            problems += [f"{item.path}: {p}" for p in invalid(item.data, item.path)]
    return {"tree": str(tree.folder), "role": tree.metadata.get("role"),
            "documents": len(tree.documents), "problems": problems,
            "signed": sum(1 for d in tree.documents if d.signed_by)}


def read_verified(root: Path, extra_keys: list[bytes]) -> tuple[csaf_tree.Tree, list[str]]:
    """The tree with every signature checked. With ``extra_keys`` (the admin's ``--key``) only
    those keys count: a tree whose own keys or listed fingerprints differ is reported, and a
    document signed by anything else is refused — the tree cannot vouch for itself (review
    h18 F1). Without them, the keys the tree carries are used."""
    from prodsec.formats import openpgp

    keys, problems = csaf_tree.public_keys(root)
    listed = csaf_tree.listed_fingerprints(root)
    if extra_keys:
        pinned = {f.upper() for extra in extra_keys for f in openpgp.fingerprints(extra)}
        foreign = sorted({f.upper() for f in listed} - pinned)
        if foreign:
            problems.append(f"{csaf_tree.METADATA}: lists OpenPGP key(s) {', '.join(foreign)}, "
                            "not the --key given; only the --key is trusted")
        keys, allowed = list(extra_keys), pinned
    else:  # the tree's own keys: it vouches for itself (docs/csaf.md says to pin with --key)
        allowed = listed
    if not keys:
        tree = csaf_tree.read(root, None)
        return tree, problems + tree.problems
    with openpgp.verifier(keys, allowed) as verifier:
        tree = csaf_tree.read(root, verifier.verify)
    return tree, problems + tree.problems


def invalid(data: bytes, source: str) -> list[str]:
    """Why a CSAF document is not valid (schema and mandatory tests), or nothing."""
    from prodsec.errors import FormatError
    from prodsec.formats import csaf

    try:
        report = csaf.validate(data, source, tests=tuple(t for t in csaf.TESTS
                                                         if t.startswith("6.1.")))
    except FormatError as exc:
        return [str(exc)]
    return [f"{f.test} {f.path}: {f.message}" for f in report.failures if f.blocking][:10]
