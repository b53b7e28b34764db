"""The web forms take their limits from ``prodsec.core.limits``: the browser is told (maxlength)
and the server refuses longer text with the field's message, keeping the product list as it was."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from prodsec.core import limits
from tests.web.conftest import sign_in
from tests.web.test_pages import ROUTER


def test_a_too_long_name_is_refused_and_forms_carry_the_limits(app: Any) -> None:
    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    response = client.post("/products/new", data={"csrf_token": csrf, **ROUTER,
                                                  "name": "x" * (limits.NAME + 1)})
    assert response.status_code == 422
    assert f"the limit is {limits.NAME}" in response.text
    # 200 000 characters exceed a form field's bound: refused before the form is parsed
    huge = client.post("/products/new", data={"csrf_token": csrf, **ROUTER,
                                              "name": "x" * 200_000})
    assert huge.status_code in (400, 413)
    assert "x" * 300 not in client.get("/portfolio").text
    created = client.post("/products/new", data={"csrf_token": csrf, **ROUTER},
                          follow_redirects=False)
    page = client.get(created.headers["location"]).text
    assert f'name="version_label" required maxlength="{limits.VERSION}"' in page
