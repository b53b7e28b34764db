"""Export of one organisation (``prodsec export``)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodsec.db.engine import Database
from prodsec.errors import NotFoundError
from prodsec.workspace import keys
from prodsec.workspace.compliance import blob_path
from prodsec.workspace.keys import SecretKey
from prodsec.workspace.transfer.common import (
    EXPORT_FORMAT,
    EXPORT_MEMBER,
    EXPORT_VERSION,
    NOT_EXPORTED,
    TransferResult,
    atomic_file,
    blob_refs,
    copy_hashed,
    counter_pk,
    dump_rows,
    present_blobs,
    reflect,
    schema_revision,
    snapshot,
    to_json,
)
from prodsec.workspace.transfer.signing import sign_document
from prodsec.workspace.transfer.staging import recover_staging


def export_tables(tables: Iterable[sa.Table]) -> list[sa.Table]:
    """Tables an organisation owns (an ``org_id`` column), minus secrets and the org itself."""
    return [t for t in tables if "org_id" in t.c and t.name not in NOT_EXPORTED]


def export_org(database: Database, org_ref: str, target: Path,
               key: SecretKey | None = None) -> TransferResult:
    """Write one organisation's data as JSON (blobs inlined) or as a zip (blobs as members),
    signed with ``key`` (the server's key by default)."""
    key = key or keys.require_key()
    started = time.perf_counter()
    recover_staging(database)
    with snapshot(database) as conn:
        document, refs, required = _export_document(conn, org_ref)
    present, missing = present_blobs(database.evidence_dir, refs, required)
    document["blobs"] = [{"sha256": sha} for sha in present]
    result = TransferResult(target, {k: len(v) for k, v in document["tables"].items()},
                            len(document["blobs"]), organisation=document["organisation"]["name"])
    as_zip = target.suffix.lower() == ".zip"
    with atomic_file(target) as tmp:
        if as_zip:
            _write_export_zip(tmp, document, database.evidence_dir, key)
        else:
            sign_document(document, key)
            for blob in document["blobs"]:
                path = blob_path(database.evidence_dir, blob["sha256"])
                blob["content_base64"] = base64.b64encode(path.read_bytes()).decode("ascii")
            tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    result.notes = [f"evidence file {sha} is referenced but missing from the store"
                    for sha in missing]
    result.seconds = time.perf_counter() - started
    return result


def _export_document(conn: Connection, org_ref: str
                     ) -> tuple[dict[str, Any], set[str], set[str]]:
    """The document without its blobs, and the files it references (all, required)."""
    tables = {t.name: t for t in reflect(conn)}
    orgs = tables["organisations"]
    org = conn.execute(sa.select(orgs).where((orgs.c.id == org_ref) | (orgs.c.name == org_ref))
                       ).mappings().first()
    if org is None:
        names = conn.execute(sa.select(orgs.c.name)).scalars()
        raise NotFoundError("organisation", org_ref, list(names))
    data: dict[str, list[dict[str, Any]]] = {}
    refs: set[str] = set()
    required: set[str] = set()
    for table in export_tables(tables.values()):
        counter = counter_pk(table)
        rows = [{k: v for k, v in row.items() if k != counter}
                for row in dump_rows(conn, table, table.c.org_id == org["id"])]
        for row in rows:
            refs.update(blob_refs(table, row))
            required.update(blob_refs(table, row, required_only=True))
        data[table.name] = rows
    document = {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION,
                "schema_revision": schema_revision(conn),
                "exported_at": to_json(dt.datetime.now(dt.UTC)),
                "organisation": {k: to_json(v) for k, v in org.items()},
                "members": _members(conn, tables, org["id"]), "tables": data, "blobs": []}
    return document, refs, required


def _members(conn: Connection, tables: dict[str, sa.Table], org_id: str) -> list[dict[str, Any]]:
    users, memberships = tables["users"], tables["memberships"]
    query = (sa.select(users.c.id, users.c.email, users.c.name, users.c.active,
                       memberships.c.role)
             .join(memberships, memberships.c.user_id == users.c.id)
             .where(memberships.c.org_id == org_id).order_by(users.c.email))
    return [dict(row) for row in conn.execute(query).mappings()]


def _write_export_zip(tmp: Path, document: dict[str, Any], evidence_dir: Path,
                      key: SecretKey) -> None:
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for blob in document["blobs"]:
            path = blob_path(evidence_dir, blob["sha256"])
            with path.open("rb") as source, zf.open(f"evidence/{blob['sha256']}", "w",
                                                    force_zip64=True) as out:
                _sha, blob["size"] = copy_hashed(source, out)
        sign_document(document, key)
        zf.writestr(EXPORT_MEMBER, json.dumps(document, indent=1, ensure_ascii=False))
