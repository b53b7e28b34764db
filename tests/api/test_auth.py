"""Authentication: bearer tokens, cookie sessions with CSRF, the login rate limit, headers."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select
from tests.api.conftest import PASSWORD, TEST_SETTINGS, TestClient, World

from prodsec.api import create_app
from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import User
from prodsec.workspace.users import create_user

LOGIN = "/api/v1/auth/login"
RESET = "/api/v1/auth/password-reset"  # the one-time secret is the credential


def login(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    response: httpx.Response = client.post(LOGIN, json={"email": email, "password": password})
    return response


def test_every_route_but_health_needs_a_user(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    spec = client.get("/api/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method in methods:
            if path in ("/health", LOGIN, RESET):
                continue
            got = client.request(method, path.replace("{", "x").replace("}", ""))
            assert got.status_code == 401, f"{method} {path}"
            assert got.headers["www-authenticate"].startswith("Bearer")
            assert got.headers["content-type"] == "application/problem+json"


def test_bad_bearer_tokens_are_refused(client: TestClient) -> None:
    for value in ("Bearer psk_nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "psk_x"):
        got = client.get("/api/v1/products", headers={"Authorization": value})
        assert got.status_code == 401, value


def test_cookie_session_needs_csrf_for_writes(world: World) -> None:
    client, db = world.client, world.client.app.state.prodsec.database  # type: ignore[attr-defined]
    from prodsec.workspace.users import create_user

    with db.transaction() as session:
        create_user(session, "Acme", "web@acme.example", "editor", PASSWORD)
    got = login(client, "web@acme.example")
    assert got.status_code == 200, got.text
    csrf = got.json()["csrf_token"]
    cookie = got.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http in the test; https or --secure-cookies sets it
    assert client.get("/api/v1/products").status_code == 200
    body = {"name": "Cookie control", "requirements": []}
    assert client.post("/api/v1/controls", json=body).status_code == 403
    wrong = client.post("/api/v1/controls", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    ok = client.post("/api/v1/controls", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    out = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    client.cookies.clear()
    assert client.get("/api/v1/products").status_code == 401


def test_only_the_hash_of_the_session_is_stored(world: World) -> None:
    from sqlalchemy import select

    from prodsec.db.models import WebSession
    from prodsec.workspace.users import create_user

    db = world.client.app.state.prodsec.database  # type: ignore[attr-defined]
    with db.transaction() as session:
        create_user(session, "Acme", "hash@acme.example", "viewer", PASSWORD)
    login(world.client, "hash@acme.example")
    secret = world.client.cookies["prodsec_session"]
    with db.transaction() as session:
        ids = list(session.scalars(select(WebSession.id)))
    assert ids and secret not in ids


def frozen(client: TestClient) -> list[dt.datetime]:
    """Stop the app's limiter clock (a slow machine must not outlast a 1 s back-off); the
    test moves it by changing the list's one item."""
    now = [dt.datetime.now(dt.UTC)]
    client.app.state.prodsec.limiter.clock = lambda: now[0]  # type: ignore[attr-defined]
    return now


def test_login_is_rate_limited_per_email(world: World) -> None:
    from prodsec.workspace.users import create_user

    frozen(world.client)
    db = world.client.app.state.prodsec.database  # type: ignore[attr-defined]
    with db.transaction() as session:
        create_user(session, "Acme", "target@acme.example", "viewer", PASSWORD)
    for _ in range(5):
        assert login(world.client, "target@acme.example", "wrong password!").status_code == 401
    blocked = login(world.client, "target@acme.example")  # even the right password now
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert blocked.json()["status"] == 429


