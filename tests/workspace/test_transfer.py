"""Backup/restore of the workspace and export/import of an organisation, on SQLite and
PostgreSQL and across them: round-trip equality, refusal of non-empty targets and tampered
archives, all-or-nothing writes, and a SIGKILL in the middle of an import."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database, open_database
from prodsec.db.models import Base
from prodsec.workspace import audit, compliance, keys, products, transfer, users
from prodsec.workspace.context import Actor
from tests.workspace.conftest import POSTGRES, make_actor, reset_postgres

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
AS_OF = dt.date(2026, 11, 27)
PG = pytest.mark.skipif(not POSTGRES, reason="PRODSEC_TEST_POSTGRES_URL not set")


# ---- helpers ---------------------------------------------------------------------------------


def open_backend(kind: str, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch,
                 fresh: bool = True, upgrade: bool = True) -> Database:
    """A database of ``kind`` with its own evidence directory."""
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / f"{name}.evidence"))
    if kind == "sqlite":
        return open_database(str(tmp_path / f"{name}.db"), upgrade=upgrade)
    assert POSTGRES
    if fresh:
        reset_postgres(POSTGRES)
    return open_database(POSTGRES, upgrade=upgrade)


def populate(db: Database, kb: KnowledgeBase) -> Actor:
    """Two organisations; one with a product, release, assessment, statuses, evidence (a file
    and a URL), links, a control, a viewer and an API token."""
    admin = make_actor(db, "Acme", "admin", "admin@acme.example")
    make_actor(db, "Acme", "viewer")
    with db.transaction() as s:
        users.create_token(s, admin, admin.email, "ci")
        product = products.add_product(s, admin, kb, ROUTER)
        products.add_release(s, admin, product.id, "1.0", dt.date(2026, 3, 1),
                             dt.date(2031, 3, 1), "five years")
        products.assess(s, admin, kb, product.id, AS_OF)
        row = compliance.find_status(s, admin, product.id, "uk-psti:schedule-1:1")
        compliance.set_status(s, admin, row, "met", None, None)
        na = compliance.find_status(s, admin, product.id, "eu-cra:annex-i:part-i:2:m")
        compliance.set_status(s, admin, na, "not-applicable", "stores no user data", None)
        evidence = compliance.add_evidence(s, admin, db.evidence_dir, "Pentest",
                                           stream=io.BytesIO(b"pentest report\n" * 100),
                                           filename="pentest.txt", expires_on=AS_OF)
        compliance.link_evidence(s, admin, evidence, status=row)
        control = compliance.add_control(s, admin, kb, "Unique passwords",
                                         ["uk-psti:schedule-1:1", "eu-cra:annex-i:part-i:2:d"])
        compliance.link_evidence(s, admin, evidence, control=control)
        compliance.add_evidence(s, admin, db.evidence_dir, "Policy",
                                url="https://example.com/policy")
    make_actor(db, "Globex", "admin")
    return admin


def dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    with transfer.snapshot(db) as conn:
        return {t.name: list(transfer.dump_rows(conn, t)) for t in transfer.reflect(conn)}


def blobs(db: Database) -> dict[str, bytes]:
    root = db.evidence_dir
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)}


def org_ids(db: Database) -> list[str]:
    return [row["id"] for row in dump(db)["organisations"]]


def org_id(db: Database, name: str) -> str:
    return next(row["id"] for row in dump(db)["organisations"] if row["name"] == name)


def chains_ok(db: Database) -> None:
    with db.transaction() as s:
        for org_id in org_ids(db):
            report = audit.verify(s, org_id)
            assert report.ok, report.problems


def rewrite_zip(source: Path, target: Path, change: dict[str, bytes],
                fix_manifest: bool = False) -> None:
    """Copy an archive with some members replaced (and the manifest hashes updated or not)."""
    with zipfile.ZipFile(source) as zin:
        members = {name: zin.read(name) for name in zin.namelist()}
    members.update(change)
    if fix_manifest:
        manifest = json.loads(members["manifest.json"])
        for entry in manifest["tables"]:
            entry["sha256"] = transfer.sha256_of(io.BytesIO(members[entry["file"]]))
        transfer.sign_document(manifest, keys.require_key())  # as if by the server itself
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(target, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its production cost is most of a test's time here; nothing in these tests
    depends on the cost."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=64,
                                                                 parallelism=1))


@pytest.fixture
def source(database: Database, kb: KnowledgeBase) -> Database:
    populate(database, kb)
    return database


# ---- backup and restore ----------------------------------------------------------------------


DIRECTIONS = [("sqlite", "sqlite"),
              pytest.param("sqlite", "postgresql", marks=PG),
              pytest.param("postgresql", "sqlite", marks=PG)]


@pytest.mark.parametrize(("from_kind", "to_kind"), DIRECTIONS)
def test_backup_restore_round_trip(from_kind: str, to_kind: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, kb: KnowledgeBase) -> None:
    src = open_backend(from_kind, tmp_path, "src", monkeypatch)
    admin = populate(src, kb)
    archive = tmp_path / "backup.zip"
    result = transfer.backup(src, archive)
    assert result.blobs == 1 and result.tables["products"] == 1
    before, before_blobs = dump(src), blobs(src)
    src.dispose()

    dst = open_backend(to_kind, tmp_path, "dst", monkeypatch, fresh=from_kind != to_kind,
                       upgrade=False)
    try:
        transfer.restore(dst, archive)
        assert dump(dst) == before
        assert blobs(dst) == before_blobs
        chains_ok(dst)
        # counters continue after the restored ids (PostgreSQL sequences were moved on)
        with dst.transaction() as s:
            compliance.add_control(s, admin, kb, "After restore", ["uk-psti:schedule-1:1"])
        chains_ok(dst)
    finally:
        dst.dispose()


def test_every_model_table_is_in_the_backup(source: Database, tmp_path: Path) -> None:
    transfer.backup(source, tmp_path / "b.zip")
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        manifest = json.loads(zf.read("manifest.json"))
    names = {entry["name"] for entry in manifest["tables"]}
    assert {t.name for t in Base.metadata.sorted_tables} - transfer.TRANSIENT <= names
    assert not names & transfer.TRANSIENT  # recent failed logins are not workspace data
    assert manifest["schema_revision"] and manifest["format_version"] == 1


def test_backup_is_one_consistent_snapshot(source: Database, tmp_path: Path,
                                           kb: KnowledgeBase) -> None:
    """A product written while the backup runs (after the first table was read) is not in it."""
    admin_org = org_id(source, "Acme")

    def write_meanwhile(table: str) -> None:
        if table == "audit_events":
            actor = Actor("x", "writer@acme.example", admin_org, "admin")
            with source.transaction() as s:
                products.add_product(s, actor, kb, ROUTER | {"name": "Written meanwhile"})

    transfer.backup(source, tmp_path / "b.zip", after_table=write_meanwhile)
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        names = [json.loads(x)["name"] for x in zf.read("tables/products.jsonl").splitlines()]
    assert names == [ROUTER["name"]]
    assert "Written meanwhile" in [r["name"] for r in dump(source)["products"]]


def test_restore_refuses_a_non_empty_database(source: Database, tmp_path: Path) -> None:
    transfer.backup(source, tmp_path / "b.zip")
    digest = transfer.content_digest(source)
    with pytest.raises(transfer.TargetNotEmpty, match="not empty"):
        transfer.restore(source, tmp_path / "b.zip")
    assert transfer.content_digest(source) == digest


@pytest.mark.parametrize("member", ["tables/products.jsonl", "evidence"])
def test_restore_refuses_a_tampered_archive(source: Database, tmp_path: Path, member: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    good, bad = tmp_path / "b.zip", tmp_path / "bad.zip"
    transfer.backup(source, good)
    with zipfile.ZipFile(good) as zf:
        name = next(n for n in zf.namelist() if n.startswith(member))
        data = zf.read(name)
    rewrite_zip(good, bad, {name: data.replace(b"Router", b"Rooter").replace(b"pentest", b"x")})
    target = open_backend("sqlite", tmp_path, "target", monkeypatch, upgrade=False)
    with pytest.raises(transfer.ArchiveError, match="SHA-256"):
        transfer.restore(target, bad)
    assert all(rows == [] for rows in dump(target).values())
    assert blobs(target) == {}


def test_failed_restore_leaves_nothing(source: Database, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A row that breaks a constraint midway: rows rolled back, staged blobs removed."""
    good, bad = tmp_path / "b.zip", tmp_path / "bad.zip"
    transfer.backup(source, good)
    with zipfile.ZipFile(good) as zf:
        links = zf.read("tables/evidence_links.jsonl")
    rewrite_zip(good, bad, {"tables/evidence_links.jsonl": links + links}, fix_manifest=True)
    target = open_backend("sqlite", tmp_path, "target", monkeypatch, upgrade=False)
    with pytest.raises(transfer.TransferError, match="evidence_links"):
        transfer.restore(target, bad)
    assert all(rows == [] for rows in dump(target).values())
    assert blobs(target) == {}
    assert list(target.evidence_dir.glob(".staging-*")) == []


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    target = open_backend("sqlite", tmp_path, "target", monkeypatch, upgrade=False)
    (tmp_path / "x.zip").write_text("hello")
    with pytest.raises(transfer.ArchiveError, match=r"x\.zip"):
        transfer.restore(target, tmp_path / "x.zip")
    with zipfile.ZipFile(tmp_path / "y.zip", "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "prodsec-backup",
                                                 "format_version": 99}))
    with pytest.raises(transfer.ArchiveError, match=r"\$\.format_version"):
        transfer.restore(target, tmp_path / "y.zip")


