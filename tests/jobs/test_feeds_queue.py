"""Feed imports as jobs on the real PostgreSQL: enqueued in the caller's transaction, proposals
exactly once under concurrent imports, and the whole path from a KEV file dropped in the
watched folder to an Article 14 case whose clocks run."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from prodsec import jobs
from prodsec.db.engine import Database
from prodsec.db.models import CaseProposal, FeedImport
from prodsec.services.knowledge import knowledge_base
from prodsec.workspace import article14, feeds, proposals, sbom_import
from prodsec.workspace import proposal_decisions as decisions
from prodsec.workspace import vulnerabilities as vulns
from tests.jobs.test_queue import NEEDS_POSTGRES, pg  # noqa: F401 (fixture)
from tests.workspace import feed_data as fd
from tests.workspace.conftest import make_actor

pytestmark = NEEDS_POSTGRES
FUTURE = dt.date.today() + dt.timedelta(days=5 * 365)


def _jobs(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as c:
        return [dict(r) for r in c.execute(text(
            "SELECT id, task_name, status::text AS status, args FROM procrastinate_jobs "
            "WHERE task_name NOT IN ('prodsec.retry_stalled_jobs', 'prodsec.remove_old_jobs') "
            "AND task_name NOT LIKE 'notifications.%' "  # the notifications' periodic jobs
            "ORDER BY id")).mappings()]


def test_feed_imports_are_enqueued_in_the_callers_transaction(pg: Database,  # noqa: F811
                                                              tmp_path: Path) -> None:
    editor = make_actor(pg, "Acme", "editor")
    scores = tmp_path / "epss.csv"
    scores.write_bytes(fd.epss_csv("2025-09-03", {fd.SALT_CVE: 0.97}))
    with pytest.raises(RuntimeError), pg.transaction() as s:
        jobs.enqueue(s, "epss.import", actor=editor, path=str(scores), sha256="a" * 64)
        jobs.enqueue(s, "euvd.import", actor=editor, path=str(tmp_path / "e.json"))
        raise RuntimeError("the change that queued them fails")
    assert _jobs(pg) == []
    with pg.transaction() as s:
        first = jobs.enqueue(s, "epss.import", actor=editor, path=str(scores), sha256="a" * 64)
        # the same file waiting already: not queued twice
        assert jobs.enqueue(s, "epss.import", actor=editor, path=str(scores),
                            sha256="a" * 64) is None
    assert [r["id"] for r in _jobs(pg)] == [first]
    jobs.run_worker(pg, wait=False)
    assert [r["status"] for r in _jobs(pg) if r["task_name"] == "epss.import"] == ["succeeded"]
    with pg.transaction() as s:
        assert [r["counts"]["new"] for r in feeds.list_runs(s, editor)] == [1]


def test_two_concurrent_imports_propose_the_case_once(pg: Database,  # noqa: F811
                                                      tmp_path: Path) -> None:
    editor = make_actor(pg, "Acme", "editor")
    fd.release(pg, editor, "Router", FUTURE)
    with pg.transaction() as s:
        vulns.import_advisories(s, editor, fd.osv_dir(tmp_path / "osv"))
    files = [(fd.KEV.read_bytes(), "kev.json"), (fd.euvd_exploited(fd.SALT_CVE), "euvd.json")]
    start = threading.Barrier(2)
    made: list[list[str]] = []
    errors: list[BaseException] = []

    def run(data: bytes, name: str) -> None:
        try:
            with pg.transaction() as s:
                start.wait(10)  # both transactions are open before either proposes
                view = feeds.import_feed(s, editor, data, name)
            made.append([p["vulnerability"] for p in view["proposals"]])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=f) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(v.count(fd.SALT_CVE) for v in made) == 1  # one of the two proposed it
    with pg.transaction() as s:
        rows = s.scalars(select(CaseProposal.vulnerability)).all()
        assert rows.count(fd.SALT_CVE) == 1
        assert s.scalar(select(func.count()).select_from(FeedImport)) == 2


def test_advisory_import_job_imports_its_kev_as_a_feed(pg: Database,  # noqa: F811
                                                      tmp_path: Path) -> None:
    """``advisories import --background --kev``: the job records the catalogue as a feed import,
    and the rescans it queues propose the case (the KEV is stored by then)."""
    editor = make_actor(pg, "Acme", "editor")
    fd.release(pg, editor, "Router", FUTURE)
    with pg.transaction() as s:
        jobs.enqueue(s, "advisories.import", actor=editor,
                     path=str(fd.osv_dir(tmp_path / "osv")), kev=str(fd.KEV))
    jobs.run_worker(pg, wait=False)
    ran = {r["task_name"]: r["status"] for r in _jobs(pg)}  # and maybe a periodic watch
    assert {ran.get("advisories.import"), ran.get("findings.rescan_release")} == {"succeeded"}
    with pg.transaction() as s:
        assert [(r["kind"], r["counts"]["new"]) for r in feeds.list_runs(s, editor)] == [
            ("kev", 48)]
        assert fd.SALT_CVE in {p["vulnerability"] for p in proposals.list_proposals(s, editor)}


def test_kev_file_dropped_in_the_watched_folder_ends_in_a_running_case(
        pg: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    editor = make_actor(pg, "Acme", "editor")
    folder = tmp_path / "feeds"
    folder.mkdir()
    monkeypatch.setenv(feeds.DIR_ENV, str(folder))
    monkeypatch.setenv(feeds.ORG_ENV, "Acme")
    pid = fd.release(pg, editor, "Router", FUTURE)
    (folder / "known_exploited_vulnerabilities.json").write_bytes(fd.KEV.read_bytes())
    with pg.transaction() as s:
        jobs.enqueue(s, "prodsec.watch_feeds")  # what the periodic job does every minute
    jobs.run_worker(pg, wait=False)
    jobs.run_worker(pg, wait=False)  # the import the watch queued
    with pg.transaction() as s:
        assert [r["kind"] for r in feeds.list_runs(s, editor)] == ["kev"]
        assert proposals.list_proposals(s, editor) == []  # no finding yet: nothing to propose
        report = vulns.import_advisories(s, editor, fd.osv_dir(tmp_path / "osv"), rescan="job")
    assert report.findings == {"releases": 1, "queued": 1}
    jobs.run_worker(pg, wait=False)  # the rescan finds salt 3000 affected: exploited (KEV)
    assert {r["task_name"]: r["status"] for r in _jobs(pg)} == {
        "prodsec.watch_feeds": "succeeded", "kev.import": "succeeded",
        "findings.rescan_release": "succeeded"}
    with pg.transaction() as s:
        waiting = {p["vulnerability"]: p for p in proposals.list_proposals(s, editor)}
    assert fd.SALT_CVE in waiting and waiting[fd.SALT_CVE]["product_id"] == pid
    aware = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    with pg.transaction() as s:
        confirmed = decisions.confirm(s, editor, waiting[fd.SALT_CVE]["id"], aware)
        view = article14.case_view(s, knowledge_base(),
                                   article14.get_case(s, editor, confirmed.case_id or ""))
    stages = {st["stage"]: st for st in view["stages"]}
    assert dt.datetime.fromisoformat(stages["early-warning"]["due"]) == aware + dt.timedelta(
        hours=24)
    assert 21.5 <= stages["early-warning"]["remaining_hours"] <= 22.0
    assert dt.datetime.fromisoformat(stages["notification"]["due"]) == aware + dt.timedelta(
        hours=72)
    assert confirmed.proposed_at < confirmed.decided_at + dt.timedelta(seconds=1)
    # the same file again: skipped by content, no new job
    (folder / "again.json").write_bytes(fd.KEV.read_bytes())
    with pg.transaction() as s:
        jobs.enqueue(s, "prodsec.watch_feeds")
    jobs.run_worker(pg, wait=False)
    assert [r["task_name"] for r in _jobs(pg)].count("kev.import") == 1


def test_sbom_change_rescans_only_that_release_and_keeps_triage(pg: Database,  # noqa: F811
                                                                tmp_path: Path) -> None:
    from prodsec.workspace import vex

    editor = make_actor(pg, "Acme", "editor")
    a, b = (fd.release(pg, editor, name, FUTURE) for name in ("A", "B"))
    with pg.transaction() as s:
        vulns.import_advisories(s, editor, fd.osv_dir(tmp_path / "osv"))  # both flagged inline
        vex.set_statement(s, editor, a, "PYSEC-2020-102", "not_affected",
                          justification="code_not_reachable")
        release_a = vulns.get_release(s, editor, a, "1.0").id
        kept = {f["id"] for f in vulns.list_findings(s, editor, b)}
    with pg.transaction() as s:
        sbom_import.import_sbom(s, editor, a, "1.0", fd.sbom(("salt", "3000"), ("requests", "2.19.0")),
                          "sbom2.json", rescan="job")
    rescans = [r for r in _jobs(pg) if r["task_name"] == "findings.rescan_release"]
    assert [r["args"]["release_id"] for r in rescans] == [release_a]  # not B's
    jobs.run_worker(pg, wait=False)
    with pg.transaction() as s:
        states = {f["vulnerability"]: f["state"] for f in vulns.list_findings(s, editor, a)}
        assert states["PYSEC-2020-102"] == "not_affected"  # the triage survived the rescan
        assert {f["id"] for f in vulns.list_findings(s, editor, b)} == kept
