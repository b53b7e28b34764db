"""Hostile exports and backups (issue 11): nothing written outside the evidence store, no
foreign key or account of another organisation reachable, bounded decompression, text both
backends can store, and a keyed audit chain with signed exports."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.guards import TextRefused
from prodsec.db.models import Organisation
from prodsec.workspace import audit, compliance, keys, products, transfer
from prodsec.workspace.context import Actor
from tests.workspace.conftest import make_actor
from tests.workspace.test_transfer import (
    PG,
    ROUTER,
    blobs,
    cheap_passwords,  # noqa: F401  (autouse fixture)
    dump,
    open_backend,
    org_id,
    populate,
    run_cli,
)

OTHER_KEY = "another-servers-secret-key-" + "1" * 40


@pytest.fixture
def source(database: Database, kb: KnowledgeBase) -> Database:
    populate(database, kb)
    return database


def export_doc(db: Database, tmp_path: Path, org: str = "Acme") -> dict[str, Any]:
    path = tmp_path / f"{org}.json"
    transfer.export_org(db, org, path)
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def resign(doc: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """What a forger with the key would do; tests use it to get past the signature to the
    check behind it."""
    secret = keys.SecretKey((key or os.environ["PRODSEC_SECRET_KEY"]).encode(), "test")
    if hasattr(transfer, "sign_document"):  # (so this file also runs against older code)
        transfer.sign_document(doc, secret)
    return doc


def write_zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def zip_of(path: Path, doc: dict[str, Any], names: list[str] | None = None,
           extra: list[tuple[str, bytes]] | None = None) -> Path:
    """An export zip holding ``doc`` (as each of ``names``) and every blob inlined in it."""
    members = [(name, json.dumps(doc).encode()) for name in names or ["organisation.json"]]
    members += [(f"evidence/{b['sha256']}", base64.b64decode(b["content_base64"]))
                for b in doc["blobs"] if "content_base64" in b]
    return write_zip(path, members + (extra or []))


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# ---- 1. no file written outside the store -----------------------------------------------------


TRAVERSAL = "../../" + "p" * 58  # 64 characters, as the old length check wanted


@pytest.mark.parametrize("form", ["json", "zip"])
def test_import_never_writes_outside_the_store(source: Database, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               form: str) -> None:
    """An evidence sha256 of ``../../ppp…`` (or an absolute path) used to be written, relative
    to the staging directory, before its hash was checked, and stayed after the failure."""
    doc = export_doc(source, tmp_path)
    target = open_backend("sqlite", tmp_path, "t", monkeypatch)
    payload = b"planted by an export\n"
    absolute = f"/tmp/prodsec-planted-{uuid.uuid4().hex}".ljust(64, "q")
    bad_shas = [TRAVERSAL, absolute]
    # where the staging directory (<evidence>/.staging-*) would have resolved them
    planted = [target.evidence_dir.parent / TRAVERSAL.removeprefix("../../"), Path(absolute)]
    for sha in bad_shas:
        doc["blobs"].append({"sha256": sha,
                             "content_base64": base64.b64encode(payload).decode()})
    resign(doc)
    if form == "json":
        export = tmp_path / "evil.json"
        export.write_text(json.dumps(doc))
    else:
        export = zip_of(tmp_path / "evil.zip", doc)
    try:
        with pytest.raises(transfer.TransferError) as info:
            transfer.import_org(target, export, "Evil", "cli:tester")
        assert "SHA-256" in str(info.value) or "absolute" in str(info.value)
        assert [p for p in planted if p.exists()] == []  # nothing planted
        assert files_under(target.evidence_dir) == set()  # nothing left behind
        assert dump(target)["organisations"] == []
    finally:
        Path(absolute).unlink(missing_ok=True)


def test_restore_refuses_a_row_naming_a_file_outside_the_store(
        source: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backup row whose evidence sha256 is a path would make every later download read it."""
    good, bad = tmp_path / "b.zip", tmp_path / "bad.zip"
    transfer.backup(source, good)
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    rows = [json.loads(x) for x in members["tables/evidence.jsonl"].splitlines()]
    next(r for r in rows if r["sha256"])["sha256"] = TRAVERSAL
    members["tables/evidence.jsonl"] = b"".join(transfer.line(r) for r in rows)
    manifest = json.loads(members["manifest.json"])
    for entry in manifest["tables"]:
        entry["sha256"] = hashlib.sha256(members[entry["file"]]).hexdigest()
    members["manifest.json"] = json.dumps(resign(manifest)).encode()
    write_zip(bad, list(members.items()))
    target = open_backend("sqlite", tmp_path, "target", monkeypatch, upgrade=False)
    with pytest.raises(transfer.ArchiveError, match=r"evidence\.jsonl line \d+: sha256: not a SHA"):
        transfer.restore(target, bad)
    assert all(rows == [] for rows in dump(target).values())


