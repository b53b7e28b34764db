"""``POST /api/v1/sbom/bsi`` (nothing stored) and the TR-03183-2 verdict an import keeps."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.api.conftest import add_member
from tests.realdata import DATA

from prodsec.db.engine import Database

CONFORMING = DATA / "bsi" / "lhc-vdm-editor.bsi.cdx.json"
URL = "/api/v1/sbom/bsi"


def test_any_member_checks_an_sbom_body(database: Database, client: TestClient) -> None:
    viewer = add_member(database, "Acme", "viewer")
    got = client.post(URL, content=CONFORMING.read_bytes(),
                      headers={"Authorization": viewer["Authorization"]},
                      params={"filename": "app.cdx.json"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["conforms"] and body["source"] == "app.cdx.json"
    assert {f["clause"] for f in body["fields"]} == {"5.2.2", "5.2.4", "5.2.5"}


def test_unauthenticated_and_bad_bodies_are_problems(database: Database,
                                                     client: TestClient) -> None:
    assert client.post(URL, content=CONFORMING.read_bytes()).status_code == 401
    viewer = add_member(database, "Acme", "viewer")
    bad = client.post(URL, content=b'{"bomFormat": ', headers={
        "Authorization": viewer["Authorization"]})
    assert bad.status_code in (400, 422), bad.text
    assert bad.headers["content-type"].startswith("application/problem+json")
