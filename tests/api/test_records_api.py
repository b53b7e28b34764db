"""The API's side of the records the web UI edits: organisation details (admins), product
documentation (editors), generated documents downloaded byte for byte, evidence expiry."""

from __future__ import annotations

import hashlib

from tests.api.conftest import World


def test_generated_document_downloads_as_issued(world: World) -> None:
    pid = world.ids["product_id"]
    made = world.call("POST", f"/api/v1/products/{pid}/documents",
                      json={"kind": "technical-file", "format": "html", "draft": True})
    assert made.status_code == 200, made.text
    record = made.headers["X-Document-Id"]
    got = world.call("GET", f"/api/v1/documents/{record}/content", role="viewer")
    assert got.status_code == 200 and got.content == made.content
    assert hashlib.sha256(got.content).hexdigest() == made.headers["X-Document-SHA256"]
    assert got.headers["content-disposition"].startswith('attachment; filename="technical-file')
    listed = world.call("GET", f"/api/v1/products/{pid}/documents").json()
    assert record in [r["id"] for r in listed]
    outside = world.call("GET", f"/api/v1/documents/{record}/content", org="Globex",
                         role="admin")
    assert outside.status_code == 404


def test_organisation_details_are_the_admins(world: World) -> None:
    assert world.call("GET", "/api/v1/organisation/profile", role="viewer").json()["version"] is None
    refused = world.call("PATCH", "/api/v1/organisation/profile", json={"legal_name": "X"})
    assert refused.status_code == 403
    done = world.call("PATCH", "/api/v1/organisation/profile", role="admin", json={
        "legal_name": "Acme Devices GmbH", "ack_days": 5, "safe_harbour": True,
        "pledge_signed_on": "2026-03-01"})
    assert done.status_code == 200, done.text
    assert done.json()["fields"]["pledge_signed_on"] == "2026-03-01"
    etag = done.headers["ETag"]
    stale = world.call("PATCH", "/api/v1/organisation/profile", role="admin",
                       json={"legal_name": "Y"}, headers={"If-Match": '"99"'})
    assert stale.status_code == 412
    for wrong in ({"pledge_signed_on": "March"}, {"safe_harbour": "yes"}, {"website": 5},
                  {"nonsense": "x"}):
        bad = world.call("PATCH", "/api/v1/organisation/profile", role="admin", json=wrong,
                         headers={"If-Match": etag})
        assert bad.status_code == 422, (wrong, bad.text)
    shown = world.call("GET", "/api/v1/organisation/profile", role="viewer").json()
    assert shown["fields"]["legal_name"] == "Acme Devices GmbH"
    theirs = world.call("GET", "/api/v1/organisation/profile", org="Globex", role="admin")
    assert theirs.json()["fields"]["legal_name"] is None


def test_product_documentation_and_evidence_expiry(world: World) -> None:
    pid, eid = world.ids["product_id"], world.ids["evidence_id"]
    done = world.call("PATCH", f"/api/v1/products/{pid}/documentation", json={
        "type_designation": "RX-1", "standards_applied": [{"standard": "etsi-en-303-645"}]})
    assert done.status_code == 200, done.text
    assert done.json()["fields"]["standards_applied"][0]["extent"] == "full"
    assert world.call("PATCH", f"/api/v1/products/{pid}/documentation", role="viewer",
                      json={"type_designation": "Z"}).status_code == 403
    got = world.call("GET", f"/api/v1/products/{pid}/documentation", role="viewer").json()
    assert got["fields"]["type_designation"] == "RX-1"
    expiry = world.call("PATCH", f"/api/v1/evidence/{eid}", json={"expires_on": "2027-01-31"})
    assert expiry.status_code == 200 and expiry.json()["expires_on"] == "2027-01-31"
    cleared = world.call("PATCH", f"/api/v1/evidence/{eid}", json={"expires_on": None})
    assert cleared.json()["expires_on"] is None
    assert world.call("PATCH", f"/api/v1/evidence/{eid}", role="viewer",
                      json={"expires_on": None}).status_code == 403
