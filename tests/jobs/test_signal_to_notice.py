"""#17 end to end on the real PostgreSQL, every step a job run by a worker: a KEV file dropped
in the watched folder → imported → a rescan finds the exploited CVE in a supported release → a
case is proposed and ``finding.exploited`` emitted → a person confirms it (the clocks start from
the awareness time stated) → the notification scan sees the early warning due within the
subscription's threshold → the webhook (signed) and the e-mail are received by local servers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from prodsec import jobs
from prodsec.db.engine import Database
from prodsec.services.knowledge import knowledge_base
from prodsec.workspace import article14, feeds, notifications, proposals
from prodsec.workspace import proposal_decisions as decisions
from prodsec.workspace import vulnerabilities as vulns
from tests.jobs.test_queue import NEEDS_POSTGRES, pg  # noqa: F401 (fixture)
from tests.workspace import feed_data as fd
from tests.workspace.conftest import make_actor
from tests.workspace.notify_servers import Receiver, smtp_server, webhook_receiver

pytestmark = NEEDS_POSTGRES
FUTURE = dt.date.today() + dt.timedelta(days=5 * 365 + 2)
SECRET = "end-to-end-secret-0123456789"


def test_kev_file_to_webhook_and_email(pg: Database, tmp_path: Path,  # noqa: F811
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    editor = make_actor(pg, "Acme", "editor")
    admin = make_actor(pg, "Acme", "admin")
    folder = tmp_path / "feeds"
    folder.mkdir()
    monkeypatch.setenv(feeds.DIR_ENV, str(folder))
    monkeypatch.setenv(feeds.ORG_ENV, "Acme")
    monkeypatch.setenv("PRODSEC_WEBHOOK_ALLOW_PRIVATE", "1")
    pid = fd.release(pg, editor, "Router", FUTURE)
    with pg.transaction() as s:
        vulns.import_advisories(s, editor, fd.osv_dir(tmp_path / "osv"))
    with webhook_receiver(Receiver(SECRET)) as hook, smtp_server() as (port, mail):
        monkeypatch.setenv("PRODSEC_SMTP_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("PRODSEC_SMTP_FROM", "prodsec@acme.example")
        kinds = ["finding.exploited", "article14.stage_due"]
        with pg.transaction() as s:
            notifications.add_subscription(s, admin, "webhook", hook.url, kinds, secret=SECRET,
                                           stage_due_hours=24)
            notifications.add_subscription(s, admin, "email", "psirt@acme.example", kinds,
                                           stage_due_hours=24)
        (folder / "known_exploited_vulnerabilities.json").write_bytes(fd.KEV.read_bytes())
        with pg.transaction() as s:
            jobs.enqueue(s, "prodsec.watch_feeds")  # what the periodic job does every minute
        for _ in range(4):  # the watch, the import, the rescan it causes
            jobs.run_worker(pg, wait=False)
        with pg.transaction() as s:
            (proposal,) = [p for p in proposals.list_proposals(s, editor)
                           if p["vulnerability"] == fd.SALT_CVE]
        assert proposal["product_id"] == pid
        with pg.transaction() as s:
            jobs.enqueue(s, "notifications.deliver")
        jobs.run_worker(pg, wait=False)
        exploited = [r for r in hook.received if r["body"]["kind"] == "finding.exploited"]
        with pg.transaction() as s:
            proposed = {p["vulnerability"] for p in proposals.list_proposals(s, editor)}
        assert sorted(r["body"]["payload"]["vulnerability"] for r in exploited) == \
            sorted(proposed), "one event per proposal, exactly once"
        assert all(r["signed"] for r in exploited)

        aware = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
        with pg.transaction() as s:
            confirmed = decisions.confirm(s, editor, proposal["id"], aware)
            case = article14.case_view(s, knowledge_base(),
                                       article14.get_case(s, editor, confirmed.case_id or ""))
        stages = {st["stage"]: st for st in case["stages"]}
        assert dt.datetime.fromisoformat(stages["early-warning"]["due"]) == \
            aware + dt.timedelta(hours=24)
        with pg.transaction() as s:
            jobs.enqueue(s, "notifications.scan")
            jobs.enqueue(s, "notifications.deliver")
        for _ in range(2):
            jobs.run_worker(pg, wait=False)
        due = [r for r in hook.received if r["body"]["kind"] == "article14.stage_due"]
        assert due and all(r["signed"] for r in due)
        assert any(r["body"]["payload"].get("stage") == "early-warning" for r in due)
    subjects = [m.content.decode() for m in mail]
    assert any("finding.exploited" in text and fd.SALT_CVE in text for text in subjects)
    assert any("article14.stage_due" in text for text in subjects)
    assert all(m.rcpt_tos == ["psirt@acme.example"] for m in mail)