# ---- export and import -----------------------------------------------------------------------


def org_content(db: Database, org_name: str) -> dict[str, Any]:
    """What an organisation holds, without ids (they may be remapped)."""
    data = dump(db)
    org_id = next(o["id"] for o in data["organisations"] if o["name"] == org_name)
    mine = {name: [r for r in rows if r.get("org_id") == org_id] for name, rows in data.items()}
    files = blobs(db)
    return {
        "products": sorted((p["name"], json.dumps(p["profile"], sort_keys=True), p["version"])
                           for p in mine["products"]),
        "releases": sorted((r["version_label"], r["support_end"]) for r in mine["releases"]),
        "statuses": sorted((r["requirement_id"], r["status"], r["justification"], r["version"])
                           for r in mine["requirement_statuses"]),
        "controls": sorted((c["name"], tuple(c["requirements"])) for c in mine["controls"]),
        "evidence": sorted((e["title"], e["sha256"] or "", e["url"] or "",
                            files.get(f"{e['sha256'][:2]}/{e['sha256']}", b"")
                            if e["sha256"] else b"") for e in mine["evidence"]),
        "links": len(mine["evidence_links"]),
        "members": sorted(
            (u["email"], m["role"]) for m in data["memberships"] if m["org_id"] == org_id
            for u in data["users"] if u["id"] == m["user_id"]),
    }


