"""Downloads from the command line: an earlier generated document and an evidence file, byte
for byte, through the services the API and the web use; the evidence expiry set and cleared."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from tests.cli.test_workspace_cli import ROUTER, ok, run


def test_document_and_evidence_download(tmp_path: Path) -> None:
    ok(tmp_path, "product", "add", "examples/products/router.yaml")
    ok(tmp_path, "assess", ROUTER)
    issued = tmp_path / "tf.md"
    ok(tmp_path, "document", "technical-file", ROUTER, "--draft", "-f", "md", "-o", str(issued))
    (record,) = json.loads(ok(tmp_path, "document", "list", ROUTER, "-f", "json"))
    copy = tmp_path / "again.md"
    done = run(tmp_path, "document", "download", record["id"], "-o", str(copy))
    assert done.returncode == 0, done.stderr
    assert copy.read_bytes() == issued.read_bytes()
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == record["sha256"]
    unknown = run(tmp_path, "document", "download", "0" * 32, "-o", str(copy))
    assert unknown.returncode == 2 and "no generated document" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    evidence = tmp_path / "pentest.bin"
    evidence.write_bytes(b"\x00\xffpassword test passed")
    ok(tmp_path, "status", ROUTER, "uk-psti:schedule-1:1", "--set", "met",
       "--evidence", str(evidence))
    events = ok(tmp_path, "audit", "verify")
    assert "intact" in events
    gaps = json.loads(ok(tmp_path, "gaps", ROUTER, "--format", "json"))
    assert gaps["expiring_evidence"] == []
    out = tmp_path / "out.bin"
    eid = _evidence_id(tmp_path)
    ok(tmp_path, "evidence", "download", eid, "-o", str(out))
    assert out.read_bytes() == evidence.read_bytes()
    ok(tmp_path, "evidence", "expire", eid, "--on", "2026-01-01")
    gaps = json.loads(ok(tmp_path, "gaps", ROUTER, "--format", "json"))
    assert gaps["expiring_evidence"][0]["expired"] is True
    assert "never" in ok(tmp_path, "evidence", "expire", eid, "--on", "")
    bad = run(tmp_path, "evidence", "expire", eid, "--on", "soon")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def _evidence_id(tmp_path: Path) -> str:
    """The id of the one evidence item, read from the workspace file (the CLI names evidence
    ids only where it lists expiring evidence)."""
    import sqlite3

    with sqlite3.connect(tmp_path / "ws.db") as conn:
        (eid,) = conn.execute("SELECT id FROM evidence").fetchone()
    assert re.fullmatch(r"[0-9a-f]{32}", eid)
    return str(eid)
