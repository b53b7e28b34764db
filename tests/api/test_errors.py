"""Bad input answers RFC 9457 problems: 422 naming the field, 404, 405, 413, 428, 412."""

from __future__ import annotations

from collections.abc import Iterator

from tests.api.conftest import World

PROBLEM = "application/problem+json"


def test_invalid_body_names_the_field(world: World) -> None:
    got = world.call("POST", "/api/v1/products", json={"profile": {"name": "x", "markets": ["XX"]}})
    assert got.status_code == 422
    assert got.headers["content-type"] == PROBLEM
    body = got.json()
    assert body["errors"][0]["field"] == "profile.markets[0]"
    assert {"type", "title", "status", "detail"} <= body.keys()
    got = world.call("POST", "/api/v1/controls", json={"name": "", "requirements": "nope"})
    fields = {e["field"] for e in got.json()["errors"]}
    assert got.status_code == 422 and {"name", "requirements"} <= fields
    got = world.call("POST", "/api/v1/controls", json={"name": "n", "requirements": ["no:such"]})
    assert got.status_code == 422 and got.json()["errors"][0]["field"] == "requirements[0]"
    got = world.call("GET", "/api/v1/products", params={"limit": "many"})
    assert got.status_code == 422 and got.json()["errors"][0]["field"] == "limit"
    got = world.call("POST", "/api/v1/products", content=b"{not json",
                     headers={"Content-Type": "application/json"})
    assert got.status_code == 422


def test_not_applicable_needs_a_justification(world: World) -> None:
    sid = world.ids["status_id"]
    got = world.call("PATCH", f"/api/v1/statuses/{sid}", json={"status": "not-applicable"},
                     headers={"If-Match": '"1"'})
    assert got.status_code == 422 and got.json()["errors"][0]["field"] == "justification"


def test_unknown_ids_routes_and_methods(world: World) -> None:
    assert world.call("GET", "/api/v1/products/nope").status_code == 404
    assert world.call("GET", "/api/v1/regulations/nope").status_code == 404
    assert world.call("GET", "/api/v1/requirements", params={"category": "x"}).status_code == 404
    missing = world.call("GET", "/api/v1/nowhere")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    wrong = world.call("PATCH", "/api/v1/products")
    assert wrong.status_code == 405 and wrong.headers["content-type"] == PROBLEM


def test_upload_over_the_limit_is_413_and_leaves_no_file(world: World) -> None:
    store = world.client.app.state.prodsec.database.evidence_dir  # type: ignore[attr-defined]
    before = sorted(p.name for p in store.rglob("*") if p.is_file())
    got = world.call("POST", "/api/v1/evidence/files", params={"title": "big"},
                     content=b"x" * 5000)
    assert got.status_code == 413 and got.json()["errors"][0]["field"] == "file"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while streaming
        for _ in range(10):
            yield b"y" * 1000

    got = world.call("POST", "/api/v1/evidence/files", params={"title": "big"}, content=chunks())
    assert got.status_code == 413
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == before
    assert world.call("GET", "/api/v1/evidence", params={"title": "big"}).json()["total"] == 0


def test_upload_and_download_round_trip(world: World) -> None:
    made = world.call("POST", "/api/v1/evidence/files", content=b"\x00\x01binary",
                      params={"title": "firmware scan", "filename": "scan.bin",
                              "expires_on": "2027-01-01"},
                      headers={"Content-Type": "application/pdf"})
    assert made.status_code == 201, made.text
    got = world.call("GET", f"/api/v1/evidence/{made.json()['id']}/content")
    assert got.content == b"\x00\x01binary"
    assert got.headers["content-disposition"].startswith("attachment")
    url = world.call("POST", "/api/v1/evidence", json={"title": "policy", "url": "ftp://x/y"})
    assert url.status_code == 422 and url.json()["errors"][0]["field"] == "url"


def test_writes_need_if_match(world: World) -> None:
    """(A product of its own: the seeded one has an Article 14 case, and a product with
    reporting records cannot be deleted at all.)"""
    from tests.api.conftest import CAMERA

    made = world.call("POST", "/api/v1/products", json={"profile": CAMERA | {"name": "Gone"}})
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    got = world.call("DELETE", f"/api/v1/products/{pid}")
    assert got.status_code == 428
    got = world.call("DELETE", f"/api/v1/products/{pid}", headers={"If-Match": '"7"'})
    assert got.status_code == 412
    got = world.call("DELETE", f"/api/v1/products/{pid}", headers={"If-Match": "garbage"})
    assert got.status_code == 412
    etag = world.call("GET", f"/api/v1/products/{pid}").headers["etag"]
    assert world.call("DELETE", f"/api/v1/products/{pid}",
                      headers={"If-Match": etag}).status_code == 204
    assert world.call("GET", f"/api/v1/products/{pid}").status_code == 404
