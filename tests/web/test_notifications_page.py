"""/notifications: admins add and remove subscriptions with the CSRF token; others get 403;
an unsafe webhook URL is shown back with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from tests.web.conftest import build_app, csrf_of, sign_in


@pytest.fixture
def client(web_db: Database, kb: KnowledgeBase) -> Any:
    return TestClient(build_app(web_db, kb))


def test_admin_adds_and_removes_a_subscription(client: Any) -> None:
    sign_in(client, "admin@acme.example")
    page = client.get("/notifications")
    assert page.status_code == 200 and "No subscriptions yet" in page.text
    added = client.post("/notifications", data={
        "csrf_token": csrf_of(page.text), "channel": "email", "target": "psirt@acme.example",
        "kinds": ["support.ending", "article14.stage_overdue"], "stage_due_hours": "6",
        "support_days": "30"})
    assert added.status_code == 201, added.text
    assert "psirt@acme.example" in added.text and "support.ending" in added.text
    sub_id = added.text.split('id="sub-', 1)[1].split('"', 1)[0]
    removed = client.post(f"/notifications/{sub_id}/remove",
                          data={"csrf_token": csrf_of(added.text)}, follow_redirects=False)
    assert removed.status_code == 303
    assert "No subscriptions yet" in client.get("/notifications").text


def test_unsafe_url_is_refused_with_the_reason(client: Any) -> None:
    sign_in(client, "admin@acme.example")
    page = client.get("/notifications")
    refused = client.post("/notifications", data={
        "csrf_token": csrf_of(page.text), "channel": "webhook",
        "target": "https://169.254.169.254/latest", "kinds": ["support.ending"]})
    assert refused.status_code == 422
    assert "loopback, private, link-local" in refused.text
    assert 'value="https://169.254.169.254/latest"' in refused.text  # the user's input kept


def test_non_admins_and_forged_forms_are_refused(client: Any) -> None:
    sign_in(client, "editor@acme.example")
    assert client.get("/notifications").status_code == 403
    client.cookies.clear()
    sign_in(client, "admin@acme.example")
    forged = client.post("/notifications", data={"csrf_token": "forged", "channel": "email",
                                                 "target": "x@example.com",
                                                 "kinds": ["support.ending"]})
    assert forged.status_code == 403