def test_blob_path_refuses_anything_but_a_sha256(tmp_path: Path) -> None:
    for bad in (TRAVERSAL, "A" * 64, "a" * 63, "a" * 64 + "\n", "/etc/passwd".ljust(64, "0")):
        with pytest.raises(compliance.ValidationFailed, match="not a SHA-256"):
            compliance.blob_path(tmp_path, bad)
    assert compliance.blob_path(tmp_path, "a" * 64) == tmp_path / "aa" / ("a" * 64)


def test_a_blob_whose_content_does_not_match_leaves_nothing(source: Database,
                                                            tmp_path: Path) -> None:
    staging = transfer.StagedBlobs(source.evidence_dir)
    try:
        with pytest.raises(transfer.ArchiveError, match="does not match"):
            staging.add("b" * 64, io.BytesIO(b"not that"), "test")
        assert [p.name for p in staging.dir.iterdir()] == [".lock"]
    finally:
        staging.discard()


def test_restore_refuses_a_forged_backup_and_one_made_with_another_key(
        source: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows edited and the manifest's hashes recomputed: only the signature can tell."""
    good, forged = tmp_path / "b.zip", tmp_path / "forged.zip"
    transfer.backup(source, good)
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["tables/products.jsonl"] = members["tables/products.jsonl"].replace(b"Router", b"Rooter")
    manifest = json.loads(members["manifest.json"])
    for entry in manifest["tables"]:
        entry["sha256"] = hashlib.sha256(members[entry["file"]]).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    write_zip(forged, list(members.items()))
    target = open_backend("sqlite", tmp_path, "target", monkeypatch, upgrade=False)
    with pytest.raises(transfer.TransferError, match="edited or damaged after it was signed"):
        transfer.restore(target, forged)
    with pytest.raises(transfer.TransferError, match="edited or damaged after it was signed"):
        transfer.restore(target, forged, trust_unsigned=True)
    monkeypatch.setenv("PRODSEC_SECRET_KEY", OTHER_KEY)
    with pytest.raises(transfer.SignatureError, match="PRODSEC_SECRET_KEY"):
        transfer.restore(target, good)
    assert all(rows == [] for rows in dump(target).values())
    result = transfer.restore(target, good, trust_unsigned=True)
    assert "signature not verified (--trust-unsigned)" in result.notes


def forge_backup(good: Path, forged: Path) -> None:
    """What pentest h11pen F4 did without any key: rename a product, drop an event, re-chain
    the organisation's events as plain SHA-256, fix the manifest hashes, strip the signature."""
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])

    def rows(name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in members[f"tables/{name}.jsonl"].splitlines()]

    def put(name: str, new: list[dict[str, Any]]) -> None:
        members[f"tables/{name}.jsonl"] = "".join(json.dumps(r) + "\n" for r in new).encode()

    products_ = rows("products")
    products_[0]["name"] = "FORGED product"
    put("products", products_)
    org = products_[0]["org_id"]
    events = sorted((e for e in rows("audit_events") if e["org_id"] == org),
                    key=lambda e: e["seq"])[:-1]
    prev = audit.GENESIS
    for seq, event in enumerate(events, start=1):
        event.update(seq=seq, prev_hash=prev, key_id=None)
        event["hash"] = prev = audit.event_hash(prev, audit.hashed_fields(event))
    put("audit_events", [e for e in rows("audit_events") if e["org_id"] != org] + events)
    for entry in manifest["tables"]:
        entry["sha256"] = hashlib.sha256(members[entry["file"]]).hexdigest()
    manifest.pop("signature", None)
    members["manifest.json"] = json.dumps(manifest).encode()
    write_zip(forged, list(members.items()))


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("to_kind", ["sqlite", pytest.param("postgresql", marks=PG)])
def test_a_forged_backup_restored_with_trust_unsigned_is_not_authenticated(
        source: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, to_kind: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Before, the forged restore verified as "audit trail intact: 15 events (15 from before
    keying)", exit 0, and nothing recorded the unverified restore. Now each organisation's
    chain ends in a keyed event saying so, and ``audit verify`` exits 4 naming the events it
    cannot vouch for (the API's report has ``authenticated: false``)."""
    good, forged = tmp_path / "b.zip", tmp_path / "forged.zip"
    transfer.backup(source, good)
    forge_backup(good, forged)
    target = open_backend(to_kind, tmp_path, "target", monkeypatch, upgrade=False)
    with pytest.raises(transfer.SignatureError):
        transfer.restore(target, forged)
    result = transfer.restore(target, forged, trust_unsigned=True)
    assert any("not authenticated" in note for note in result.notes)
    acme = org_id(target, "Acme")
    with target.transaction() as s:
        report = audit.verify(s, acme)
        last = audit.history(s, Actor("x", "x", acme, "viewer"), limit=1)[0]
    assert report.ok and not report.authenticated
    assert report.unauthenticated == report.events - 1 == report.restored_unverified_at - 1
    assert last["action"] == "db.restore.unverified" and last["after"]["authenticated"] is False
    assert last["after"]["signature"]["verified"] is False
    target.dispose()
    if to_kind == "sqlite":
        db = target.url.removeprefix("sqlite:///")
        code, out, _ = run_cli("audit", "verify", "--org", "Acme", "--db", db, capsys=capsys)
        assert code == 4, out
        assert f"{report.unauthenticated} of {report.events} events are not authenticated" in out
        assert "--trust-unsigned" in out
    # a genuine, signed backup restores authenticated
    fresh = open_backend("sqlite", tmp_path, "fresh", monkeypatch, upgrade=False)
    transfer.restore(fresh, good)
    with fresh.transaction() as s:
        assert audit.verify(s, org_id(fresh, "Acme")).authenticated
    fresh.dispose()


# ---- 2. foreign keys and accounts ---------------------------------------------------------------


def evil_export(doc: dict[str, Any]) -> dict[str, Any]:
    """The attacker's own organisation under fresh ids (so ids are kept verbatim)."""
    doc["organisation"]["id"] = "e" * 32
    doc["organisation"]["name"] = "Evil"
    for rows in doc["tables"].values():
        for row in rows:
            row["org_id"] = "e" * 32
    doc["tables"] = {"releases": [], "audit_events": []}
    doc["blobs"], doc["members"] = [], []
    return doc


def test_import_refuses_foreign_keys_into_another_organisation(
        source: Database, tmp_path: Path, kb: KnowledgeBase) -> None:
    """A release pointing at Globex's product, in an export without a products table."""
    globex = make_actor(source, "Globex", "editor", "editor@globex.example")
    with source.transaction() as s:
        victim = products.add_product(s, globex, kb, ROUTER | {"name": "Globex secret"}).id
    doc = export_doc(source, tmp_path)
    release = doc["tables"]["releases"][0]
    doc = evil_export(doc)
    doc["tables"]["releases"] = [release | {"id": "f" * 32, "product_id": victim}]
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(resign(doc)))
    digest = transfer.content_digest(source)
    with pytest.raises(transfer.ExportFormatError,
                       match=r"\$\.tables\.releases\[0\]\.product_id: refers to a products row "
                             r"that is not in the export"):
        transfer.import_org(source, path, None, "cli:tester")
    assert transfer.content_digest(source) == digest


