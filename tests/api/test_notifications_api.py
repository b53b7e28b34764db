"""/api/v1/notifications: admins subscribe (webhook secrets shown once), list, remove, read the
delivery log; SSRF-unsafe URLs are 422; support periods are checked against CRA Art. 13(8)."""

from __future__ import annotations

import pytest
from tests.api.conftest import World

SUBS = "/api/v1/notifications/subscriptions"


def test_subscribe_list_remove(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODSEC_WEBHOOK_ALLOW_PRIVATE", "1")
    added = world.call("POST", SUBS, role="admin", json={
        "channel": "webhook", "url": "http://127.0.0.1:9/hook",
        "kinds": ["article14.stage_due", "article14.stage_overdue"], "stage_due_hours": 6})
    assert added.status_code == 201, added.text
    assert len(added.json()["secret"]) == 64  # generated, shown this once
    listed = world.call("GET", SUBS, role="admin").json()
    assert {s["id"] for s in listed} == {added.json()["id"], world.ids["subscription_id"]}
    assert all(s["secret"] is None for s in listed)
    assert world.call("DELETE", f"{SUBS}/{added.json()['id']}", role="admin").status_code == 204
    assert world.call("GET", "/api/v1/notifications/log", role="admin").json() == []
    assert world.call("GET", SUBS, role="editor").status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"channel": "webhook", "url": "https://127.0.0.1/x", "kinds": ["support.ending"]}, "url"),
    ({"channel": "webhook", "url": "http://hooks.example.com/x", "kinds": ["support.ending"]},
     "url"),
    ({"channel": "webhook", "kinds": ["support.ending"]}, "url"),
    ({"channel": "email", "address": "nope", "kinds": ["support.ending"]}, "address"),
])
def test_unsafe_or_missing_targets_are_422(world: World, body: dict[str, object],
                                           field: str) -> None:
    got = world.call("POST", SUBS, role="admin", json=body)
    assert got.status_code == 422, got.text
    assert got.headers["content-type"].startswith("application/problem+json")
    assert field in got.text


def test_support_period_check(world: World) -> None:
    pid = world.ids["product_id"]
    short = {"version_label": "3.0", "placed_on_market": "2027-01-01",
             "support_end": "2029-01-01"}
    refused = world.call("POST", f"/api/v1/products/{pid}/releases", json=short)
    assert refused.status_code == 422 and "Art. 13(8)" in refused.text
    made = world.call("POST", f"/api/v1/products/{pid}/releases", json=short | {
        "expected_use_months": 24, "support_rationale": "a two-season event app"})
    assert made.status_code == 201, made.text
    assert made.json()["expected_use_months"] == 24
    check = world.call("GET", f"/api/v1/products/{pid}/support", role="viewer").json()
    verdicts = {r["release"]: r["check"]["status"] for r in check["releases"]}
    assert verdicts == {"1.0": "unknown", "3.0": "ok-short"}
