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
