"""OSV advisories uploaded as a file — the API's request body, the web's form — so the web and
API loop needs no terminal: a single OSV advisory (JSON) or a zip of them, as osv.dev publishes
each ecosystem (``all.zip``).

The upload is checked before anything is queued (a zip within the reader's member and size
bounds holding advisory files; a single file that parses as an OSV advisory): a bad file is
refused with the reason and nothing is imported. A good one is kept in the store under the
organisation's folder until the ``advisories.import`` job has imported it, as ``prodsec advisories
import --background`` does: on PostgreSQL a worker runs it (the caller links to the job); on
SQLite it runs in this process right after the commit. Per-file failures inside a zip are
reported and skipped, as on the command line; each import's report is in the audit trail
(``recent_imports``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from prodsec import jobs
from prodsec.db.models import new_id
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.staging import Staged

#: An upload larger than this is refused while it streams in (osv.dev's largest per-ecosystem
#: all.zip files are a few hundred MB; the zip reader bounds what they expand to).
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
FOLDER = "advisory-uploads"
#: The audit entity an advisory import is recorded under (``vulnerabilities.import_advisories``).
ENTITY = "advisory-database"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str | None) -> str:
    """The upload's file name as kept on disk and shown: its last path part, plain characters."""
    base = Path(str(filename or "")).name
    cleaned = _UNSAFE.sub("-", base).strip(".-")[:100]
    return cleaned or "advisories.json"


def check_upload(path: Path, name: str) -> int:
    """How many advisory files the upload holds; refuses (naming ``name``) a file that is
    neither a readable zip of advisories nor one OSV advisory."""
    from prodsec.formats import osv
    from prodsec.formats._io import read_bytes

    if zipfile.is_zipfile(path):
        count = osv.check_zip(path, name)
        if count == 0:
            raise ValidationFailed("file", f"{name}: the zip holds no OSV advisory files "
                                   f"({', '.join(osv.SUFFIXES)})")
        return count
    data = read_bytes(path, osv.MAX_FILE_BYTES)
    osv.parse(data, name if name.endswith(osv.SUFFIXES) else f"{name}.json")
    return 1


def queue_upload(session: Session, actor: Actor, store: Path, staged: Staged,
                 filename: str | None) -> dict[str, Any]:
    """Check the staged upload, keep it in the store and queue its import in the caller's
    transaction. Returns the job id (None on SQLite, where it runs right after the commit)."""
    actor.require("editor")
    name = safe_name(filename)
    staged.finish()
    files = check_upload(staged.path, name)
    # one file per upload, so each job owns (and, once imported, removes) its own
    target = store / FOLDER / actor.org_id / f"{staged.sha256[:16]}-{new_id()[:8]}-{name}"
    job_id = jobs.enqueue(session, "advisories.import", actor=actor, path=str(target),
                          source_name=name, uploaded=True)
    staged.claim(target)  # last: a refusal above leaves no file behind
    return {"job": job_id, "queued": job_id is not None, "file": name, "files": files,
            "sha256": staged.sha256, "size": staged.size}


def recent_imports(session: Session, actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
    """The organisation's advisory imports, newest first: who, when, the source and what
    changed (added, updated, unchanged, removed, failed files, findings)."""
    events, _ = audit.events_page(session, actor, entity=ENTITY, limit=limit)
    return [_import_view(e) for e in events if e["action"] == "advisories.import"]


def _import_view(event: dict[str, Any]) -> dict[str, Any]:
    after = event["after"] or {}
    return {"at": event["at"], "by": event["actor"], "source": after.get("source"),
            "files": after.get("files", 0), "added": after.get("added", 0),
            "updated": after.get("updated", 0), "unchanged": after.get("unchanged", 0),
            "removed": after.get("removed", 0), "withdrawn": after.get("withdrawn", 0),
            "failed_files": list(after.get("failed_files") or []),
            "findings": dict(after.get("findings") or {})}
