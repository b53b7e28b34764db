"""Import of an organisation export (``prodsec import``)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from prodsec.db.engine import Database
from prodsec.workspace import audit, keys
from prodsec.workspace.context import Actor
from prodsec.workspace.keys import SecretKey
from prodsec.workspace.transfer.archive import ArchiveLimits
from prodsec.workspace.transfer.common import (
    BATCH,
    SOFT_REFERENCES,
    ExportFormatError,
    OrganisationExists,
    TransferError,
    TransferResult,
    counter_pk,
    from_json,
    insert_batch,
    reflect,
)
from prodsec.workspace.transfer.signing import Provenance, verify_signature
from prodsec.workspace.transfer.staging import StagedBlobs, recover_staging
from prodsec.workspace.transfer.validation import (
    ExportFile,
    check_chain,
    read_export,
    validate_export,
)


def _no_checkpoint(stage: str) -> None:
    """Production: nothing."""


#: Test seam, called at a fixed point inside an import's write transaction; a test replaces it
#: (in a child process) to wait there and SIGKILL the process at a known point.
checkpoint: Callable[[str], None] = _no_checkpoint


# ---- import ---------------------------------------------------------------------------------


def import_org(database: Database, source: Path, org_name: str | None, actor_email: str, *,
               export_key: SecretKey | None = None, trust_unsigned: bool = False,
               limits: ArchiveLimits | None = None) -> TransferResult:
    """Create an organisation from an export, in one transaction, keeping ids when it can.

    The signature is checked first with ``export_key`` (the exporting server's key) or this
    server's key. If none of the export's ids exist in the target, rows keep their ids and a
    verified history is re-keyed into the new chain, followed by an ``org.import`` event.
    Otherwise every id is replaced by a fresh one, and the history is kept verbatim inside the
    new chain's first event, ``org.import`` (``after.history``, with ``after.id_map``); so is an
    unverified history (``trust_unsigned``).
    """
    started = time.perf_counter()
    recover_staging(database)
    local_key = keys.require_key()
    with read_export(source, limits) as export:
        with database.engine.connect() as conn:
            tables = {t.name: t for t in reflect(conn)}
        problems = validate_export(export, tables)
        if problems:
            raise ExportFormatError(source, problems)
        provenance = check_signature(export, export_key or local_key, trust_unsigned)
        problems = check_chain(export.document["tables"].get("audit_events", []),
                                export_key or local_key, provenance)
        if problems:
            raise ExportFormatError(source, problems)
        result = _import_validated(database, export, tables, org_name, actor_email,
                                   provenance, local_key)
    result.seconds = time.perf_counter() - started
    return result


def check_signature(export: ExportFile, key: SecretKey, trust_unsigned: bool) -> Provenance:
    return verify_signature(
        export.path, "", export.document, key, trust_unsigned,
        "give the exporting server's key (--export-key-file) or, if you know where the file "
        "comes from, pass --trust-unsigned (recorded in the audit trail); nothing was imported")


def _import_validated(database: Database, export: ExportFile, tables: dict[str, sa.Table],
                      org_name: str | None, actor_email: str, provenance: Provenance,
                      local_key: SecretKey) -> TransferResult:
    doc = export.document
    name = (org_name or doc["organisation"]["name"]).strip()
    result = TransferResult(export.path, organisation=name)
    staging = StagedBlobs(database.evidence_dir)
    try:
        with database.transaction() as session:
            conn = session.connection()
            _refuse_existing_org(conn, tables, name, export.path)
            for index, blob in enumerate(doc["blobs"]):
                with export.blob(index) as data:
                    staging.add(blob["sha256"], data, f"{export.path}: $.blobs[{index}]")
            ids = IdMap(conn, doc, tables, export.path)
            history_in_chain = ids.verbatim and provenance.verified
            org_id = ids.org(doc["organisation"]["id"])
            _insert_org(conn, tables, doc, org_id, name)
            result.notes += _insert_members(conn, tables, doc, ids, org_id)
            result.tables = _insert_org_tables(conn, tables, doc, ids, export.path,
                                               local_key if history_in_chain else None)
            _record_import(session, doc, ids, Actor("import", actor_email, org_id, "admin"),
                           export.path, provenance, history_in_chain)
            result.notes.append("ids kept" if ids.verbatim else "ids remapped (they exist here)")
            if not provenance.verified:
                result.notes.append("signature not verified (--trust-unsigned): the history is "
                                    "kept inside the org.import event")
    except BaseException:
        staging.discard()
        raise
    staging.publish()
    result.blobs = len(doc["blobs"])
    return result


def _refuse_existing_org(conn: Connection, tables: dict[str, sa.Table], name: str,
                         source: Path) -> None:
    orgs = tables["organisations"]
    if conn.execute(sa.select(orgs.c.id).where(orgs.c.name == name)).first():
        raise OrganisationExists(f"cannot import {source}: organisation {name!r} already exists "
                                 "here; use --org NEW_NAME to import it under another name")


class IdMap:
    """Old id → id in the target, only for rows the import itself creates: the same ids when
    none collide, otherwise all fresh. Any other id is refused, so no imported row can point
    at a row of another organisation."""

    def __init__(self, conn: Connection, doc: dict[str, Any], tables: dict[str, sa.Table],
                 source: Path) -> None:
        self.tables, self.source = tables, source
        self.created: dict[str, set[str]] = {"organisations": {doc["organisation"]["id"]}}
        for name, rows in doc["tables"].items():
            if counter_pk(tables[name]) is None and "id" in tables[name].c:
                self.created[name] = {row["id"] for row in rows}
        self.verbatim = not _any_id_taken(conn, doc, tables)
        self.maps: dict[str, dict[str, str]] = {}
        self._plans: dict[str, list[tuple[sa.Column[Any], str | None]]] = {}

    def get(self, table: str, old: str, where: str = "") -> str:
        if old not in self.created.get(table, ()):
            raise TransferError(f"{self.source}: {where or table}: refers to {table} {old!r}, "
                                "which the export does not contain; nothing was imported")
        if self.verbatim:
            return old
        return self.maps.setdefault(table, {}).setdefault(old, uuid.uuid4().hex)

    def org(self, old: str) -> str:
        return self.get("organisations", old)

    def plan(self, table: sa.Table) -> list[tuple[sa.Column[Any], str | None]]:
        """Each column with the table whose ids it holds (worked out once per table)."""
        if table.name not in self._plans:
            self._plans[table.name] = [(c, _points_to(table, c)) for c in table.columns]
        return self._plans[table.name]


def _any_id_taken(conn: Connection, doc: dict[str, Any], tables: dict[str, sa.Table]) -> bool:
    wanted = {"organisations": [doc["organisation"]["id"]]}
    for name, rows in doc["tables"].items():
        if counter_pk(tables[name]) is None and "id" in tables[name].c:
            wanted[name] = [row["id"] for row in rows]
    for name, ids in wanted.items():
        column = tables[name].c.id
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            if conn.execute(sa.select(column).where(column.in_(chunk)).limit(1)).first():
                return True
    return False


def _insert_org(conn: Connection, tables: dict[str, sa.Table], doc: dict[str, Any],
                org_id: str, name: str) -> None:
    orgs = tables["organisations"]
    row = {**doc["organisation"], "id": org_id, "name": name}
    conn.execute(sa.insert(orgs), [{c.name: from_json(c, row.get(c.name))
                                    for c in orgs.columns if c.name in row}])


def _insert_members(conn: Connection, tables: dict[str, sa.Table], doc: dict[str, Any],
                    ids: IdMap, org_id: str) -> list[str]:
    """Members by e-mail, each as a new account without a password. An e-mail that already
    has an account here is not attached (an export must not pull an existing account, maybe of
    another organisation, into the one it creates): returned as a note for an admin."""
    users, memberships = tables["users"], tables["memberships"]
    notes = []
    for member in doc["members"]:
        email = member["email"].strip().lower()
        if conn.execute(sa.select(users.c.id).where(users.c.email == email)).first():
            notes.append(f"member {email} not added: an account with that e-mail exists here "
                         "and an import never attaches an existing account; an admin can add "
                         "it to the organisation")
            continue
        user_id = uuid.uuid4().hex
        conn.execute(sa.insert(users), [{
            "id": user_id, "email": email, "name": member.get("name", ""),
            "password_hash": None, "active": member.get("active", True),
            "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0)}])
        ids.maps.setdefault("users", {})[member["id"]] = user_id
        conn.execute(sa.insert(memberships), [{"id": uuid.uuid4().hex, "user_id": user_id,
                                               "org_id": org_id, "role": member["role"]}])
    return notes


def _insert_org_tables(conn: Connection, tables: dict[str, sa.Table], doc: dict[str, Any],
                       ids: IdMap, source: Path, rekey: SecretKey | None) -> dict[str, int]:
    """Rows of every exported table, ids mapped. The history goes into the chain only when
    ``rekey`` is given (ids kept and signature verified), re-hashed under this server's key."""
    counts: dict[str, int] = {}
    ordered = [t for t in tables.values() if t.name in doc["tables"]]
    for position, table in enumerate(ordered):
        if position == len(ordered) // 2:
            checkpoint(f"inserting {table.name}")
        rows = doc["tables"][table.name]
        if table.name == "audit_events" and rekey is None:
            counts[table.name] = 0  # kept inside the org.import event instead
            continue
        remapped = [_remap_row(table, row, ids, f"$.tables.{table.name}[{i}]")
                    for i, row in enumerate(rows)]
        if table.name == "audit_events" and rekey is not None:
            remapped = _rekeyed(remapped, rekey)
        for start in range(0, len(remapped), BATCH):
            insert_batch(conn, table, remapped[start:start + BATCH], source)
        counts[table.name] = len(rows)
    return counts


def _rekeyed(events: list[dict[str, Any]], key: SecretKey) -> list[dict[str, Any]]:
    """A verified history, chained again under this server's key (same content and order)."""
    prev, out = audit.GENESIS, []
    for event in sorted(events, key=lambda e: e["seq"]):
        fields = audit.hashed_fields(event)
        digest = audit.event_hash(prev, fields, key)
        out.append({**event, "prev_hash": prev, "hash": digest, "key_id": key.key_id})
        prev = digest
    return out


def _remap_row(table: sa.Table, row: dict[str, Any], ids: IdMap, where: str) -> dict[str, Any]:
    out = {}
    for column, target in ids.plan(table):
        if column.name not in row:
            continue
        value = row[column.name]
        if value is not None and target == "users":
            mapped = ids.maps.get("users", {}).get(value)
            if mapped is None:
                raise TransferError(f"{ids.source}: {where}.{column.name}: refers to a user "
                                    "the import did not create; nothing was imported")
            value = mapped
        elif value is not None and target is not None:
            value = ids.get(target, value, f"{where}.{column.name}")
        out[column.name] = from_json(column, value)
    return out


def _points_to(table: sa.Table, column: sa.Column[Any]) -> str | None:
    """Which table's ids this column holds: its own (primary key), a foreign key's, or the
    organisation's (``org_id`` without a foreign key, as in the audit trail)."""
    if column.primary_key and counter_pk(table) is None:
        return table.name
    if (table.name, column.name) in SOFT_REFERENCES:
        return SOFT_REFERENCES[(table.name, column.name)]
    for fk in column.foreign_keys:
        return str(fk.column.table.name)
    return "organisations" if column.name == "org_id" else None


def _record_import(session: Session, doc: dict[str, Any], ids: IdMap, actor: Actor,
                   source: Path, provenance: Provenance, history_in_chain: bool) -> None:
    events = sorted(doc["tables"].get("audit_events", []), key=lambda e: e["seq"])
    after: dict[str, Any] = {
        "source_file": source.name, "source_org_id": doc["organisation"]["id"],
        "source_org_name": doc["organisation"]["name"], "exported_at": doc.get("exported_at"),
        "ids": "kept" if ids.verbatim else "remapped",
        "signature": provenance.to_dict(),
        "source_chain_head": events[-1]["hash"] if events else None,
        "rows": {name: len(rows) for name, rows in doc["tables"].items()}}
    if not history_in_chain:
        after["history"] = events
    if not ids.verbatim:
        after["id_map"] = ids.maps
    audit.record(session, actor, "org.import", "organisation", actor.org_id, None, after)