def test_idmap_refuses_an_id_the_import_did_not_create(source: Database,
                                                       tmp_path: Path) -> None:
    """Behind the validation: the mapping itself only knows the export's own ids."""
    doc = evil_export(export_doc(source, tmp_path))
    with source.engine.connect() as conn:
        tables = {t.name: t for t in transfer.reflect(conn)}
        ids = transfer.IdMap(conn, doc, tables, tmp_path / "x.json")
    with pytest.raises(transfer.TransferError, match="does not contain"):
        ids.get("products", org_id(source, "Globex"), "$.tables.x[0].product_id")


def test_import_never_attaches_an_existing_account(source: Database, tmp_path: Path) -> None:
    """A member with the e-mail of Globex's admin: no membership in the imported org."""
    doc = evil_export(export_doc(source, tmp_path))
    doc["members"] = [{"id": "m" * 32, "email": "admin@globex.example", "name": "Victim",
                       "role": "admin", "active": True},
                      {"id": "n" * 32, "email": "new@evil.example", "name": "New",
                       "role": "admin", "active": True}]
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(resign(doc)))
    result = transfer.import_org(source, path, None, "cli:tester")
    assert any("admin@globex.example not added" in note for note in result.notes)
    data = dump(source)
    evil = org_id(source, "Evil")
    emails = {u["id"]: u["email"] for u in data["users"]}
    assert sorted(emails[m["user_id"]] for m in data["memberships"] if m["org_id"] == evil) \
        == ["new@evil.example"]


