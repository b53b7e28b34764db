"""The API's product lifecycle: profile-diff (stores nothing), archive/restore with If-Match,
the deletion preview, and a refused delete while Article 14 cases exist."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import World


def test_diff_archive_restore_and_deletion(world: World) -> None:
    pid = world.ids["product_id"]
    base = f"/api/v1/products/{pid}"
    current = world.call("GET", base)
    profile, etag = current.json()["profile"], current.headers["ETag"]
    diff = world.call("POST", f"{base}/profile-diff", role="viewer",
                      json={"profile": profile | {"markets": ["US"]}})
    assert diff.status_code == 200, diff.text
    body: dict[str, Any] = diff.json()
    assert body["profile_changed"] and any(c["regulation"] == "eu-cra" for c in body["changes"])
    assert world.call("GET", base).headers["ETag"] == etag  # nothing stored
    effects = world.call("GET", f"{base}/deletion", role="viewer").json()
    assert effects["blocked"] and "Article 14" in effects["blocked"]  # the world has a case
    refused = world.call("DELETE", base, headers={"If-Match": etag})
    assert refused.status_code == 409 and "cannot be deleted" in refused.json()["detail"]
    assert world.call("POST", f"{base}/archive", headers={"If-Match": etag}).status_code == 409
    made = world.call("POST", "/api/v1/products", json={"profile": profile | {"name": "Other"}})
    base, etag = f"/api/v1/products/{made.json()['id']}", made.headers["ETag"]
    assert world.call("POST", f"{base}/archive").status_code == 428  # If-Match required
    assert world.call("POST", f"{base}/archive", role="viewer",
                      headers={"If-Match": etag}).status_code == 403
    archived = world.call("POST", f"{base}/archive", headers={"If-Match": etag})
    assert archived.status_code == 200 and archived.json()["archived_at"]
    put = world.call("PUT", base, headers={"If-Match": archived.headers["ETag"]},
                     json={"profile": profile})
    assert put.status_code == 409 and "archived" in put.json()["detail"]
    restored = world.call("POST", f"{base}/restore", headers={"If-Match": archived.headers["ETag"]})
    assert restored.status_code == 200 and restored.json()["archived_at"] is None
    assert world.call("GET", f"{base}/deletion").json()["blocked"] is None
    gone = world.call("DELETE", base, headers={"If-Match": restored.headers["ETag"]})
    assert gone.status_code == 204 and world.call("GET", base).status_code == 404


def test_a_case_opened_in_error_is_withdrawn_and_the_product_can_go(world: World) -> None:
    """Review h16r M1: the world's incident case has no report yet; withdrawn (with a reason,
    409 a second time), it stops its clocks and no longer blocks the deletion."""
    pid, cid = world.ids["product_id"], world.ids["case_id"]
    url = f"/api/v1/cases/{cid}/withdrawal"
    assert world.call("POST", url, json={"reason": ""}).status_code == 422
    assert world.call("POST", url, role="viewer", json={"reason": "x"}).status_code == 403
    assert world.call("POST", url, org="Globex", json={"reason": "x"}).status_code == 404
    done = world.call("POST", url, json={"reason": "no incident after all"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "withdrawn" and not body["overdue"] and body["next_due"] is None
    assert body["withdrawn_by"] == "editor@acme.example"
    again = world.call("POST", url, json={"reason": "again"})
    assert again.status_code == 409 and "withdrawn" in again.json()["detail"]
    effects = world.call("GET", f"/api/v1/products/{pid}/deletion").json()
    assert effects["blocked"] is None and effects["removed"]["article14_cases"] == 1


def test_no_case_for_a_product_the_cra_excludes(world: World) -> None:
    from pathlib import Path

    import yaml

    car = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples/products/car.yaml")
                         .read_text())
    made = world.call("POST", "/api/v1/products", json={"profile": car})
    assert made.status_code == 201, made.text
    refused = world.call("POST", f"/api/v1/products/{made.json()['id']}/cases", json={
        "kind": "incident", "title": "telematics outage", "aware_at": "2026-11-27T08:00:00Z"})
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["errors"][0]["field"] == "product"
    assert "not-applicable" in problem["detail"] and "Art. 2(2)(c)" in problem["detail"]