def test_a_device_cookie_lets_the_owner_in_while_strangers_flood_the_account(
        proxied: TestClient, database: Database) -> None:
    """Issue 11: one key per account let a stranger keep it in back-off. The owner's earlier
    sign-in left a ``prodsec_device`` cookie (HttpOnly, SameSite=Strict, rotated per success);
    with it the owner gets in while the account is backing off; a stranger's copy made for
    another account, or a tampered one, gets the account's 429."""
    with database.transaction() as session:
        create_user(session, "Acme", "alice@acme.example", "editor", PASSWORD)
        create_user(session, "Acme", "mallory@acme.example", "viewer", PASSWORD)
    now = frozen(proxied)
    body = {"email": "alice@acme.example", "password": PASSWORD}
    first = proxied.post(LOGIN, json=body, headers=from_client("198.51.100.20"))
    assert first.status_code == 200
    header = next(h for h in first.headers.get_list("set-cookie")
                  if h.startswith("prodsec_device="))
    assert "httponly" in header.lower() and "samesite=strict" in header.lower()
    device = proxied.cookies["prodsec_device"]
    mallory = proxied.post(LOGIN, json={"email": "mallory@acme.example", "password": PASSWORD})
    foreign = proxied.cookies["prodsec_device"]
    assert foreign != device
    proxied.cookies.clear()
    for n in range(12):  # the stranger, from ever new addresses, after every back-off
        now[0] += dt.timedelta(seconds=2 ** min(n, 10))
        proxied.post(LOGIN, headers=from_client(f"203.0.113.{n}"),
                     json={"email": "alice@acme.example", "password": "wrong guess!!"})
    assert mallory.status_code == 200
    owner = from_client("198.51.100.20")
    assert proxied.post(LOGIN, json=body, headers=owner).status_code == 429
    forged = device[:-4] + ("0000" if not device.endswith("0000") else "1111")
    for cookie in (foreign, forged):
        answer = proxied.post(LOGIN, json=body, headers=owner | {"Cookie": f"prodsec_device={cookie}"})
        assert answer.status_code == 429, cookie
    again = proxied.post(LOGIN, json=body, headers=owner | {"Cookie": f"prodsec_device={device}"})
    assert again.status_code == 200
    rotated = next(h for h in again.headers.get_list("set-cookie")
                   if h.startswith("prodsec_device=")).split(";")[0].split("=", 1)[1]
    assert rotated != device


def test_login_is_rate_limited_per_client_address(client: TestClient) -> None:
    frozen(client)
    for i in range(5):
        assert login(client, f"spray{i}@acme.example", "guess").status_code == 401
    assert login(client, "another@acme.example", "guess").status_code == 429


def test_security_headers(client: TestClient) -> None:
    got = client.get("/api/v1/products")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"].startswith("default-src 'none'")
    assert got.headers["referrer-policy"] == "no-referrer"
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


def test_admin_manages_users_and_tokens(world: World) -> None:
    made = world.call("POST", "/api/v1/users", role="admin",
                      json={"email": "new@acme.example", "role": "viewer", "password": PASSWORD})
    assert made.status_code == 201 and made.json()["status"] == "pending", made.text
    again = world.call("POST", "/api/v1/users", role="admin",
                       json={"email": "new@acme.example", "role": "viewer", "password": PASSWORD})
    assert again.status_code == 409  # invited here already: this organisation's own list says so
    assert login(world.client, "new@acme.example").status_code == 200  # first sign-in: joined
    world.client.cookies.clear()
    members = world.call("GET", "/api/v1/users", role="admin").json()["items"]
    uid = next(m["id"] for m in members if m["email"] == "new@acme.example")
    pending = world.call("GET", "/api/v1/invitations", role="admin").json()
    assert "new@acme.example" not in {i["email"] for i in pending}  # accepted: gone
    assert world.call("PATCH", f"/api/v1/users/{uid}", role="admin",
                      json={"role": "editor"}).json()["role"] == "editor"
    token = world.call("POST", "/api/v1/tokens", role="admin",
                       json={"email": "new@acme.example", "name": "ci"}).json()
    assert token["token"].startswith("psk_")
    auth = {"Authorization": f"Bearer {token['token']}"}
    assert world.client.get("/api/v1/auth/me", headers=auth).json()["role"] == "editor"
    assert world.call("DELETE", f"/api/v1/tokens/{token['id']}", role="admin").status_code == 204
    assert world.client.get("/api/v1/auth/me", headers=auth).status_code == 401
    assert world.call("DELETE", f"/api/v1/users/{uid}", role="admin").status_code == 204
    assert world.call("GET", f"/api/v1/users/{uid}", role="admin").status_code == 404


# ---- the login limiter behind a proxy, parallel guesses, back-off (issue 11) ----------------

