"""The proposed-cases page (``prodsec.web.pages.proposals``): listed for the organisation, confirmed
with a stated awareness time into a case, dismissed with a reason; role and CSRF enforced."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import User
from prodsec.workspace import feeds, proposals
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.users import actor_for
from tests.web.conftest import build_app, csrf_of, sign_in
from tests.workspace import feed_data as fd


def _client(db: Database, kb: KnowledgeBase) -> TestClient:
    return TestClient(build_app(db, kb))


def _seed(db: Database, tmp_path: Path) -> list[dict[str, Any]]:
    with db.transaction() as s:
        user = s.scalar(select(User).where(User.email == "editor@acme.example"))
        assert user is not None
        editor = actor_for(s, user)
    fd.release(db, editor, "Router", dt.date.today() + dt.timedelta(days=1000))
    with db.transaction() as s:
        vulns.import_advisories(s, editor, fd.osv_dir(tmp_path / "osv"))
        feeds.import_feed(s, editor, fd.KEV.read_bytes(), "kev.json")
        return proposals.list_proposals(s, editor)


def test_confirm_and_dismiss_from_the_page(web_db: Database, kb: KnowledgeBase,
                                           tmp_path: Path) -> None:
    waiting = _seed(web_db, tmp_path)
    assert len(waiting) >= 2
    with _client(web_db, kb) as client:
        sign_in(client, "editor@acme.example")
        page = client.get("/cases/proposed")
        assert page.status_code == 200 and fd.SALT_CVE in page.text
        csrf = csrf_of(page.text)
        first, second = waiting[0]["id"], waiting[1]["id"]
        forged = client.post(f"/cases/proposed/{first}/confirm",
                             data={"csrf_token": "forged", "aware_at": "2026-11-30T10:00"})
        assert forged.status_code == 403
        future = client.post(f"/cases/proposed/{first}/confirm", data={
            "csrf_token": csrf, "aware_at": "2999-01-01T00:00"})
        assert future.status_code == 422 and "in the future" in future.text
        done = client.post(f"/cases/proposed/{first}/confirm", follow_redirects=False,
                           data={"csrf_token": csrf, "aware_at": "2026-11-30T10:00"})
        assert done.status_code == 303 and done.headers["location"].startswith("/cases#case-")
        empty = client.post(f"/cases/proposed/{second}/dismiss",
                            data={"csrf_token": csrf, "reason": " "})
        assert empty.status_code == 422
        gone = client.post(f"/cases/proposed/{second}/dismiss", follow_redirects=False,
                           data={"csrf_token": csrf, "reason": "<b>not shipped</b>"})
        assert gone.status_code == 303
        after = client.get("/cases/proposed").text
        assert first not in after and second not in after
    with TestClient(_client(web_db, kb).app) as viewer:
        sign_in(viewer, "viewer@acme.example")
        refused = viewer.post(f"/cases/proposed/{waiting[-1]['id']}/dismiss",  # role first
                              data={"csrf_token": "x", "reason": "no"})
        assert refused.status_code == 403
    with TestClient(_client(web_db, kb).app) as other:
        sign_in(other, "admin@globex.example")
        assert fd.SALT_CVE not in other.get("/cases/proposed").text
