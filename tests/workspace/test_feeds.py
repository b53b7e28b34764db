"""Feeds as files (KEV, EPSS, EUVD), the exploitation signals on findings, and the Article 14
cases they propose — on SQLite and, with PRODSEC_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodsec.db.engine import Database
from prodsec.db.models import CaseProposal, EpssScore, EuvdEntry, FeedImport, NotificationEvent
from prodsec.errors import FormatError
from prodsec.services.knowledge import knowledge_base
from prodsec.workspace import article14, feeds, proposals, vex
from prodsec.workspace import proposal_decisions as decisions
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor, Conflict, NotFound, PermissionDenied, ValidationFailed
from prodsec.workspace.tasks import queue_folder
from tests.workspace import feed_data as fd

FUTURE = dt.date.today() + dt.timedelta(days=5 * 365)


def _import(db: Database, actor: Actor, data: bytes, name: str,
            kind: str | None = None) -> dict:
    with db.transaction() as s:
        return feeds.import_feed(s, actor, data, name, kind)


def _count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _with_advisories(db: Database, actor: Actor, tmp_path: Path, name: str = "Router",
                     support_end: dt.date | None = FUTURE) -> str:
    pid = fd.release(db, actor, name, support_end)
    with db.transaction() as s:
        vulns.import_advisories(s, actor, fd.osv_dir(tmp_path / "osv"))
    return pid


# ---- incremental imports, each file once --------------------------------------------------


def test_epss_import_is_incremental_and_recorded_per_file(database: Database,
                                                          editor: Actor) -> None:
    first = _import(database, editor, fd.epss_csv("2025-09-03", {"CVE-2020-11651": 0.9,
                                                                "CVE-2024-25176": 0.1}), "a.csv")
    assert first["counts"] == {"records": 2, "new": 2, "changed": 0, "unchanged": 0}
    second = _import(database, editor, fd.epss_csv("2025-09-04", {
        "CVE-2020-11651": 0.9, "CVE-2024-25176": 0.2, "CVE-2023-2274": 0.01}, gz=True), "b.gz")
    assert second["counts"] == {"records": 3, "new": 1, "changed": 1, "unchanged": 1}
    assert second["feed_date"] == "2025-09-04T00:00:00Z"
    with database.transaction() as s:
        assert [r["filename"] for r in feeds.list_runs(s, editor)] == ["b.gz", "a.csv"]
        assert s.scalar(select(EpssScore.epss).where(EpssScore.cve == "CVE-2024-25176")) == 0.2


def test_duplicate_wrong_kind_older_and_malformed_files_leave_nothing(database: Database,
                                                                      editor: Actor) -> None:
    data = fd.epss_csv("2025-09-04", {"CVE-2020-11651": 0.5})
    _import(database, editor, data, "a.csv")
    with pytest.raises(Conflict, match="already imported"):
        _import(database, editor, data, "copy.csv")
    with pytest.raises(ValidationFailed, match="expected a CISA KEV catalogue"):
        _import(database, editor, fd.epss_csv("2025-09-05", {"CVE-2020-11651": 0.6}), "x",
                kind="kev")
    with pytest.raises(ValidationFailed, match="older than those imported"):
        _import(database, editor, fd.epss_csv("2025-09-01", {"CVE-2020-11651": 0.1}), "old")
    cut = fd.epss_csv("2025-09-06", {"CVE-2020-11651": 0.7, "CVE-2024-25176": 0.3})[:-9]
    with pytest.raises(FormatError, match="truncated"):
        _import(database, editor, cut, "cut.csv")
    with pytest.raises(FormatError, match="not a feed prodsec reads"):
        _import(database, editor, b"cve,epss\n", "what.csv")
    assert _count(database, FeedImport) == 1 and _count(database, EpssScore) == 1


def test_kev_import_counts_and_refuses_an_incomplete_catalogue(database: Database,
                                                               editor: Actor) -> None:
    data = fd.KEV.read_bytes()
    assert _import(database, editor, data, "kev.json")["counts"]["new"] == 48
    short = data.replace(b'"count": 48', b'"count": 49')
    with pytest.raises(FormatError, match="count says 49"):
        _import(database, editor, short, "kev2.json")


def test_euvd_ids_become_aliases_of_the_cve(database: Database, editor: Actor,
                                            tmp_path: Path) -> None:
    pid = _with_advisories(database, editor, tmp_path)
    run = _import(database, editor, (fd.EUVD / "EUVD-2024-22512.json").read_bytes(), "e.json")
    assert run["counts"] == {"records": 1, "new": 1, "changed": 0, "unchanged": 0,
                             "exploited": 0}
    _import(database, editor, fd.euvd_exploited(fd.SALT_CVE, euvd_id="EUVD-2020-0001"), "x.json")
    with database.transaction() as s:
        rows = [f for f in vulns.list_findings(s, editor, pid)
                if fd.SALT_CVE in f["aliases"] or f["vulnerability"] == fd.SALT_CVE]
        assert rows and "EUVD-2020-0001" in rows[0]["aliases"]
        assert rows[0]["exploited"] == {"source": "euvd", "date": "2025-04-09T00:00:00+00:00"}
        assert s.scalar(select(EuvdEntry.cve).where(EuvdEntry.euvd_id == "EUVD-2024-22512")) \
            == "CVE-2024-25176"


# ---- signals and priority -------------------------------------------------------------------


def test_findings_are_ordered_exploited_then_epss_then_cvss(database: Database, editor: Actor,
                                                            tmp_path: Path) -> None:
    pid = _with_advisories(database, editor, tmp_path)
    with database.transaction() as s:
        before = vulns.list_findings(s, editor, pid)
    cves = {f["vulnerability"]: next(a for a in f["aliases"] if a.startswith("CVE-"))
            for f in before}
    assert len(cves) == 3 and all(f["exploited"] is None for f in before)
    low, high, exploited = sorted(cves)
    _import(database, editor, fd.epss_csv("2025-09-03", {cves[low]: 0.01, cves[high]: 0.95}),
            "e.csv")
    _import(database, editor, fd.euvd_exploited(cves[exploited]), "x.json")
    with database.transaction() as s:
        rows = vulns.list_findings(s, editor, pid)
    assert [f["vulnerability"] for f in sorted(rows, key=lambda f: f["priority"])] == \
        [exploited, high, low]
    by_id = {f["vulnerability"]: f for f in rows}
    assert by_id[high]["epss"] == pytest.approx(0.95) and by_id[exploited]["epss"] is None
    assert by_id[exploited]["known_exploited"] and not by_id[high]["known_exploited"]


# ---- proposals ------------------------------------------------------------------------------


def test_known_exploited_finding_proposes_one_case_which_a_person_confirms(
        database: Database, editor: Actor, outsider: Actor, viewer: Actor,
        tmp_path: Path) -> None:
    pid = _with_advisories(database, editor, tmp_path)
    run = _import(database, editor, fd.KEV.read_bytes(), "kev.json")
    made = {p["vulnerability"] for p in run["proposals"]}
    assert fd.SALT_CVE in made and all(p["signal"] == "kev" for p in run["proposals"])
    with database.transaction() as s:  # a second look (a rescan) proposes nothing new
        assert proposals.propose(s, editor, release_ids=[r.id for r in
                                 vulns.get_product(s, editor, pid).releases]) == []
        listed = proposals.list_proposals(s, editor)
        assert {p["vulnerability"] for p in listed} == made
        assert proposals.list_proposals(s, outsider) == []
        salt = next(p for p in listed if p["vulnerability"] == fd.SALT_CVE)
        assert salt["signal_date"] == "2021-11-03" and salt["releases"] == ["1.0"]
        with pytest.raises(PermissionDenied):
            decisions.confirm(s, viewer, salt["id"], dt.datetime.now(dt.UTC))
        with pytest.raises(NotFound):
            decisions.confirm(s, outsider, salt["id"], dt.datetime.now(dt.UTC))
    aware = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3)
    with database.transaction() as s:
        proposal = decisions.confirm(s, editor, salt["id"], aware)
        case = article14.get_case(s, editor, proposal.case_id or "")
        view = article14.case_view(s, knowledge_base(), case)
    assert view["vulnerability"] == fd.SALT_CVE
    assert dt.datetime.fromisoformat(view["aware_at"]) == aware
    early = next(st for st in view["stages"] if st["stage"] == "early-warning")
    assert dt.datetime.fromisoformat(early["due"]) == aware + dt.timedelta(hours=24)
    assert "Proposed by prodsec at" in case.description
    with database.transaction() as s, pytest.raises(Conflict, match="confirmed"):
        decisions.dismiss(s, editor, salt["id"], "not ours")


def test_dismissed_with_reason_and_no_proposal_after_support_ends(
        database: Database, editor: Actor, tmp_path: Path) -> None:
    _with_advisories(database, editor, tmp_path)
    fd.release(database, editor, "Old router", dt.date(2024, 1, 31))
    with database.transaction() as s:  # the old product's findings exist too
        vulns.import_advisories(s, editor, fd.osv_dir(tmp_path / "osv2"))
    run = _import(database, editor, fd.KEV.read_bytes(), "kev.json")
    assert {p["releases"][0] for p in run["proposals"]} == {"1.0"}
    with database.transaction() as s:
        products = {p["product"] for p in proposals.list_proposals(s, editor)}
        assert products == {"Router"}
        first = proposals.list_proposals(s, editor)[0]
        with pytest.raises(ValidationFailed):
            decisions.dismiss(s, editor, first["id"], "  ")
        decisions.dismiss(s, editor, first["id"], "salt-master is not shipped enabled")
    with database.transaction() as s:
        done = proposals.list_proposals(s, editor, "dismissed")
        assert [p["reason"] for p in done] == ["salt-master is not shipped enabled"]
    assert _count(database, CaseProposal) == len(run["proposals"])


@pytest.mark.parametrize(("state", "source"), [
    ("not_affected", "manual"), ("false_positive", "manual"), ("resolved", "manual"),
    ("not_affected", "import:supplier.cdx.json")])
def test_a_finding_triaged_out_of_the_product_is_proposed_only_once_reopened(
        database: Database, editor: Actor, tmp_path: Path, state: str, source: str) -> None:
    """CRA Art. 14(1): a vulnerability assessed as not in the product (ours, or a supplier's
    statement where we decided nothing) is no exploited vulnerability *contained in* it."""
    pid = _with_advisories(database, editor, tmp_path)
    with database.transaction() as s:
        vex.set_statement(s, editor, pid, fd.SALT_CVE, state, detail="salt-master not shipped",
                          source=source)
    run = _import(database, editor, fd.KEV.read_bytes(), "kev.json")
    made = {p["vulnerability"] for p in run["proposals"]}
    assert made and fd.SALT_CVE not in made  # the other exploited salt CVEs still are
    with database.transaction() as s:  # a rescan does not propose it either
        assert proposals.propose(s, editor, release_ids=[r.id for r in
                                 vulns.get_product(s, editor, pid).releases]) == []
        assert _events(s, fd.SALT_CVE) == 0
    with database.transaction() as s:  # re-opened: under investigation again
        vex.set_statement(s, editor, pid, fd.SALT_CVE, "under_investigation")
    with database.transaction() as s:
        salt = [p for p in proposals.list_proposals(s, editor)
                if p["vulnerability"] == fd.SALT_CVE]
        assert [(p["signal"], p["releases"]) for p in salt] == [("kev", ["1.0"])]
        assert _events(s, fd.SALT_CVE) == 1


def test_a_triaged_finding_found_after_the_signal_is_not_proposed_at_its_scan(
        database: Database, editor: Actor, tmp_path: Path) -> None:
    _import(database, editor, fd.KEV.read_bytes(), "kev.json")
    pid = fd.release(database, editor, "Router", FUTURE)
    with database.transaction() as s:
        vex.set_statement(s, editor, pid, fd.SALT_CVE, "not_affected",
                          justification="code_not_reachable", release_label="1.0")
        vulns.import_advisories(s, editor, fd.osv_dir(tmp_path / "osv"))  # rescans inline
    with database.transaction() as s:
        waiting = {p["vulnerability"] for p in proposals.list_proposals(s, editor)}
        assert waiting and fd.SALT_CVE not in waiting
        vex.set_statement(s, editor, pid, fd.SALT_CVE, "exploitable", release_label="1.0")
    with database.transaction() as s:
        assert fd.SALT_CVE in {p["vulnerability"] for p in proposals.list_proposals(s, editor)}


def _events(session: Session, cve: str) -> int:
    """How many ``finding.exploited`` notification events name this CVE."""
    return sum(e.payload["vulnerability"] == cve for e in session.scalars(
        select(NotificationEvent).where(NotificationEvent.kind == proposals.EVENT)))


def test_kev_given_with_advisories_is_a_feed_import_and_a_repeat_is_skipped(
        database: Database, editor: Actor, viewer: Actor, tmp_path: Path) -> None:
    """``advisories import --kev``: the same import as ``feeds import`` (recorded, proposing,
    notifying); the same catalogue again is skipped with the reason, not a refusal of the
    advisories it came with."""
    _with_advisories(database, editor, tmp_path)
    with database.transaction() as s:
        first = feeds.import_with_advisories(s, editor, fd.KEV.read_bytes(), "kev.json")
    assert first["kind"] == "kev" and first["counts"]["new"] == 48 and "skipped" not in first
    assert fd.SALT_CVE in {p["vulnerability"] for p in first["proposals"]}
    with database.transaction() as s:
        again = feeds.import_with_advisories(s, editor, fd.KEV.read_bytes(), "copy.json")
        assert again["proposals"] == [] and "already imported" in again["skipped"]
        assert [r["filename"] for r in feeds.list_runs(s, editor)] == ["kev.json"]
        assert _events(s, fd.SALT_CVE) == 1
    with database.transaction() as s, pytest.raises(PermissionDenied):
        feeds.import_with_advisories(s, viewer, fd.KEV.read_bytes(), "k")


# ---- the watched folder ---------------------------------------------------------------------


def test_watched_folder_imports_each_new_file_once_by_content(database: Database,
                                                              editor: Actor,
                                                              tmp_path: Path) -> None:
    if not database.is_sqlite:
        pytest.skip("the queued form runs in tests/jobs/test_feeds_queue.py")
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "kev.json").write_bytes(fd.KEV.read_bytes())
    (folder / "scores.csv.gz").write_bytes(fd.epss_csv("2025-09-03", {fd.SALT_CVE: 0.97},
                                                       gz=True))
    (folder / "notes.txt").write_text("not a feed")
    (folder / "half.json.part").write_text("{")
    results = queue_folder(database, folder, editor)
    assert {r["file"]: r["kind"] for r in results} == {"kev.json": "kev",
                                                       "scores.csv.gz": "epss",
                                                       "notes.txt": None}
    (folder / "copy.json").write_bytes(fd.KEV.read_bytes())
    assert queue_folder(database, folder, editor) == []  # same content, and refused ones
    with database.transaction() as s:
        runs = {r["filename"]: r["status"] for r in feeds.list_runs(s, editor)}
    assert runs == {"kev.json": "imported", "scores.csv.gz": "imported", "notes.txt": "refused"}


def test_a_finding_found_after_the_signal_proposes_at_its_scan(database: Database,
                                                               editor: Actor,
                                                               tmp_path: Path) -> None:
    assert _import(database, editor, fd.KEV.read_bytes(), "kev.json")["proposals"] == []
    _with_advisories(database, editor, tmp_path)  # the inline recompute finds salt: exploited
    with database.transaction() as s:
        assert fd.SALT_CVE in {p["vulnerability"] for p in proposals.list_proposals(s, editor)}