# ---- 3. decompression limits and member names --------------------------------------------------


def test_import_refuses_a_decompression_bomb(source: Database, tmp_path: Path) -> None:
    doc = export_doc(source, tmp_path)
    bomb = bytes(64 << 20)  # 64 MiB of zeros: ~64 KiB compressed
    sha = hashlib.sha256(bomb).hexdigest()
    doc["blobs"] = [{"sha256": sha}]
    path = write_zip(tmp_path / "bomb.zip", [("organisation.json", json.dumps(doc).encode()),
                                             (f"evidence/{sha}", bomb)])
    assert path.stat().st_size < 1 << 20
    with pytest.raises(transfer.ArchiveTooLarge, match="compression ratio above 250:1"):
        transfer.import_org(source, path, "Bomb", "cli:tester")


def test_restore_limits_total_size_and_member_count(source: Database, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    transfer.backup(source, tmp_path / "b.zip")
    target = open_backend("sqlite", tmp_path, "target", monkeypatch, upgrade=False)
    with pytest.raises(transfer.ArchiveTooLarge, match="more than the limit of 1000"):
        transfer.restore(target, tmp_path / "b.zip",
                         transfer.ArchiveLimits(max_total_bytes=1000))
    with pytest.raises(transfer.ArchiveTooLarge, match="more than the limit of 3"):
        transfer.restore(target, tmp_path / "b.zip", transfer.ArchiveLimits(max_members=3))


def test_a_member_longer_than_its_directory_entry_is_refused(tmp_path: Path) -> None:
    """Streaming enforcement: the directory is not trusted alone."""
    path = write_zip(tmp_path / "x.zip", [("organisation.json", b"x" * 5000)])
    with zipfile.ZipFile(path) as zf:
        safe = transfer.SafeZip(zf, path, transfer.ArchiveLimits(), transfer.EXPORT_MEMBERS)
        safe.infos["organisation.json"].file_size = 100  # a directory that lies
        with pytest.raises(transfer.ArchiveError):
            safe.read("organisation.json")


@pytest.mark.parametrize("names", [["organisation.json", "organisation.json"],
                                   ["organisation.json", "evidence/../../../tmp/x"],
                                   ["organisation.json", "/etc/cron.d/x"]])
def test_import_refuses_duplicated_and_escaping_member_names(source: Database, tmp_path: Path,
                                                             names: list[str]) -> None:
    """A duplicated organisation.json silently won (the last copy was read)."""
    doc = export_doc(source, tmp_path)
    with pytest.warns(UserWarning) if len(set(names)) == 1 else contextlib.nullcontext():
        path = zip_of(tmp_path / "dup.zip", doc, names)
    with pytest.raises(transfer.ArchiveError, match=r"more than once|absolute or '\.\.'"):
        transfer.import_org(source, path, "Dup", "cli:tester")


# ---- 4. text both backends can store ----------------------------------------------------------


@pytest.mark.parametrize("bad", ["Router\x00", "Router\ud800"])
def test_nul_and_lone_surrogates_are_refused_at_the_edge(database: Database,
                                                        kb: KnowledgeBase, bad: str) -> None:
    actor = make_actor(database, "Acme", "editor")
    with pytest.raises(TextRefused, match=r"^name: contains a (NUL|lone surrogate)"), \
            database.transaction() as s:
        products.add_product(s, actor, kb, ROUTER | {"name": bad})


def test_import_refuses_nul_naming_the_path(source: Database, tmp_path: Path) -> None:
    doc = export_doc(source, tmp_path)
    doc["tables"]["products"][0]["name"] = "Rou\x00ter"
    path = tmp_path / "nul.json"
    path.write_text(json.dumps(resign(doc)))
    with pytest.raises(transfer.ExportFormatError,
                       match=r"\$\.tables\.products\[0\]\.name: contains a NUL"):
        transfer.import_org(source, path, "Nul", "cli:tester")


@PG
def test_a_sqlite_backup_holding_nul_restores_into_postgresql(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kb: KnowledgeBase) -> None:
    """Written before the edge refused it (or by hand): PostgreSQL cannot store NUL."""
    src = open_backend("sqlite", tmp_path, "src", monkeypatch)
    populate(src, kb)
    with src.engine.begin() as conn:
        conn.execute(sa.text("UPDATE products SET name = 'Rou' || char(0) || 'ter'"))
    transfer.backup(src, tmp_path / "b.zip")
    src.dispose()
    dst = open_backend("postgresql", tmp_path, "dst", monkeypatch, upgrade=False)
    try:
        result = transfer.restore(dst, tmp_path / "b.zip")
        assert [p["name"] for p in dump(dst)["products"]] == ["Rou\ufffdter"]
        assert any("NUL characters replaced" in note for note in result.notes)
    finally:
        dst.dispose()


# ---- 5. keyed audit chain and signed exports --------------------------------------------------


def test_the_chain_is_keyed_and_a_wrong_key_is_named(source: Database,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    acme = org_id(source, "Acme")
    event = next(e for e in dump(source)["audit_events"] if e["org_id"] == acme)
    fields = {k: event[k] for k in audit.HASHED}
    assert event["hash"] != audit.event_hash(event["prev_hash"], fields)  # not plain SHA-256
    assert event["key_id"] == keys.require_key().key_id
    monkeypatch.setenv("PRODSEC_SECRET_KEY", OTHER_KEY)
    with source.transaction() as s:
        report = audit.verify(s, acme)
    assert not report.ok and report.wrong_key
    assert report.problems[0].startswith("wrong secret key: events are keyed with key id")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the CLI path is the same for both
def test_cli_audit_verify_with_a_wrong_key_says_so(source: Database, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    db = source.url.removeprefix("sqlite:///")
    code, out, _ = run_cli("audit", "verify", "--org", "Acme", "--db", db, capsys=capsys)
    assert code == 0 and "intact" in out
    monkeypatch.setenv("PRODSEC_SECRET_KEY", OTHER_KEY)
    code, _, err = run_cli("audit", "verify", "--org", "Acme", "--db", db, capsys=capsys)
    assert code == 1 and "wrong secret key" in err and "Traceback" not in err


def test_unkeyed_events_from_before_keying_still_verify(database: Database) -> None:
    """Events of a chain written before 0005 (key_id NULL, plain SHA-256), then keyed ones."""
    org = "c" * 32
    prev = audit.GENESIS
    with database.transaction() as s:
        s.add(Organisation(id=org, name="Old"))
        s.flush()
        for seq in (1, 2):
            fields = {"org_id": org, "seq": seq, "at": "2026-01-01T00:00:00+00:00",
                      "actor": "old", "action": "x", "entity": "y", "entity_id": "z",
                      "before": None, "after": None}
            digest = audit.event_hash(prev, fields)
            s.add(audit.AuditEvent(**fields, prev_hash=prev, hash=digest, key_id=None))
            prev = digest
        audit.record(s, Actor("x", "x", org, "admin"), "x.keyed", "y", "z")
    with database.transaction() as s:
        report = audit.verify(s, org)
    assert report.ok and report.events == 3 and report.unkeyed == 2
    # a downgrade (an unkeyed event after keyed ones) is not accepted
    with database.transaction() as s:
        last = s.scalars(sa.select(audit.AuditEvent).where(audit.AuditEvent.org_id == org)
                         .order_by(audit.AuditEvent.seq.desc())).first()
        assert last is not None
        fields = {"org_id": org, "seq": 4, "at": "2026-01-01T00:00:00+00:00", "actor": "m",
                  "action": "x", "entity": "y", "entity_id": "z", "before": None, "after": None}
        s.add(audit.AuditEvent(**fields, prev_hash=last.hash,
                               hash=audit.event_hash(last.hash, fields), key_id=None))
    with database.transaction() as s:
        assert "unkeyed after keyed events" in audit.verify(s, org).problems[0]


def test_a_forged_export_with_recomputed_hashes_is_refused(
        source: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Today's forgery: edit an event, recompute the (unkeyed) chain after it."""
    doc = export_doc(source, tmp_path)
    events = sorted(doc["tables"]["audit_events"], key=lambda e: e["seq"])
    events[1]["actor"] = "mallory"
    prev = audit.GENESIS
    for event in events:
        event["prev_hash"] = prev
        event.pop("key_id", None)
        event["hash"] = prev = audit.event_hash(prev, {k: event[k] for k in audit.HASHED})
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(doc))
    target = open_backend("sqlite", tmp_path, "other", monkeypatch)
    with pytest.raises(transfer.TransferError, match="edited or damaged after it was signed"):
        transfer.import_org(target, path, None, "cli:tester")
    del doc["signature"]
    path.write_text(json.dumps(doc))
    with pytest.raises(transfer.SignatureError, match="not signed"):
        transfer.import_org(target, path, None, "cli:tester")
    assert dump(target)["organisations"] == []


@pytest.mark.parametrize("suffix", [".json", ".zip"])
def test_moving_an_export_between_servers_with_different_keys(
        source: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        suffix: str) -> None:
    export = tmp_path / f"acme{suffix}"
    transfer.export_org(source, "Acme", export)  # signed with the test key
    exporter_key = keys.require_key()
    monkeypatch.setenv("PRODSEC_SECRET_KEY", OTHER_KEY)  # the importing server's key
    target = open_backend("sqlite", tmp_path, "other", monkeypatch)
    with pytest.raises(transfer.SignatureError, match="--export-key-file"):
        transfer.import_org(target, export, None, "cli:tester")
    result = transfer.import_org(target, export, None, "cli:tester", export_key=exporter_key)
    assert result.notes == ["ids kept"]
    acme = org_id(target, "Acme")
    with target.transaction() as s:
        report = audit.verify(s, acme)  # re-keyed under the importing server's key
        assert report.ok and report.unkeyed == 0, report.problems
        event = audit.history(s, Actor("x", "x", acme, "viewer"), limit=1)[0]
    assert event["action"] == "org.import" and event["after"]["signature"]["verified"]
    assert blobs(target)


def test_trust_unsigned_is_recorded_and_keeps_history_out_of_the_chain(
        source: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = tmp_path / "acme.zip"
    transfer.export_org(source, "Acme", export)
    exporter_key_id = keys.require_key().key_id
    monkeypatch.setenv("PRODSEC_SECRET_KEY", OTHER_KEY)
    target = open_backend("sqlite", tmp_path, "other", monkeypatch)
    result = transfer.import_org(target, export, None, "cli:tester", trust_unsigned=True)
    assert any("--trust-unsigned" in note for note in result.notes)
    acme = org_id(target, "Acme")
    with target.transaction() as s:
        assert audit.verify(s, acme).ok
        [event] = audit.history(s, Actor("x", "x", acme, "viewer"))
    assert event["after"]["signature"] == {"verified": False, "trust_unsigned": True,
                                           "key_id": exporter_key_id}
    assert len(event["after"]["history"]) >= 10


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the CLI path is the same for both
def test_cli_import_with_the_exporters_key_file(source: Database, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "acme.zip"
    transfer.export_org(source, "Acme", export)
    key_file = tmp_path / "exporter.key"
    key_file.write_text(os.environ["PRODSEC_SECRET_KEY"] + "\n")
    monkeypatch.setenv("PRODSEC_SECRET_KEY", OTHER_KEY)
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "ev2"))
    target = str(tmp_path / "r.db")
    code, _, err = run_cli("import", str(export), "--db", target, capsys=capsys)
    assert code == 2 and "signed with key id" in err and "Traceback" not in err
    code, out, _ = run_cli("import", str(export), "--db", target, "--export-key-file",
                           str(key_file), capsys=capsys)
    assert code == 0 and "imported" in out
    code, out, _ = run_cli("audit", "verify", "--org", "Acme", "--db", target, capsys=capsys)
    assert code == 0 and "intact" in out


def test_the_default_key_file_is_made_on_first_write_with_mode_0600(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODSEC_SECRET_KEY")
    monkeypatch.setenv("PRODSEC_DATA_DIR", str(tmp_path / "data"))
    subprocess.run([sys.executable, "-c", "import prodsec.workspace.transfer, "
                    "prodsec.workspace.audit, prodsec.cli.app"], check=True)
    assert not (tmp_path / "data").exists()  # importing creates nothing
    assert keys.server_key() is None and not (tmp_path / "data").exists()
    key = keys.require_key()
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.require_key() == key and len(path.read_text().strip()) == 64
    monkeypatch.setenv("PRODSEC_SECRET_KEY", "short")
    with pytest.raises(keys.SecretKeyError, match="shorter than 32"):
        keys.server_key()


def test_a_key_never_shows_in_its_repr() -> None:
    key = keys.SecretKey(b"x" * 40, "$PRODSEC_SECRET_KEY")
    assert "xxxx" not in repr(key) and key.key_id in repr(key)

