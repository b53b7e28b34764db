"""The append-only, hash-chained audit trail, keyed with the server's secret.

Each organisation has its own chain: event n stores the hash of event n-1, and its own hash
covers that and its content (canonical JSON). Editing or deleting any event breaks every hash
after it, which ``verify`` reports. The database refuses UPDATE/DELETE on the table as well.

The hash is an HMAC-SHA256 under the server's secret key (``prodsec.workspace.keys``), so
someone who can write to the database or forge an export cannot recompute a chain that
verifies. Each event records the id of the key (``key_id``); events written before keying
(``key_id`` NULL, plain SHA-256) still verify, but only as a prefix of a chain: an unkeyed event
after a keyed one is reported as a downgrade.

Intact is not authenticated. Anyone can compute a plain SHA-256 chain, so unkeyed events prove
only that nothing changed since they were keyed over; and a backup restored without a verified
signature (``db restore --trust-unsigned``) brings events this server never checked. Such a
restore appends a keyed ``db.restore.unverified`` event saying so (``UNVERIFIED_RESTORE``); ``verify``
counts every unkeyed event and every event before the last such restore as *not
authenticated* (``ChainReport.unauthenticated``), and ``authenticated`` is true only when there
are none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from prodsec.db.models import (
    Article14Case,
    AuditEvent,
    Control,
    CsafDocument,
    Evidence,
    Organisation,
    Product,
    Release,
    RequirementStatus,
    VexStatement,
    utcnow,
)
from prodsec.workspace.context import Actor
from prodsec.workspace.keys import SecretKey, require_key, server_key

GENESIS = "0" * 64
#: The action of the keyed event a restore without a verified signature appends.
UNVERIFIED_RESTORE = "db.restore.unverified"


def canonical(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, fields: dict[str, Any], key: SecretKey | None = None) -> str:
    """HMAC-SHA256 under ``key``; plain SHA-256 (the unkeyed scheme of old events) without."""
    payload = str(canonical({"prev": prev_hash, **fields})).encode("utf-8")
    return key.mac(payload) if key is not None else hashlib.sha256(payload).hexdigest()


def hashed_fields(event: Any) -> dict[str, Any]:
    """The hashed content of an event (an ORM object or a row mapping)."""
    if isinstance(event, dict):
        return {k: event.get(k) for k in HASHED}
    return {k: getattr(event, k) for k in HASHED}


HASHED = ("org_id", "seq", "at", "actor", "action", "entity", "entity_id", "before", "after")


def lock_chain(session: Session, org_id: str) -> None:
    """Take the organisation's chain lock, so concurrent writers extend the chain one at a time.

    A write transaction takes it first, before any other row write (``prodsec.workspace.writes``)
    and ``record`` takes it again (a no-op then). It is ``FOR NO KEY UPDATE`` on the organisation
    row: that conflicts with another chain lock but not with the ``FOR KEY SHARE`` lock every
    insert referencing the organisation takes, so an insert made before the chain lock cannot
    deadlock against it (with ``FOR UPDATE`` it did: 146 deadlocks under concurrent writes).
    SQLite serialises writers anyway and ignores the clause.
    """
    # key_share=True renders FOR NO KEY UPDATE on PostgreSQL (SQLAlchemy has no other spelling).
    session.execute(select(Organisation.id).where(Organisation.id == org_id)
                    .with_for_update(key_share=True))


def record(session: Session, actor: Actor, action: str, entity: str, entity_id: str,
           before: Any = None, after: Any = None) -> AuditEvent:
    """Append one event to the actor's organisation's chain, in the caller's transaction."""
    lock_chain(session, actor.org_id)
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.org_id == actor.org_id)
        .order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    fields = {"org_id": actor.org_id, "seq": seq, "at": utcnow().isoformat(), "actor": actor.email,
              "action": action, "entity": entity, "entity_id": entity_id,
              "before": canonical(before), "after": canonical(after)}
    key = require_key()
    event = AuditEvent(**fields, prev_hash=prev, hash=event_hash(prev, fields, key),
                       key_id=key.key_id)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    org_id: str
    events: int
    ok: bool
    problems: tuple[str, ...]
    unkeyed: int = 0  # events from before keying (plain SHA-256)
    wrong_key: bool = False  # keyed with a key other than the one verifying
    unauthenticated: int = 0  # unkeyed, or before a restore whose signature was not verified
    restored_unverified_at: int | None = None  # seq of the last such restore's event

    @property
    def authenticated(self) -> bool:
        """Intact, and every event keyed by this server after any unverified restore."""
        return self.ok and self.unauthenticated == 0

    def to_dict(self) -> dict[str, Any]:
        return {"org_id": self.org_id, "events": self.events, "ok": self.ok,
                "problems": list(self.problems), "unkeyed": self.unkeyed,
                "wrong_key": self.wrong_key, "authenticated": self.authenticated,
                "unauthenticated": self.unauthenticated,
                "restored_unverified_at": self.restored_unverified_at}

    def authentication_note(self) -> str | None:
        """Why some events are not authenticated, in words (None when all are)."""
        if self.unauthenticated == 0:
            return None
        why = []
        if self.unkeyed:
            why.append(f"{self.unkeyed} written before the chain was keyed (plain SHA-256, "
                       "which anyone can recompute)")
        if self.restored_unverified_at is not None:
            why.append(f"every event before event {self.restored_unverified_at} came from a "
                       "backup restored without a verified signature (--trust-unsigned)")
        return (f"{self.unauthenticated} of {self.events} events are not authenticated: "
                + "; ".join(why))


