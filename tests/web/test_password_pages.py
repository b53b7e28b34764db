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


def test_a_known_device_signs_in_while_a_stranger_keeps_the_account_backing_off(
        app: Any) -> None:
    """Issue 11: the web sign-in sets a device cookie (HttpOnly, SameSite=Strict); with it the
    owner gets in while a stranger, from the same address even, keeps the account refused."""
    import datetime as dt

    now = [dt.datetime.now(dt.UTC)]
    app.state.web.limiter.clock = lambda: now[0]
    owner = TestClient(app)
    first = post_login(owner, {"email": "editor@acme.example", "password": PASSWORD},
                       follow_redirects=False)
    assert first.status_code == 303
    header = next(h for h in first.headers.get_list("set-cookie")
                  if h.startswith("prodsec_device="))
    assert "httponly" in header.lower() and "samesite=strict" in header.lower()
    device = owner.cookies["prodsec_device"]
    stranger = TestClient(app)
    for n in range(10):
        now[0] += dt.timedelta(seconds=2 ** n)
        post_login(stranger, {"email": "editor@acme.example", "password": "wrong guess!!"})
    refused = post_login(stranger, {"email": "editor@acme.example", "password": PASSWORD})
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    stranger.cookies.set("prodsec_device", device[:-2] + ("00" if device[-2:] != "00" else "11"))
    assert post_login(stranger, {"email": "editor@acme.example",
                                 "password": PASSWORD}).status_code == 429  # forged: no bypass
    owner.cookies.delete("prodsec_session")
    again = post_login(owner, {"email": "editor@acme.example", "password": PASSWORD},
                       follow_redirects=False)
    assert again.status_code == 303, again.text[:300]
    assert owner.cookies["prodsec_device"] != device  # a fresh one at every sign-in


def test_an_invited_account_accepts_in_the_browser(app: Any) -> None:
    """Acme's admin invites Globex's admin: the same page as for a new address; Globex's admin
    sees the invitation after signing in, accepts, and is then a member of Acme."""
    admin = TestClient(app)
    csrf = sign_in(admin, "admin@acme.example")
    pages = []
    for email in ("admin@globex.example", "fresh@elsewhere.example"):
        added = admin.post("/admin/users", data={"csrf_token": csrf, "email": email,
                                                 "role": "viewer", "password": NEW})
        assert added.status_code == 200 and f"Invitation created for {email}" in added.text
        pages.append(added.text)
    listed, pending = pages[-1].split("Invitations (pending)", 1)
    assert "<td>admin@globex.example</td>" not in listed  # not a member, only invited
    assert "<td>admin@globex.example</td>" in pending
    invited = TestClient(app)
    own_csrf = sign_in(invited, "admin@globex.example")
    page = invited.get("/account/invitations")
    assert page.status_code == 200 and "Acme" in page.text
    iid = re.search(r'/account/invitations/([0-9a-f]{32})/accept', page.text)
    assert iid
    assert invited.post(f"/account/invitations/{iid.group(1)}/accept",
                        data={"csrf_token": "forged"}).status_code == 403
    joined = invited.post(f"/account/invitations/{iid.group(1)}/accept",
                          data={"csrf_token": own_csrf})
    assert joined.status_code == 200 and "You are now a member of Acme" in joined.text
    listed = admin.get("/admin").text.split("Invitations (pending)")[0]
    assert "<td>admin@globex.example</td>" in listed


def test_your_devices_are_listed_and_revoked(app: Any) -> None:
    """The account page lists the device a sign-in remembered (this one marked) and revokes
    it with the session's CSRF token; a forged token changes nothing."""
    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    page = client.get("/account/devices")
    assert page.status_code == 200 and "(this device)" in page.text
    action = re.search(r'action="(/account/devices/[0-9a-f]{64}/revoke)"', page.text)
    assert action
    assert client.post(action.group(1), data={"csrf_token": "forged"}).status_code == 403
    assert "(this device)" in client.get("/account/devices").text
    done = client.post(action.group(1), data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account/devices"
    assert "No remembered devices" in client.get("/account/devices").text
    gone = client.post(action.group(1), data={"csrf_token": csrf})
    assert gone.status_code == 404 and "no device" in gone.text
    assert 'href="/account/devices"' in client.get("/account/password").text


def test_too_many_wrong_passwords_is_the_trees_429_with_retry_after(app: Any) -> None:
    """The page's throttle answers ``LoginThrottled``'s status and Retry-After, as the API's
    ``/auth/password`` does, instead of a 429 written by hand."""
    from prodsec.errors import LoginThrottled

    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    answers = [change(client, csrf, "not my password", NEW) for _ in range(8)]
    throttled = [a for a in answers if a.status_code != 422]
    assert throttled, [a.status_code for a in answers]
    assert throttled[0].status_code == LoginThrottled.http_status
    assert int(throttled[0].headers["retry-after"]) >= 1
    assert "Too many wrong passwords" in throttled[0].text
