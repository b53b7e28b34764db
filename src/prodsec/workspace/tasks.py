"""The workspace's jobs: advisory and KEV imports and incremental rescans.

Each task opens its own transaction and writes its whole result in it, so a worker killed
mid-job leaves nothing half-done and the job's next attempt starts clean. Rescans take the
procrastinate lock ``release:<id>`` (one rescan of a release at a time, on any worker) and the
queueing lock ``rescan:<id>`` (one waiting rescan per release: a second change while one waits
is covered by it, since it reads the data when it runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prodsec import jobs
from prodsec.db.engine import Database
from prodsec.workspace.context import Actor


def as_actor(data: dict[str, Any]) -> Actor:
    """The person a job runs as (stored in its arguments when it was queued)."""
    return Actor(str(data["user_id"]), str(data["email"]), str(data["org_id"]), str(data["role"]))


@jobs.task("advisories.import", max_attempts=3, lock=lambda a: f"advisories:{a['org_id']}")
def import_advisories(db: Database, actor: dict[str, Any], org_id: str, path: str,
                      kev: str | None = None) -> dict[str, Any]:
    """Import an OSV directory/zip (and a KEV catalogue) then queue a rescan of each release
    that contains a package whose advisories changed — only those."""
    from prodsec.formats import osv
    from prodsec.formats._io import read_bytes
    from prodsec.workspace.vulnerabilities import import_advisories as run
    from prodsec.workspace.vulnerabilities import import_kev

    who = as_actor(actor)
    source = Path(path)
    total = osv.count_files(source) if source.exists() else None
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if done[0] % 200 == 0:
            jobs.report_progress(done[0], total, f"reading {source.name}")

    with db.transaction() as session:
        report = run(session, who, source, advance, rescan="job")
        kev_new = import_kev(session, who, read_bytes(Path(kev)), kev) if kev else None
    jobs.report_progress(done[0], total, f"imported; {report.findings.get('queued', 0)} "
                         "release rescans queued")
    return report.to_dict() | ({"kev_new": kev_new} if kev else {})


@jobs.task("kev.import", max_attempts=3, lock=lambda a: f"advisories:{a['org_id']}")
def import_kev(db: Database, actor: dict[str, Any], org_id: str, path: str) -> dict[str, int]:
    """Import a CISA KEV catalogue (known-exploited flags are read at query time: no rescan)."""
    from prodsec.formats._io import read_bytes
    from prodsec.workspace.vulnerabilities import import_kev as run

    with db.transaction() as session:
        return {"new": run(session, as_actor(actor), read_bytes(Path(path)), path)}


@jobs.task("findings.rescan_release", max_attempts=5,
           lock=lambda a: f"release:{a['release_id']}",
           queueing_lock=lambda a: f"rescan:{a['release_id']}")
def rescan_release(db: Database, actor: dict[str, Any], org_id: str,
                   release_id: str) -> dict[str, int]:
    """Bring one release's findings in line with its SBOM and the advisories, in one
    transaction (triage lives apart, in VEX statements, and is untouched)."""
    from prodsec.workspace.vulnerabilities import recompute_findings

    jobs.report_progress(0, 1, f"rescanning release {release_id}")
    with db.transaction() as session:
        counts = recompute_findings(session, as_actor(actor), [release_id])
    jobs.report_progress(1, 1, f"added {counts['added']}, removed {counts['removed']}, "
                         f"kept {counts['kept']}")
    return counts