class ChainCheck:
    """Walks one chain in order; shared by ``verify`` and the import of an export's history."""

    def __init__(self, key: SecretKey | None) -> None:
        self.key = key
        self.prev, self.expected_seq, self.count, self.unkeyed = GENESIS, 1, 0, 0
        self.keyed_seen, self.foreign_keys = False, set[str]()
        self.problems: list[str] = []
        self.restored_unverified_at: int | None = None

    def add(self, seq: int, prev_hash: str, hash_: str, key_id: str | None,
            fields: dict[str, Any]) -> None:
        self.count += 1
        if seq != self.expected_seq:
            self.problems.append(f"event {self.expected_seq} is missing (next is {seq})")
        if prev_hash != self.prev:
            self.problems.append(f"event {seq}: previous-hash link broken")
        if key_id is None:
            self.unkeyed += 1
            if self.keyed_seen:
                self.problems.append(f"event {seq}: unkeyed after keyed events (downgraded)")
            elif event_hash(prev_hash, fields) != hash_:
                self.problems.append(f"event {seq}: content does not match its hash (edited)")
        else:
            self.keyed_seen = True
            if self.key is None or key_id != self.key.key_id:
                self.foreign_keys.add(key_id)
            elif not hmac.compare_digest(event_hash(prev_hash, fields, self.key), hash_):
                self.problems.append(f"event {seq}: content does not match its hash (edited)")
            elif fields.get("action") == UNVERIFIED_RESTORE:
                self.restored_unverified_at = seq  # keyed by us: its word counts
        self.prev, self.expected_seq = hash_, seq + 1

    @property
    def unauthenticated(self) -> int:
        """Unkeyed events form a prefix, and so do those before an unverified restore."""
        before_restore = (self.restored_unverified_at or 1) - 1
        return max(self.unkeyed, before_restore)

    def key_problem(self) -> str | None:
        """Why keyed events could not be checked, naming the key ids (never the key)."""
        if not self.foreign_keys:
            return None
        ids = ", ".join(sorted(self.foreign_keys))
        if self.key is None:
            return (f"events are keyed with key id {ids} but no secret key is configured: set "
                    "PRODSEC_SECRET_KEY or PRODSEC_SECRET_KEY_FILE to the key that wrote them")
        return (f"wrong secret key: events are keyed with key id {ids}, the key in use "
                f"({self.key.source}) has id {self.key.key_id}; set PRODSEC_SECRET_KEY or "
                "PRODSEC_SECRET_KEY_FILE to the key that wrote them")


def verify(session: Session, org_id: str, key: SecretKey | None = None) -> ChainReport:
    """Recompute the chain; name the first event where it breaks and every gap.

    With no ``key`` given, the server's key is used (none yet: keyed events cannot verify).
    """
    check = ChainCheck(key if key is not None else server_key())
    rows = session.scalars(select(AuditEvent).where(AuditEvent.org_id == org_id)
                           .order_by(AuditEvent.seq))
    for event in rows:
        check.add(event.seq, event.prev_hash, event.hash, event.key_id, hashed_fields(event))
    problems = check.problems
    key_problem = check.key_problem()
    if key_problem:
        problems = [key_problem, *problems]
    return ChainReport(org_id, check.count, not problems, tuple(problems), check.unkeyed,
                       key_problem is not None, check.unauthenticated,
                       check.restored_unverified_at)


#: How long one organisation's verification is reused by a face that shows it (the web's audit
#: page, the API's /audit/verify): re-hashing a long chain costs seconds of CPU and any member
#: may ask, so asking again within this window, with no event added, gets the same answer
#: (pentest h11pen2 F1: 8 viewers re-verifying 50 000 events held both cores for 30 s).
VERIFY_REUSE_SECONDS = 60.0
_verified: dict[str, tuple[float, tuple[int, str], ChainReport]] = {}
_verified_lock = threading.Lock()


