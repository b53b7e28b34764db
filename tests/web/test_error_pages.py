"""A browser gets an HTML error page for every error on a page path, with the status the API
gives the same error: request validation, the tree's errors no page caught, the database's
refusals. ``/api`` paths keep their problem+json (review h15r, finding 3)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from prodsec.errors import LoginThrottled, NotFound
from tests.web.conftest import sign_in


@pytest.mark.parametrize("query", ["before=0", "before=abc", "entity=" + "e" * 65])
def test_a_bad_query_on_a_page_is_an_html_422(app: Any, query: str) -> None:
    client = TestClient(app)
    sign_in(client, "viewer@acme.example")
    got = client.get(f"/audit?{query}")
    assert got.status_code == 422, got.text
    assert got.headers["content-type"].startswith("text/html")
    field = query.split("=")[0]
    assert f"invalid request: {field}" in got.text
    assert "<nav" in got.text  # the signed-in layout, not a bare page
    api = client.get("/api/v1/audit/events?entity_id=" + "e" * 65)
    assert api.status_code == 422
    assert api.headers["content-type"] == "application/problem+json"


def test_an_uncaught_error_of_the_tree_is_its_status_as_a_page(app: Any) -> None:
    """Raised by a page no form callback caught: the status of its class, HTML, its words;
    Retry-After kept."""

    @app.get("/uncaught-not-found")
    def missing() -> None:
        raise NotFound("no product 'p-1' in this organisation")

    @app.get("/uncaught-throttle")
    def throttled() -> None:
        raise LoginThrottled(7)

    client = TestClient(app)
    sign_in(client, "viewer@acme.example")
    got = client.get("/uncaught-not-found")
    assert got.status_code == NotFound.http_status == 404
    assert got.headers["content-type"].startswith("text/html")
    assert "no product &#39;p-1&#39; in this organisation" in got.text
    slow = client.get("/uncaught-throttle")
    assert slow.status_code == LoginThrottled.http_status
    assert slow.headers["content-type"].startswith("text/html")
    assert slow.headers["retry-after"] == "7"


def test_an_unexpected_error_on_a_page_is_the_html_500_without_its_message(app: Any) -> None:
    @app.get("/uncaught-bug")
    def bug() -> None:
        raise RuntimeError("secret detail from deep inside")

    client = TestClient(app, raise_server_exceptions=False)
    got = client.get("/uncaught-bug")
    assert got.status_code == 500
    assert got.headers["content-type"].startswith("text/html")
    assert "secret detail" not in got.text