@pytest.mark.parametrize("suffix", [".zip", ".json"])
def test_export_import_into_another_workspace_keeps_ids_and_history(
        source: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    export = tmp_path / f"acme{suffix}"
    transfer.export_org(source, "Acme", export)
    with source.transaction() as s:
        source_events = audit.count(s, org_id(source, "Acme"))
    target = open_backend("sqlite", tmp_path, "other", monkeypatch)
    result = transfer.import_org(target, export, None, "cli:tester")
    assert result.notes == ["ids kept"]
    assert org_content(target, "Acme") == org_content(source, "Acme")
    acme = next(o for o in dump(target)["organisations"] if o["name"] == "Acme")
    assert acme["id"] == next(o["id"] for o in dump(source)["organisations"]
                              if o["name"] == "Acme")
    with target.transaction() as s:
        report = audit.verify(s, acme["id"])
        assert report.ok and report.events == source_events + 1
        assert audit.history(s, Actor("x", "x", acme["id"], "viewer"), limit=1)[0]["action"] \
            == "org.import"
    users_here = dump(target)["users"]
    assert all(u["password_hash"] is None for u in users_here)
    assert dump(target)["api_tokens"] == []


def test_import_under_another_name_remaps_ids(source: Database, tmp_path: Path) -> None:
    """Into the same workspace every id is taken, so all are new; the history travels inside
    the org.import event and the new chain verifies."""
    export = tmp_path / "acme.zip"
    transfer.export_org(source, "Acme", export)
    with pytest.raises(transfer.OrganisationExists, match="--org"):
        transfer.import_org(source, export, None, "cli:tester")
    result = transfer.import_org(source, export, "Acme Copy", "cli:tester")
    assert result.notes[-1] == "ids remapped (they exist here)"
    # the members' accounts exist here: never attached to the copy, each named in a note
    assert len(result.notes) == 3 and "admin@acme.example not added" in result.notes[0]
    copy, original = org_content(source, "Acme Copy"), org_content(source, "Acme")
    assert copy.pop("members") == [] and original.pop("members")
    assert copy == original
    chains_ok(source)
    copy_id = next(o["id"] for o in dump(source)["organisations"] if o["name"] == "Acme Copy")
    with source.transaction() as s:
        [event] = audit.history(s, Actor("x", "x", copy_id, "viewer"))
    assert event["action"] == "org.import" and event["after"]["ids"] == "remapped"
    assert len(event["after"]["history"]) >= 10
    assert event["after"]["id_map"]["products"]


def test_import_refuses_a_broken_history(source: Database, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Edited after export: the signature refuses it; even with the signature stripped and
    --trust-unsigned, a history whose plain links are broken is refused."""
    export = tmp_path / "acme.json"
    transfer.export_org(source, "Acme", export)
    doc = json.loads(export.read_text())
    doc["tables"]["audit_events"][1]["seq"] = 7
    export.write_text(json.dumps(doc))
    target = open_backend("sqlite", tmp_path, "other", monkeypatch)
    with pytest.raises(transfer.SignatureError, match="edited or damaged after it was signed"):
        transfer.import_org(target, export, None, "cli:tester")
    del doc["signature"]
    export.write_text(json.dumps(doc))
    with pytest.raises(transfer.ExportFormatError,
                       match=r"\$\.tables\.audit_events\[2\]: event 2 is missing"):
        transfer.import_org(target, export, None, "cli:tester", trust_unsigned=True)


def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from prodsec.cli.app import run

    with pytest.raises(SystemExit) as exit_info:
        run(list(args))
    out = capsys.readouterr()
    return int(exit_info.value.code or 0), out.out, out.err


BAD_DOCUMENTS = [
    ("not json {", r"\$: not JSON"),
    (json.dumps({"format": "prodsec-organisation-export", "format_version": 7}),
     r"\$\.format_version: 7 is not supported"),
    (json.dumps({"format": "prodsec-organisation-export", "format_version": 1,
                 "organisation": {"id": "a" * 32, "name": "X", "created_at": "2026-01-01T00:00:00"},
                 "members": [], "blobs": [],
                 "tables": {"products": [{"id": "b" * 32, "org_id": "a" * 32, "name": 5}]}}),
     r"\$\.tables\.products\[0\]\.name: expected a string.*\n.*\$\.tables\.products\[0\]\."
     r"profile: missing"),
]


@pytest.mark.parametrize(("content", "expected"), BAD_DOCUMENTS)
def test_import_bad_input_exits_2_naming_file_and_path(
        content: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "ev"))
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, _out, err = run_cli("import", str(bad), "--db", str(tmp_path / "t.db"), capsys=capsys)
    assert code == 2
    assert str(bad) in err
    assert __import__("re").search(expected, err), err
    assert "Traceback" not in err


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the CLI path is the same for both
def test_cli_backup_restore_export_import(source: Database, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db = source.url.removeprefix("sqlite:///")
    code, out, _ = run_cli("db", "backup", str(tmp_path / "b.zip"), "--db", db, capsys=capsys)
    assert code == 0 and "1 evidence files" in out
    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "ev2"))
    code, _, _ = run_cli("db", "restore", str(tmp_path / "b.zip"), "--db",
                         str(tmp_path / "r.db"), capsys=capsys)
    assert code == 0
    code, _, err = run_cli("db", "restore", str(tmp_path / "b.zip"), "--db",
                           str(tmp_path / "r.db"), capsys=capsys)
    assert code == 2 and "not empty" in err
    code, _, _ = run_cli("export", "Acme", str(tmp_path / "e.zip"), "--db", db, capsys=capsys)
    assert code == 0
    code, out, _ = run_cli("import", str(tmp_path / "e.zip"), "--org", "Acme 2", "--db",
                           str(tmp_path / "r.db"), capsys=capsys)
    assert code == 0 and "Acme 2" in out
    code, out, _ = run_cli("audit", "verify", "--org", "Acme 2", "--db", str(tmp_path / "r.db"),
                           capsys=capsys)
    assert code == 0 and "intact" in out


# ---- crash safety ------------------------------------------------------------------------------


def test_recovery_publishes_committed_and_drops_uncommitted_blobs(source: Database) -> None:
    """A transfer killed after its commit (blob referenced) or before it (blob orphaned)."""
    referenced = next(r["sha256"] for r in dump(source)["evidence"] if r["sha256"])
    kept = compliance.blob_path(source.evidence_dir, referenced)
    data = kept.read_bytes()
    kept.chmod(0o644)
    kept.unlink()
    staging = source.evidence_dir / ".staging-dead"
    staging.mkdir()
    (staging / referenced).write_bytes(data)
    (staging / ("f" * 64)).write_bytes(b"orphan")
    assert transfer.recover_staging(source) == 1
    assert kept.read_bytes() == data
    assert not staging.exists()
    assert all("f" * 64 not in name for name in blobs(source))


def test_kill_during_import_leaves_the_database_unchanged(source: Database,
                                                         tmp_path: Path) -> None:
    """SIGKILL ``prodsec import`` in the middle of its transaction (rows of half the tables
    written, the evidence file staged): same rows, same content hash, no blob in the store."""
    export = tmp_path / "acme.zip"
    transfer.export_org(source, "Acme", export)
    digest = transfer.content_digest(source)
    store, marker = tmp_path / "import-evidence", tmp_path / "paused"
    db_arg = source.url.removeprefix("sqlite:///") if source.is_sqlite else str(POSTGRES)
    env = {**os.environ, "PRODSEC_EVIDENCE_DIR": str(store)}
    with subprocess.Popen([sys.executable, "-c", PAUSED_IMPORT, str(marker), "import",
                           str(export), "--org", "Acme Copy", "--db", db_arg], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            wait_for(marker, proc)
            staged = [p.name for p in store.glob(".staging-*/*") if not p.name.startswith(".")]
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert marker.read_text().startswith("inserting ")
    assert len(staged) == 1
    assert transfer.content_digest(source) == digest
    leftovers = [p for p in store.rglob("*") if p.is_file() and ".staging-" not in str(p)]
    assert leftovers == [], [(p, p.read_bytes()[:50]) for p in leftovers]
    target = dataclasses.replace(source, evidence_dir=store)
    assert transfer.recover_staging(target) == 1  # the abandoned staging is cleaned up
    assert list(store.glob(".staging-*")) == []
    referenced = {r["sha256"] for r in dump(source)["evidence"]}
    assert {Path(name).name for name in blobs(target)} <= referenced  # no orphan
    transfer.import_org(target, export, "Acme Copy", "cli:tester")  # and it works afterwards
    assert blobs(target)


# The CLI in a child process, with the transfer's test seam set to stop mid-transaction.
PAUSED_IMPORT = """
import sys, time
from pathlib import Path
from prodsec.workspace.transfer import importing
from prodsec.cli.app import run

def pause(stage):
    Path(sys.argv[1]).write_text(stage)
    time.sleep(60)

importing.checkpoint = pause
run(sys.argv[2:])
"""


def wait_for(marker: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(proc.communicate())
        assert time.monotonic() < deadline, "the import never reached its pause point"
        time.sleep(0.05)
