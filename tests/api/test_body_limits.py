"""Request bodies are bounded before they are read (issue 11, finding 4): a 300 MB JSON body
grew the server by 880 MB before it answered 401, and ``/login`` spooled multipart uploads to
disk without limit. ``BodyLimit`` answers 413 from the Content-Length alone, cuts a chunked body
off at the limit, gives uploads their own higher limit and refuses multipart where no file is
expected; web forms are parsed with field, file and part bounds.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from tests.api.conftest import PASSWORD, TestClient, add_member

from prodsec.api import Settings, create_app
from prodsec.api.middleware import FORM_OVERHEAD
from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database

SMALL = Settings(max_body_bytes=2048, max_upload_bytes=8192, max_document_bytes=16384,
                 max_profile_bytes=4096)
CHUNK = 1024


def web_sign_in(client: TestClient, email: str) -> str:
    """Sign in through the web form (its pre-session CSRF token first); the session's token."""
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    signed_in = client.post("/login", data={"email": email, "password": PASSWORD,
                                            "csrf_token": token.group(1)},
                            follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    page = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/products/new").text)
    assert page
    return page.group(1)


def small_app(database: Database, kb: KnowledgeBase) -> Any:
    from prodsec import web

    app = create_app(database, kb, SMALL)
    web.mount(app, database, kb)
    return app


class Upload:
    """A raw ASGI request: counts what the application pulls from the body stream."""

    def __init__(self, size: int, declared: bool) -> None:
        self.size, self.declared, self.sent, self.calls = size, declared, 0, 0
        self.status: int | None = None
        self.body = b""

    def headers(self, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
        out = {"content-type": "application/json", **extra}
        if self.declared:
            out["content-length"] = str(self.size)
        else:
            out["transfer-encoding"] = "chunked"
        return [(k.encode(), v.encode()) for k, v in out.items()]

    async def receive(self) -> dict[str, Any]:
        self.calls += 1
        if self.sent >= self.size:
            return {"type": "http.disconnect"}
        chunk = min(CHUNK, self.size - self.sent)
        self.sent += chunk
        return {"type": "http.request", "body": b" " * chunk, "more_body": self.sent < self.size}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    def run(self, app: Any, path: str, extra: dict[str, str] | None = None) -> Upload:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "headers": self.headers(extra or {}),
                 "client": ("127.0.0.1", 1234), "server": ("testserver", 80)}
        anyio.run(app, scope, self.receive, self.send)
        return self


def test_declared_oversized_body_is_refused_unread_before_authentication(
        database: Database, kb: KnowledgeBase) -> None:
    """Today's code reads the whole body, then answers 401; now: 413 and not one byte read."""
    upload = Upload(10 * 1024 * 1024, declared=True).run(small_app(database, kb),
                                                         "/api/v1/products")
    assert upload.status == 413
    assert upload.calls == 0
    problem = json.loads(upload.body)
    assert problem["status"] == 413 and "2048 bytes" in problem["detail"]


def test_chunked_body_is_cut_off_at_the_limit(database: Database, kb: KnowledgeBase) -> None:
    upload = Upload(4 * 1024 * 1024, declared=False).run(small_app(database, kb),
                                                         "/api/v1/products")
    assert upload.status == 413
    assert upload.sent <= SMALL.max_body_bytes + CHUNK  # not 4 MB


def test_oversized_json_answers_413_problem(client: TestClient) -> None:
    """Through the HTTP client, on SQLite and PostgreSQL, with no credentials at all."""
    response = client.post("/api/v1/products", content=b"{" + b" " * (1024 * 1024) + b"}",
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"  # security headers still on


def test_a_bad_content_length_is_400(database: Database, kb: KnowledgeBase) -> None:
    upload = Upload(10, declared=False).run(small_app(database, kb), "/api/v1/products",
                                            {"content-length": "1e9"})
    assert upload.status == 400 and upload.calls == 0


@pytest.mark.parametrize(("path", "limit"), [
    ("/api/v1/evidence/files?title=t", SMALL.max_upload_bytes),
    ("/api/v1/products/x/releases/1.0/sbom", SMALL.max_document_bytes),
    ("/api/v1/products/x/vex/import", SMALL.max_document_bytes),
])
def test_upload_routes_have_their_own_limit(database: Database, kb: KnowledgeBase,
                                            path: str, limit: int) -> None:
    headers = {k: v for k, v in add_member(database, "Acme", "editor").items()
               if k == "Authorization"}
    with TestClient(small_app(database, kb)) as client:
        within = client.post(path, content=b"x" * (SMALL.max_body_bytes + 1), headers=headers)
        assert within.status_code != 413  # over the default, within the upload's limit
        over = client.post(path, content=b"x" * (limit + FORM_OVERHEAD + 1), headers=headers)
        assert over.status_code == 413


def test_login_refuses_multipart_and_large_forms(database: Database, kb: KnowledgeBase) -> None:
    """``/login`` spooled any multipart upload to disk; now only upload forms take multipart."""
    with TestClient(small_app(database, kb)) as client:
        multipart = client.post("/login", data={"email": "a@b.c", "password": "x"},
                                files={"junk": ("junk.bin", b"x" * 100)})
        assert multipart.status_code == 415
        large = client.post("/login", data={"email": "a@b.c", "password": "x" * 4096})
        assert large.status_code == 413
        api = client.post("/api/v1/auth/login", content=b" " * 4096,
                          headers={"content-type": "application/json"})
        assert api.status_code == 413


def test_web_upload_form_takes_one_file_and_few_fields(database: Database,
                                                       kb: KnowledgeBase) -> None:
    """The profile import form: more than one file, or a flood of fields, is refused (400)
    before the route runs; a form within the bounds reaches it."""
    from prodsec.api import middleware

    email = add_member(database, "Acme", "editor", PASSWORD)["email"]
    with TestClient(small_app(database, kb)) as client:
        web_sign_in(client, email)
        two = client.post("/products/import", files=[
            ("profile", ("a.yaml", b"name: a\n")), ("profile", ("b.yaml", b"name: b\n"))])
        assert two.status_code == 400
        fields = {f"f{i}": "v" for i in range(middleware.MAX_FORM_FIELDS + 1)}
        flood = client.post("/products/import", data=fields,
                            files={"profile": ("a.yaml", b"name: a\n")})
        assert flood.status_code == 400
        size = SMALL.max_profile_bytes + middleware.FORM_OVERHEAD + 1
        big = client.post("/products/import", files={"profile": ("a.yaml", b"#" * size)})
        assert big.status_code == 413


def test_an_oversize_document_is_413_on_the_web_as_on_the_api(database: Database,
                                                              kb: KnowledgeBase) -> None:
    """The same file, one byte over ``max_document_bytes`` (within the middleware's envelope,
    so the route's own check answers): ``EvidenceTooLarge`` on both faces, not the web's
    former 422 ``ValidationFailed`` with the compiled-in 64 MiB limit."""
    import yaml
    from tests.api.test_limits import ROUTER

    member = add_member(database, "Acme", "editor", PASSWORD)
    bearer = {"Authorization": member["Authorization"]}
    document = b" " * (SMALL.max_document_bytes + 1)
    with TestClient(small_app(database, kb)) as client:
        product = client.post("/api/v1/products", json={"profile": ROUTER}, headers=bearer)
        assert product.status_code == 201, product.text
        pid = product.json()["id"]
        api = {"csaf": client.post("/api/v1/csaf/ingest", content=document, headers=bearer),
               "vex": client.post(f"/api/v1/products/{pid}/vex/import", content=document,
                                  headers=bearer)}
        for got in api.values():
            assert got.status_code == 413, got.text
            assert got.json()["code"] == "too-large"
        token = web_sign_in(client, member["email"])
        web = {"csaf": client.post("/csaf/ingest", data={"csrf_token": token},
                                   files={"file": ("a.json", document)}),
               "vex": client.post(f"/products/{pid}/vex/import", data={"csrf_token": token},
                                  files={"file": ("a.json", document)})}
        for got in web.values():
            assert got.status_code == 413, got.text
            assert f"limit of {SMALL.max_document_bytes} bytes" in got.text
        profile = yaml.safe_dump(ROUTER).encode()
        over = profile + b"#" * (SMALL.max_profile_bytes + 1 - len(profile))
        refused = client.post("/products/import", data={"csrf_token": token},
                              files={"profile": ("router.yaml", over)})
        assert refused.status_code == 413, refused.text
        assert f"limit of {SMALL.max_profile_bytes} bytes" in refused.text
