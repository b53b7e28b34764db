"""No lost updates: of two edits made from the same ETag, one wins and the other gets 412."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tests.api.conftest import TestClient, World


def test_second_edit_with_a_stale_etag_gets_412(world: World) -> None:
    sid = world.ids["status_id"]
    etag = world.call("GET", f"/api/v1/statuses/{sid}").headers["etag"]
    first = world.call("PATCH", f"/api/v1/statuses/{sid}", json={"status": "met"},
                       headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] != etag
    second = world.call("PATCH", f"/api/v1/statuses/{sid}", json={"status": "not-met"},
                        headers={"If-Match": etag})
    assert second.status_code == 412
    assert world.call("GET", f"/api/v1/statuses/{sid}").json()["status"] == "met"


@pytest.mark.parametrize("kind", ["products", "controls"])
def test_two_concurrent_clients_one_wins(world: World, kind: str) -> None:
    """Two clients (threads, each its own connection) send their edit at the same moment."""
    ref = world.ids["product_id" if kind == "products" else "control_id"]
    url = f"/api/v1/{kind}/{ref}"
    etag = world.call("GET", url).headers["etag"]
    current = world.call("GET", url).json()
    bodies = ([{"profile": current["profile"] | {"manufacturer": who}} for who in ("A", "B")]
              if kind == "products" else [{"owner": who} for who in ("A", "B")])
    method = "PUT" if kind == "products" else "PATCH"
    barrier, results = threading.Barrier(2), []
    app, auth = world.client.app, world.headers("Acme", "editor")

    def edit(body: dict[str, Any]) -> None:
        with TestClient(app) as own:
            barrier.wait()
            got = own.request(method, url, json=body, headers={**auth, "If-Match": etag})
            results.append(got.status_code)

    threads = [threading.Thread(target=edit, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [200, 412]
    assert world.call("GET", url).headers["etag"] == f'"{int(etag.strip(chr(34))) + 1}"'
