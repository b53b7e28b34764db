"""Authentication: bearer tokens, cookie sessions with CSRF, the login rate limit, headers."""

from __future__ import annotations

import httpx
from tests.api.conftest import PASSWORD, TestClient, World

LOGIN = "/api/v1/auth/login"


def login(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    response: httpx.Response = client.post(LOGIN, json={"email": email, "password": password})
    return response


def test_every_route_but_health_needs_a_user(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    spec = client.get("/api/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method in methods:
            if path in ("/health", LOGIN):
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


def test_login_is_rate_limited_per_email(world: World) -> None:
    from prodsec.workspace.users import create_user

    db = world.client.app.state.prodsec.database  # type: ignore[attr-defined]
    with db.transaction() as session:
        create_user(session, "Acme", "target@acme.example", "viewer", PASSWORD)
    for _ in range(5):
        assert login(world.client, "target@acme.example", "wrong password!").status_code == 401
    blocked = login(world.client, "target@acme.example")  # even the right password now
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert blocked.json()["status"] == 429


def test_login_is_rate_limited_per_client_address(client: TestClient) -> None:
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
                      json={"email": "new@acme.example", "role": "viewer"})
    assert made.status_code == 201, made.text
    taken = world.call("POST", "/api/v1/users", role="admin",
                       json={"email": "viewer@globex.example", "role": "viewer"})
    assert taken.status_code == 409
    uid = made.json()["id"]
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
