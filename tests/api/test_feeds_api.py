"""Feeds and proposed Article 14 cases through the API: upload, the signals on findings, the
proposal confirmed into a case, and the problems bad feed files answer with."""

from __future__ import annotations

from tests.api.conftest import World
from tests.workspace import feed_data as fd


def test_signals_on_findings_and_a_proposal_confirmed_into_a_case(world: World) -> None:
    pid = world.ids["product_id"]
    scores = fd.epss_csv("2025-09-03", {"CVE-2018-18074": 0.42}, gz=True)
    uploaded = world.call("POST", "/api/v1/feeds", content=scores,
                          params={"filename": "epss.csv.gz", "kind": "epss"})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["counts"]["new"] == 1
    again = world.call("POST", "/api/v1/feeds", content=scores, params={"filename": "x"})
    assert again.status_code == 409 and "already imported" in again.json()["detail"]
    findings = world.call("GET", f"/api/v1/products/{pid}/findings",
                          params={"sort": "priority"}).json()
    assert findings[0]["priority"] == 1 and findings[0]["epss"] == 0.42
    assert findings[0]["exploited"] == {"source": "euvd", "date": "2025-04-09T00:00:00+00:00"}
    assert "EUVD-2020-12345" in findings[0]["aliases"]
    waiting = world.call("GET", "/api/v1/case-proposals").json()
    assert [(p["vulnerability"], p["signal"]) for p in waiting] == [("CVE-2018-18074", "euvd")]
    assert world.call("GET", "/api/v1/case-proposals", org="Globex").json() == []
    assert world.call("POST", f"/api/v1/case-proposals/{waiting[0]['id']}/confirm",
                      role="viewer", json={"aware_at": "2026-11-27T08:00:00Z"}).status_code == 403
    case = world.call("POST", f"/api/v1/case-proposals/{waiting[0]['id']}/confirm",
                      json={"aware_at": "2026-11-27T08:00:00Z"})
    assert case.status_code == 201, case.text
    body = case.json()
    assert body["aware_at"].startswith("2026-11-27T08:00:00")
    assert body["proposal"]["status"] == "confirmed" and body["proposal"]["case_id"] == body["id"]
    early = next(s for s in body["stages"] if s["stage"] == "early-warning")
    assert early["due"].startswith("2026-11-28T08:00:00")
    twice = world.call("POST", f"/api/v1/case-proposals/{waiting[0]['id']}/dismiss",
                       json={"reason": "no"})
    assert twice.status_code == 409
    runs = world.call("GET", "/api/v1/feeds").json()
    assert [r["kind"] for r in runs] == ["epss", "euvd"]


def test_bad_feed_files_are_problems_and_leave_nothing(world: World) -> None:
    truncated = world.call("POST", "/api/v1/feeds", params={"filename": "kev.json"},
                           content=fd.KEV.read_bytes()[:5000])
    assert truncated.status_code == 422 and "kev.json" in truncated.json()["detail"]
    wrong = world.call("POST", "/api/v1/feeds", params={"kind": "euvd"},
                       content=fd.KEV.read_bytes())
    assert wrong.status_code == 422 and "CISA KEV" in wrong.json()["detail"]
    unknown = world.call("POST", "/api/v1/feeds", content=b"hello")
    assert unknown.status_code == 422 and "not a feed" in unknown.json()["detail"]
    viewer = world.call("POST", "/api/v1/feeds", role="viewer", content=fd.KEV.read_bytes())
    assert viewer.status_code == 403
    assert [r["kind"] for r in world.call("GET", "/api/v1/feeds").json()] == ["euvd"]