PROXY = ("10.0.0.5", 40000)


@pytest.fixture
def proxied(database: Database, kb: KnowledgeBase) -> Iterator[TestClient]:
    """The app behind a trusted reverse proxy at 10.0.0.5: clients differ by X-Forwarded-For."""
    settings = replace(TEST_SETTINGS, trusted_proxies=("10.0.0.0/8",))
    with TestClient(create_app(database, kb, settings), client=PROXY) as test_client:
        yield test_client


def from_client(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": f"{address}, 10.0.0.9"}  # the client, then an inner proxy


def test_parallel_guesses_get_at_most_the_budget_and_the_user_still_gets_in(
        proxied: TestClient, database: Database) -> None:
    """40 wrong passwords at once from one client: at most 5 reach the password check (the old
    limiter let 25 through); the real user, from another address, signs in after a back-off
    of one second (the old one locked the account for 15 minutes)."""
    with database.transaction() as session:
        create_user(session, "Acme", "alice@acme.example", "editor", PASSWORD)
    now = frozen(proxied)
    start = threading.Barrier(40)

    def guess(_: int) -> int:
        start.wait()
        return int(proxied.post(LOGIN, headers=from_client("203.0.113.7"), json={
            "email": "alice@acme.example", "password": "wrong guess!!"}).status_code)

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(guess, range(40)))
    assert answers.count(401) <= 5 and answers.count(401) + answers.count(429) == 40
    real_user = from_client("198.51.100.20")
    refused = proxied.post(LOGIN, headers=real_user, json={"email": "alice@acme.example",
                                                            "password": PASSWORD})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    now[0] += dt.timedelta(seconds=1)
    assert proxied.post(LOGIN, headers=real_user, json={
        "email": "alice@acme.example", "password": PASSWORD}).status_code == 200


def test_behind_a_proxy_each_client_has_its_own_budget(proxied: TestClient) -> None:
    frozen(proxied)
    for i in range(5):
        assert proxied.post(LOGIN, headers=from_client("203.0.113.7"), json={
            "email": f"spray{i}@acme.example", "password": "guess"}).status_code == 401
    assert proxied.post(LOGIN, headers=from_client("203.0.113.7"), json={
        "email": "other@acme.example", "password": "guess"}).status_code == 429
    assert proxied.post(LOGIN, headers=from_client("198.51.100.20"), json={
        "email": "other@acme.example", "password": "guess"}).status_code == 401


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(client: TestClient) -> None:
    """No trusted proxies (the default): the header cannot buy a sprayer a fresh budget."""
    frozen(client)
    for i in range(5):
        assert client.post(LOGIN, headers={"X-Forwarded-For": f"198.51.100.{i}"}, json={
            "email": f"spray{i}@acme.example", "password": "guess"}).status_code == 401
    assert client.post(LOGIN, headers={"X-Forwarded-For": "192.0.2.1"}, json={
        "email": "x@acme.example", "password": "guess"}).status_code == 429


def test_login_failure_is_the_same_whatever_is_wrong(client: TestClient,
                                                     database: Database) -> None:
    """Unknown e-mail, wrong password, an account in no organisation: one answer (the old API
    answered 404 for the last, confirming the password)."""
    from sqlalchemy import delete

    from prodsec.db.models import Membership

    with database.transaction() as session:
        create_user(session, "Acme", "member@acme.example", "viewer", PASSWORD)
        create_user(session, "Acme", "gone@acme.example", "viewer", PASSWORD)
    with database.transaction() as session:
        gone = session.scalar(select(User.id).where(User.email == "gone@acme.example"))
        session.execute(delete(Membership).where(Membership.user_id == gone))
    answers = [client.post(LOGIN, json={"email": email, "password": password},
                           headers={"X-Forwarded-For": "unused"})
               for email, password in (("nobody@acme.example", PASSWORD),
                                       ("member@acme.example", "wrong password!!"),
                                       ("gone@acme.example", PASSWORD))]
    assert {(a.status_code, a.text) for a in answers} == {
        (401, answers[0].text)}, [a.text for a in answers]


