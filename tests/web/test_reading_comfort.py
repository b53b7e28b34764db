"""Reading comfort (issue #16, review h16r m3, m4, m8, m9, m11): instruments by their short
title and routes in words, audit rows naming their objects (one query a page; deleted objects
said so), the answers an edit changes, patterns a v-flag browser accepts, a favicon, the board
item kept open after a save, and the CSIRT Member State chosen from the list that validates it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from prodsec.core.knowledge import ROUTE_LABELS
from prodsec.knowledge.schema import Route
from tests.web.conftest import PASSWORD, sign_in
from tests.web.test_pages import ROUTER, _create

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "prodsec" / "templates" / "web"


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app)


def test_every_route_has_a_label_with_its_legal_basis() -> None:
    assert set(ROUTE_LABELS) == {r.value for r in Route}
    for route, words in ROUTE_LABELS.items():
        assert words["label"] and words["label"] != route, route
        assert re.search(r"Art\. \d|paras? \d|ss\. \d|pledge", words["basis"]), route


def test_instruments_show_their_short_title_and_routes_their_words(client: TestClient,
                                                                   kb: Any) -> None:
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    portfolio = client.get("/portfolio").text
    assert '<span class="inst" title="eu-cra">CRA</span>' in portfolio
    assert '<span class="inst" title="uk-psti">UK PSTI</span>' in portfolio
    assert ">eu-cra</a>" not in portfolio
    board = client.get(f"{product}/board").text
    assert re.search(r'<h2><span class="inst" title="eu-cra">CRA</span> <small><code>eu-cra', board)
    page = client.get(product).text
    assert "conformity route <strong><span class=\"route\" title=\"self-if-harmonised: CRA Art. 32(2)" in page
    assert ROUTE_LABELS["self-if-harmonised"]["label"] in page
    preview = client.post("/products/preview", data={"csrf_token": csrf, **ROUTER}).text
    assert f'title="eu-red-da">{kb.short_names["eu-red-da"]}</span>' in preview
    assert ">self-if-harmonised<" not in preview and ">eu-red-da<" not in preview


def _actor(session: Any, email: str) -> Any:
    from prodsec.workspace.users import authenticate_password

    actor = authenticate_password(session, email, PASSWORD)
    assert actor is not None
    return actor


def test_audit_rows_name_their_objects_in_one_query(client: TestClient, web_db: Any,
                                                    kb: Any) -> None:
    from prodsec.workspace import audit, products

    csrf = sign_in(client, "editor@acme.example")
    pid = _create(client, csrf).rsplit("/", 1)[1]
    with web_db.transaction() as session:
        actor = _actor(session, "editor@acme.example")
        products.add_release(session, actor, pid, "1.0", None, None)
        gone = products.add_product(session, actor, kb, {"name": "Gone Cam", "markets": ["DE"]})
        products.delete_product(session, actor, gone.id, None)
        events, _ = audit.events_page(session, actor, limit=50)
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(web_db.engine, "before_cursor_execute", count)
        names = audit.object_names(session, actor, events)
        event.remove(web_db.engine, "before_cursor_execute", count)
    assert len(statements) == 1, "one query for the page, whatever the number of events"
    assert names[("product", pid)] == "Router X"
    assert "Router X 1.0" in names.values()
    assert ("product", gone.id) not in names
    page = client.get("/audit").text
    assert re.search(rf"product <strong>Router X</strong> <small class=\"wrap\"><code>{pid}", page)
    assert "release <strong>Router X 1.0</strong>" in page
    assert re.search(rf"product <em>\(deleted\)</em> <small class=\"wrap\"><code>{gone.id}", page)
    outsider = TestClient(client.app)
    sign_in(outsider, "admin@globex.example")
    with web_db.transaction() as session:
        other = _actor(session, "admin@globex.example")
        assert audit.object_names(session, other, events) == {}  # another tenant's ids: nothing


def test_the_edit_review_lists_the_changed_answers(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    form = {**ROUTER, "markets": ["DE", "SG"], "consumer": "no"}
    review = client.post(f"{product}/edit", data={"csrf_token": csrf, "action": "review", **form})
    assert review.status_code == 200, review.text
    answers = review.text.split('id="answers-h"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"<th scope=\"row\">markets</th><td>DE, GB</td><td>DE, SG<br><small>added SG; "
                     r"removed GB</small>", answers)
    assert re.search(r"<th scope=\"row\">consumer</th><td>yes</td><td>no</td>", answers)
    assert "radio" not in answers  # unchanged answers are not listed
    same = client.post(f"{product}/edit", data={"csrf_token": csrf, "action": "review", **ROUTER})
    assert 'id="answers-h"' not in same.text and "nothing would change" in same.text


def _v_flag_problem(pattern: str) -> str | None:
    """A Python approximation of what Chromium's v-flag parser refuses in an HTML pattern: in
    a character class, an unescaped '-' that is not between two range ends, and the
    characters ( ) { } / | unescaped."""
    in_class, previous, i = False, "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            previous, i = pattern[i:i + 2], i + 2
            continue
        if not in_class:
            in_class = ch == "["
            previous = ""
        elif ch == "]":
            in_class = False
        elif ch in "(){}/|":
            return f"unescaped {ch!r} in a class"
        elif ch == "-" and (not previous or pattern[i + 1:i + 2] in ("]", "")):
            return "unescaped '-' outside a range"
        else:
            previous = ch
        i += 1
    return None


def test_every_pattern_attribute_is_valid_under_the_v_flag() -> None:
    patterns = [(path.name, p) for path in TEMPLATES.glob("*.j2")
                for p in re.findall(r'pattern="([^"]*)"', path.read_text(encoding="utf-8"))]
    assert patterns, "the templates have pattern attributes"
    assert _v_flag_problem("[A-Za-z0-9._-]*") is not None  # the check can fail
    assert _v_flag_problem("[A-Za-z0-9][A-Za-z0-9._\\-]*") is None
    assert [(n, p) for n, p in patterns if _v_flag_problem(p)] == []


def test_every_page_links_the_favicon_the_app_serves(client: TestClient) -> None:
    login = client.get("/login").text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")


def test_a_save_on_the_board_comes_back_with_the_item_open(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    board = client.get(f"{product}/board").text
    sid = re.findall(r'id="s-([0-9a-f]{32})"', board)[1]
    version = re.search(rf'statuses/{sid}#s-{sid}".*?name="version" value="(\d+)"', board, re.S)
    assert version
    saved = client.post(f"{product}/statuses/{sid}", data={
        "csrf_token": csrf, "version": version.group(1), "status": "in-progress"},
        follow_redirects=False)
    assert saved.headers["location"] == f"{product}/board?open={sid}#s-{sid}"
    after = client.get(saved.headers["location"].split("#")[0]).text
    items = after.split('<li class="item')[1:]
    opened = [re.search(r'id="s-([0-9a-f]{32})"', i).group(1)  # type: ignore[union-attr]
              for i in items if '<details class="edit" open>' in i]
    assert opened == [sid], "only the saved item is open"
    attached = client.post(f"{product}/statuses/{sid}/evidence?category=prevention", data={
        "csrf_token": csrf, "url": "https://example.com/scan"}, follow_redirects=False)
    assert attached.headers["location"] == f"{product}/board?category=prevention&open={sid}#s-{sid}"


def test_the_csirt_member_state_is_chosen_from_the_eu_list(client: TestClient) -> None:
    from prodsec.services.knowledge import eu_member_states

    csrf = sign_in(client, "admin@acme.example")
    page = client.get("/organisation").text
    select = page.split('<select id="i-csirt_member_state"', 1)[1].split("</select>", 1)[0]
    codes = re.findall(r'<option value="([A-Z]{2})"', select)
    assert set(codes) == eu_member_states() and len(codes) == 27
    assert '<option value="DE" >Germany (DE)</option>' in select
    assert 'name="csirt_member_state"' in select
    from tests.web.test_records import _org_form

    form = _org_form(page) | {"csrf_token": csrf, "csirt_member_state": "DE"}
    assert client.post("/organisation", data=form, follow_redirects=False).status_code == 303
    shown = client.get("/organisation").text
    assert '<option value="DE" selected>Germany (DE)</option>' in shown
    refused = client.post("/organisation", data=_org_form(shown) | {
        "csrf_token": csrf, "csirt_member_state": "Germany"})
    assert refused.status_code == 422 and '<option value="Germany" selected>Germany</option>' in refused.text
