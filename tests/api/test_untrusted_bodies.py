"""Hostile values in JSON bodies and uploaded profiles are 422 problems, never a 500 or a hung
event loop (issue 11, findings 6-7), on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from tests.api.conftest import PASSWORD, TestClient, add_member
from tests.api.test_body_limits import web_sign_in
from tests.test_untrusted import ALIAS_BOMB

from prodsec.api import create_app
from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database

PROFILE = '{"name": %s, "markets": ["EU"]%s}'


@pytest.mark.parametrize(("path", "body", "where"), [
    ("/api/v1/check", '{"profile": ' + PROFILE % ('"\\ud800"', "") + "}", "/profile/name"),
    ("/api/v1/products", '{"profile": ' + PROFILE % ('"x\\udfff"', "") + "}", "/profile/name"),
    ("/api/v1/check", '{"profile": ' + PROFILE % ('"x"', ', "vehicle": {"category": ["M1"]}')
     + "}", "vehicle.category"),
    ("/api/v1/check", '{"profile": ' + PROFILE % ('"x"', ', "vehicle": {"ecus": ' + "1" * 5000
                                                  + "}") + "}", "4300 digits"),
    ("/api/v1/check", '{"profile": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper"),
    # the last "name" silently won before (pentest h11pen I4)
    ("/api/v1/products", '{"profile": ' + PROFILE % ('"x", "name": "y"', "") + "}",
     "/profile: the key 'name' appears more than once"),
])
def test_hostile_json_values_are_422(client: TestClient, database: Database, path: str,
                                     body: str, where: str) -> None:
    """Lone surrogates were a 500 (UnicodeEncodeError on the response), a list in
    vehicle.category a 500 (TypeError), huge integers and deep nesting a bare 400."""
    auth = {"Authorization": add_member(database, "Acme", "editor")["Authorization"],
            "content-type": "application/json"}
    response = client.post(path, content=body.encode("utf-8", "surrogatepass"), headers=auth)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert where in response.json()["detail"]


def test_web_profile_import_refuses_the_alias_bomb(database: Database,
                                                   kb: KnowledgeBase) -> None:
    """The web import parsed the bomb on the event loop: /health hung ~35 s, then MemoryError."""
    from prodsec import web

    app = create_app(database, kb)
    web.mount(app, database, kb)
    email = add_member(database, "Acme", "editor", PASSWORD)["email"]
    with TestClient(app) as client:
        csrf = web_sign_in(client, email)
        started = time.perf_counter()
        response = client.post("/products/import", data={"csrf_token": csrf},
                               files={"profile": ("bomb.yaml", ALIAS_BOMB)})
        assert time.perf_counter() - started < 5
    assert response.status_code == 422
    assert "anchors and aliases are not allowed in a product profile" in response.text