def test_unknown_users_cost_one_argon2_verification(monkeypatch: pytest.MonkeyPatch,
                                                    database: Database) -> None:
    """The timing equaliser is a verification at the same cost, not a cheaper step."""
    from argon2 import PasswordHasher

    from prodsec.workspace import users

    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            calls.append("verify")
            return bool(super().verify(hash, password))

    monkeypatch.setattr(users, "_hasher", lambda: Counting(1, 8, 1))
    with database.transaction() as session:
        create_user(session, "Acme", "member@acme.example", "viewer", PASSWORD)
        for email in ("nobody@acme.example", "member@acme.example"):
            calls.clear()
            assert users.authenticate_password(session, email, "wrong password!!") is None
            assert calls == ["verify"], email


def test_adding_an_account_of_another_organisation_answers_as_for_a_new_address(
        world: World, database: Database) -> None:
    """Issue 11: adding an address with an account elsewhere answered 409 and so revealed it.
    Now both get the same invitation (same status, same fields); the account of the other
    organisation is left as it was (its password is not the one the admin typed, it is no
    member and gets no token here) until its owner, signed in, accepts."""
    with database.transaction() as session:
        create_user(session, "Globex", "owner@globex.example", "editor", PASSWORD)
    typed = "an admin's chosen password"
    answers = {email: world.call("POST", "/api/v1/users", role="admin", json={
        "email": email, "role": "editor", "password": typed})
        for email in ("owner@globex.example", "fresh@nowhere.example")}
    shapes = {email: (a.status_code, tuple(sorted(a.json())), a.json()["status"], a.json()["role"])
              for email, a in answers.items()}
    assert len(set(shapes.values())) == 1 and shapes["fresh@nowhere.example"][0] == 201, shapes
    weak = [world.call("POST", "/api/v1/users", role="admin", json={
        "email": email, "role": "editor", "password": "short"}).status_code
        for email in ("viewer@globex.example", "other@nowhere.example")]
    assert weak == [422, 422]  # the policy applies whether or not the account exists
    members = {m["email"] for m in world.call("GET", "/api/v1/users", role="admin").json()["items"]}
    assert "owner@globex.example" not in members
    assert world.call("POST", "/api/v1/tokens", role="admin", json={
        "email": "owner@globex.example", "name": "stolen"}).status_code == 404
    assert login(world.client, "owner@globex.example", typed).status_code == 401
    # The owner signs in (to Globex, the only membership) and accepts.
    assert login(world.client, "owner@globex.example").json()["org_id"] != \
        world.call("GET", "/api/v1/auth/me", role="admin").json()["org_id"]
    csrf = {"X-CSRF-Token": login(world.client, "owner@globex.example").json()["csrf_token"]}
    mine = world.client.get("/api/v1/auth/invitations").json()
    assert [(i["organisation"], i["role"]) for i in mine] == [("Acme", "editor")]
    joined = world.client.post(f"/api/v1/auth/invitations/{mine[0]['id']}/accept", headers=csrf)
    assert joined.status_code == 200 and joined.json()["role"] == "editor", joined.text
    world.client.cookies.clear()
    members = {m["email"] for m in world.call("GET", "/api/v1/users", role="admin").json()["items"]}
    assert "owner@globex.example" in members
    reset = world.call("POST", f"/api/v1/users/{joined.json()['user_id']}/password-reset",
                       role="admin")
    assert reset.status_code == 403  # still its owner's: it belongs to Globex too


def test_an_invitation_is_accepted_or_declined_by_its_own_account_only(world: World) -> None:
    invitation = world.ids["invitation_id"]
    for role in ("admin", "viewer"):  # Globex members: the id is unknown to them
        for answer in ("accept", "decline"):
            got = world.call("POST", f"/api/v1/auth/invitations/{invitation}/{answer}",
                             org="Globex", role=role)
            assert got.status_code == 404, got.text
    assert world.call("DELETE", f"/api/v1/invitations/{invitation}", org="Globex",
                      role="admin").status_code == 404
    assert world.call("DELETE", f"/api/v1/invitations/{invitation}",
                      role="admin").status_code == 204
    assert login(world.client, "invited@acme.example").status_code == 401  # withdrawn: no member


