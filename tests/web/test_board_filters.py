"""The board's filter survives a write: every item's forms post to an address that carries the
filter and the item's anchor, a save comes back to the same filtered list at the item, and a
refused save is drawn inside its item on that list (issue #16: the error was drawn off screen
and the filter lost)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import sign_in
from tests.web.test_pages import _create


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app)


def _first_item(page: str) -> tuple[str, str, str]:
    """The first item's id, version and status form action."""
    sid = re.search(r'<li class="item[^"]*" id="s-([0-9a-f]+)"', page)
    version = re.search(r'name="version" value="(\d+)"', page)
    assert sid and version, "the board shows no item"
    action = re.search(rf'action="([^"]*/statuses/{sid.group(1)}[^/"]*)"', page)
    assert action, "no status form"
    return sid.group(1), version.group(1), unescape(action.group(1))


def test_a_save_keeps_the_filter_and_returns_to_the_item(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    sid, version, action = _first_item(client.get(f"{product}/board?category=prevention&q=art").text)
    assert action == f"{product}/statuses/{sid}?q=art&category=prevention#s-{sid}"
    saved = client.post(action.split("#")[0], data={"csrf_token": csrf, "version": version,
                                                    "status": "in-progress"},
                        follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{product}/board?q=art&category=prevention&open={sid}#s-{sid}"


def test_a_refused_save_is_shown_in_its_item_on_the_filtered_list(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    filtered = client.get(f"{product}/board?category=prevention").text
    sid, version, action = _first_item(filtered)
    refused = client.post(action.split("#")[0], data={"csrf_token": csrf, "version": version,
                                                      "status": "no-such-status"})
    assert refused.status_code == 422
    item = refused.text.split(f'id="s-{sid}"', 1)[1].split("</li>", 1)[0]
    assert f'id="err-{sid}"' in item and "autofocus" in item  # the error inside its item
    assert "<option selected>prevention</option>" in refused.text, "the filter is kept"
    assert refused.text.count('class="item') == filtered.count('class="item'), "same list"


def test_the_kept_filter_is_encoded_and_bounded(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    page = client.get(f"{product}/board?q=1&status=%22%3E%3Cb%3E").text
    assert "<b>" not in page
    long = client.get(f"{product}/board?q={'x' * 5000}").text
    sid = re.search(r'id="s-([0-9a-f]+)"', client.get(f"{product}/board").text)
    assert sid
    refused = client.post(f"{product}/statuses/{sid.group(1)}?q={'x' * 5000}",
                          data={"csrf_token": csrf, "version": "0", "status": "met"})
    assert refused.status_code in (409, 412, 422) and "x" * 201 not in refused.text.split("<main")[1]
    assert long  # a long search is only a search that finds nothing
