"""Passwords in the browser: change your own, an admin's reset, choosing one with the secret."""

from __future__ import annotations

import re
import warnings
from typing import Any

from tests.web.conftest import PASSWORD, csrf_of, post_login, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NEW = "violet kettle under the stairs"


def change(client: Any, csrf: str, current: str, new: str) -> Any:
    return client.post("/account/password", data={
        "csrf_token": csrf, "current_password": current, "new_password": new})


def test_change_your_password(app: Any) -> None:
    client, other = TestClient(app), TestClient(app)
    sign_in(other, "editor@acme.example")
    csrf = sign_in(client, "editor@acme.example")
    page = client.get("/account/password")
    assert page.status_code == 200 and "at least 15 characters" in page.text.lower()
    assert change(client, "forged", PASSWORD, NEW).status_code == 403
    weak = change(client, csrf, PASSWORD, "short one")
    assert weak.status_code == 422 and "at least 15" in weak.text
    wrong = change(client, csrf, "not my password", NEW)
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text
    done = change(client, csrf, PASSWORD, NEW)
    assert done.status_code == 200 and "other sessions have been signed out" in done.text
    assert client.get("/portfolio").status_code == 200
    assert other.get("/portfolio", follow_redirects=False).status_code == 303  # → /login
    fresh = TestClient(app)
    assert post_login(fresh, {"email": "editor@acme.example", "password": NEW},
                      follow_redirects=False).status_code == 303


def test_admin_resets_and_the_member_chooses_a_new_password(app: Any) -> None:
    admin = TestClient(app)
    sign_in(admin, "admin@acme.example")
    page = admin.get("/admin")
    csrf = csrf_of(page.text)
    viewer_row = next(row for row in page.text.split("<tr>") if "viewer@acme.example" in row)
    target = re.search(r'action="(/admin/users/[0-9a-f]+/password-reset)"', viewer_row)
    assert target and 'href="/account/password">Change yours' in page.text
    done = admin.post(target.group(1), data={"csrf_token": csrf})
    assert done.status_code == 200
    secret = re.search(r"(psr_[\w-]+)", done.text)
    assert secret
    member = TestClient(app)
    assert post_login(member, {"email": "viewer@acme.example", "password": PASSWORD}
                      ).status_code == 401
    assert member.get("/password-reset").status_code == 200
    weak = member.post("/password-reset", data={"token": secret.group(1),
                                                "new_password": "viewer@acme.example"})
    assert weak.status_code == 422
    chosen = member.post("/password-reset", data={"token": secret.group(1), "new_password": NEW},
                         follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/login"
    assert post_login(member, {"email": "viewer@acme.example", "password": NEW},
                      follow_redirects=False).status_code == 303
    again = member.post("/password-reset", data={"token": secret.group(1), "new_password": NEW})
    assert again.status_code == 422