@pytest.mark.parametrize(("email", "status"), [
    (" viewer@globex.example ", 201),  # stored with its spaces before (pentest h11pen F5)
    ("viewer@globex.example\u200b", 422),  # zero-width space: stored as a lookalike before
    ("view\u202eer@globex.example", 422),  # a bidi control
    ("viewer @globex.example", 422),
    ("\uff56iewer@GLOBEX.example", 201),  # full-width v: NFKC makes it the same address
    ("viewer@globex..example", 422),
])
def test_lookalike_addresses_of_an_account_are_that_account_or_refused(
        world: World, database: Database, email: str, status: int) -> None:
    """One normalisation (``users.normalise_email``) on every face: a lookalike of another
    organisation's account is an invitation to that very account (the answer any address
    gets) or no address at all (422 naming the character) — never a new account that shows
    as the other organisation's member."""
    with database.transaction() as session:
        accounts = session.scalar(select(func.count()).select_from(User))
    answer = world.call("POST", "/api/v1/users", role="admin",
                        json={"email": email, "role": "viewer", "password": PASSWORD})
    assert answer.status_code == status, answer.text
    if status == 422:
        assert answer.json()["errors"][0]["field"] == "email"
    else:
        assert answer.json()["email"] == "viewer@globex.example"
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(User)) == accounts


# ---- passwords over the API ---------------------------------------------------------------

NEW_PASSWORD = "violet kettle under the stairs"