def _head(session: Session, org_id: str) -> tuple[int, str]:
    """The chain's last event (sequence number and hash): a new event changes it."""
    last = session.execute(select(AuditEvent.seq, AuditEvent.hash)
                           .where(AuditEvent.org_id == org_id)
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()
    return (int(last[0]), str(last[1])) if last else (0, "")


def verify_shared(session: Session, org_id: str) -> tuple[ChainReport, float]:
    """The chain's verification for a face to show, and how many seconds old it is: computed
    again when an event was added since, or when the last check is older than
    ``VERIFY_REUSE_SECONDS``. The CLI's ``prodsec audit verify`` always recomputes. The reuse
    is per process: N server processes verify an unchanged chain at most N times a window."""
    now, head = time.monotonic(), _head(session, org_id)
    with _verified_lock:
        cached = _verified.get(org_id)
    if cached is not None and cached[1] == head and now - cached[0] < VERIFY_REUSE_SECONDS:
        return cached[2], now - cached[0]
    report = verify(session, org_id)
    with _verified_lock:
        _verified[org_id] = (time.monotonic(), head, report)
    return report, 0.0


def history(session: Session, actor: Actor, entity_id: str | None = None, limit: int = 100,
            offset: int = 0) -> list[dict[str, Any]]:
    query = select(AuditEvent).where(AuditEvent.org_id == actor.org_id)
    if entity_id:
        query = query.where(AuditEvent.entity_id == entity_id)
    rows = session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit).offset(offset))
    return [_view(e) for e in rows]


def count(session: Session, org_id: str, entity_id: str | None = None) -> int:
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.org_id == org_id)
    if entity_id:
        query = query.where(AuditEvent.entity_id == entity_id)
    return int(session.scalar(query) or 0)


def _view(e: AuditEvent) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "entity": e.entity,
            "entity_id": e.entity_id, "before": json.loads(e.before) if e.before else None,
            "after": json.loads(e.after) if e.after else None, "hash": e.hash}


def events_page(session: Session, actor: Actor, *, before_seq: int | None = None,
                entity: str = "", product_id: str = "", limit: int = 50
                ) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the organisation's events, newest first, and the ``before_seq`` of the next
    page (None on the last). Keyset paging on ``seq``: a page costs the same however deep, and
    events appended meanwhile never shift a page. ``entity`` keeps one kind of object
    (product, release, evidence...); ``product_id`` keeps the events about one product — the
    product itself and every object whose recorded state names it (canonical JSON, so the
    pair is spelt one way)."""
    query = select(AuditEvent).where(AuditEvent.org_id == actor.org_id)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    if entity:
        query = query.where(AuditEvent.entity == entity)
    if product_id:
        # % and _ in the id are literal, never wildcards (pentest h11pen2 F5)
        quoted = str(canonical(product_id)).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        named = f'%"product_id":{quoted}%'
        query = query.where((AuditEvent.entity_id == product_id)
                            | AuditEvent.before.like(named, escape="\\")
                            | AuditEvent.after.like(named, escape="\\"))
    rows = list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return [_view(e) for e in rows], (rows[-1].seq if more and rows else None)


#: The kinds of object the trail can name, each with its model, the name shown and the table
#: joined to make it (a release is named by its product and version); other events keep their id.
NAMED_KINDS: dict[str, tuple[Any, Any, Any]] = {
    "product": (Product, Product.name, None),
    "release": (Release, Product.name + " " + Release.version_label, Product),
    "article14-case": (Article14Case, Article14Case.title, None),
    "evidence": (Evidence, Evidence.title, None),
    "control": (Control, Control.name, None),
    "requirement_status": (RequirementStatus, RequirementStatus.requirement_id, None),
    "csaf-document": (CsafDocument, CsafDocument.tracking_id, None),
    "vex-statement": (VexStatement, VexStatement.vulnerability, None),
}


def _name_queries(org_id: str, ids: dict[str, set[str]]) -> list[Any]:
    """One SELECT (kind, id, name) per kind of object on the page, each kept to the
    organisation (an id of another tenant resolves to nothing)."""
    queries = []
    for kind, wanted in ids.items():
        model, name, joined = NAMED_KINDS[kind]
        query = select(literal(kind).label("kind"), model.id.label("id"), name.label("name"))
        if joined is not None:
            query = query.join(joined, joined.id == model.product_id)
        queries.append(query.where(model.org_id == org_id, model.id.in_(sorted(wanted))))
    return queries


def object_names(session: Session, actor: Actor, events: list[dict[str, Any]]
                 ) -> dict[tuple[str, str], str]:
    """The current name of each object the events are about, by (kind, id), in one query for
    the whole page (a UNION of one SELECT per kind present). An object of a named kind that is
    missing from the answer has been deleted; the trail keeps its id."""
    ids: dict[str, set[str]] = {}
    for e in events:
        if e["entity"] in NAMED_KINDS and e["entity_id"]:
            ids.setdefault(e["entity"], set()).add(str(e["entity_id"]))
    queries = _name_queries(actor.org_id, ids)
    if not queries:
        return {}
    statement: Any = queries[0] if len(queries) == 1 else union_all(*queries)
    return {(row.kind, row.id): row.name for row in session.execute(statement)}


def entities(session: Session, actor: Actor) -> list[str]:
    """The kinds of object the organisation's trail has events about (for a filter)."""
    return sorted(session.scalars(select(AuditEvent.entity).where(
        AuditEvent.org_id == actor.org_id).distinct()))