def test_change_password_over_the_api(world: World, database: Database) -> None:
    client = world.client
    with database.transaction() as session:
        create_user(session, "Acme", "me@acme.example", "editor", PASSWORD)
    other = TestClient(client.app)
    assert login(other, "me@acme.example").status_code == 200
    csrf = login(client, "me@acme.example").json()["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    weak = client.post("/api/v1/auth/password", headers=headers, json={
        "current_password": PASSWORD, "new_password": "me@acme.example!"})
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    wrong = client.post("/api/v1/auth/password", headers=headers, json={
        "current_password": "not the password", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422
    assert client.post("/api/v1/auth/password", json={  # a cookie write without CSRF
        "current_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code == 403
    done = client.post("/api/v1/auth/password", headers=headers, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert done.status_code == 204, done.text
    assert client.get("/api/v1/auth/me").status_code == 200  # this session stays
    assert other.get("/api/v1/auth/me").status_code == 401  # the other one ended
    assert login(other, "me@acme.example").status_code == 401
    assert login(other, "me@acme.example", NEW_PASSWORD).status_code == 200


def test_admin_reset_over_the_api(world: World) -> None:
    uid = world.members[("Acme", "viewer")]["user_id"]
    assert world.call("POST", f"/api/v1/users/{uid}/password-reset",
                      role="editor").status_code == 403
    assert world.call("POST", f"/api/v1/users/{uid}/password-reset", org="Globex",
                      role="admin").status_code == 404
    made = world.call("POST", f"/api/v1/users/{uid}/password-reset", role="admin")
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    bad = world.client.post(RESET, json={"token": "psr_forged", "new_password": NEW_PASSWORD})
    assert bad.status_code == 422
    assert world.client.post(RESET, json={"token": token, "new_password": NEW_PASSWORD}
                             ).status_code == 204
    assert login(world.client, "viewer@acme.example", NEW_PASSWORD).status_code == 200
    audit = world.call("GET", "/api/v1/audit/events", role="admin",
                       params={"entity_id": uid}).json()
    assert {"user.password_reset", "user.password_set"} <= {e["action"] for e in audit["items"]}


def test_every_forwarded_for_line_counts(proxied: TestClient) -> None:
    """A proxy that appends its own ``X-Forwarded-For`` line (HAProxy) after the client's: the
    real client at the right of the last line is keyed, not the client's spoofed first line
    (pentest h11pen F2: 12/12 guesses got through when only the first line was read)."""
    frozen(proxied)
    for i in range(5):
        spoofed = [("X-Forwarded-For", f"198.51.100.{i}"), ("X-Forwarded-For", "203.0.113.7")]
        assert proxied.post(LOGIN, headers=spoofed, json={
            "email": f"spray{i}@acme.example", "password": "guess"}).status_code == 401
    spoofed = [("X-Forwarded-For", "198.51.100.99"), ("X-Forwarded-For", "203.0.113.7")]
    assert proxied.post(LOGIN, headers=spoofed, json={
        "email": "other@acme.example", "password": "guess"}).status_code == 429
    # ...and the address the attacker named on its own line was never charged
    assert proxied.post(LOGIN, headers=from_client("198.51.100.0"), json={
        "email": "other@acme.example", "password": "guess"}).status_code == 401


def test_strangers_failing_to_sign_in_do_not_keep_the_owner_from_changing_the_password(
        proxied: TestClient, database: Database) -> None:
    """The change used the account's (and the client's) limiter keys, which a stranger fills by
    failing to sign in: the signed-in owner got 429 for as long as the flood went on. It has
    its own key now; the owner's own wrong current passwords still back off there."""
    with database.transaction() as session:
        create_user(session, "Acme", "alice@acme.example", "editor", PASSWORD)
    now = frozen(proxied)
    owner = from_client("198.51.100.20")
    signed_in = proxied.post(LOGIN, headers=owner,
                             json={"email": "alice@acme.example", "password": PASSWORD})
    csrf = {"X-CSRF-Token": signed_in.json()["csrf_token"]} | owner
    stranger = TestClient(proxied.app, client=PROXY)
    for n in range(8):  # from the owner's own address (a shared NAT) and from others
        now[0] += dt.timedelta(seconds=2 ** n)
        for address in ("198.51.100.20", f"203.0.113.{n}"):
            stranger.post(LOGIN, headers=from_client(address),
                          json={"email": "alice@acme.example", "password": "wrong guess!!"})
    assert stranger.post(LOGIN, headers=owner, json={
        "email": "alice@acme.example", "password": PASSWORD}).status_code == 429
    for _ in range(5):  # the owner's own typos: the budget of one client
        wrong = proxied.post("/api/v1/auth/password", headers=csrf, json={
            "current_password": "not the password", "new_password": NEW_PASSWORD})
        assert wrong.status_code == 422
    throttled = proxied.post("/api/v1/auth/password", headers=csrf, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert throttled.status_code == 429 and throttled.json()["code"] == "login-throttled"
    assert int(throttled.headers["retry-after"]) >= 1
    now[0] += dt.timedelta(seconds=2)
    done = proxied.post("/api/v1/auth/password", headers=csrf, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert done.status_code == 204, done.text


def test_devices_are_listed_and_revoked_by_their_user_and_an_admin(world: World,
                                                                  database: Database) -> None:
    """Over the API: a sign-in's device is listed (``current`` for the asking browser) and
    revoked; an admin sees and revokes a member's; a viewer may not see another's, and
    another organisation's admin gets 404 for the same ids."""
    with database.transaction() as session:
        user, _ = create_user(session, "Acme", "me@acme.example", "viewer", PASSWORD)
    viewer = {"email": "me@acme.example", "user_id": user.id}
    browser = TestClient(world.client.app)
    signed_in = browser.post(LOGIN, headers={"User-Agent": "Laptop"},
                             json={"email": viewer["email"], "password": PASSWORD})
    assert signed_in.status_code == 200
    csrf = {"X-CSRF-Token": signed_in.json()["csrf_token"]}
    mine = browser.get("/api/v1/auth/devices").json()
    assert [(d["label"], d["current"]) for d in mine] == [("Laptop", True)]
    uid, device = viewer["user_id"], mine[0]["id"]
    url = f"/api/v1/users/{uid}/devices"
    assert world.call("GET", url, role="admin").json()[0]["id"] == device
    assert world.call("GET", url, role="editor").status_code == 403
    assert world.call("GET", url, org="Globex", role="admin").status_code == 404
    assert world.call("DELETE", f"{url}/{device}", org="Globex",
                      role="admin").status_code == 404
    assert browser.delete(f"/api/v1/auth/devices/{device}", headers=csrf).status_code == 204
    assert browser.get("/api/v1/auth/devices").json() == []
    again = browser.post(LOGIN, json={"email": viewer["email"], "password": PASSWORD})
    assert again.status_code == 200
    other = browser.get("/api/v1/auth/devices").json()[0]["id"]
    assert world.call("DELETE", f"{url}/{other}", role="admin").status_code == 204
    assert world.call("GET", url, role="admin").json() == []
