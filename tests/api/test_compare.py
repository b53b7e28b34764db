"""GET /api/v1/compare: two products side by side, read by a viewer; fewer than two is a 422
problem, an unknown or another organisation's product a 404 that looks the same."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import AS_OF, CAMERA, World


def _camera(world: World) -> str:
    response = world.call("POST", "/api/v1/products", json={"profile": CAMERA})
    assert response.status_code == 201, response.text
    product_id: str = response.json()["id"]
    return product_id


def _rows(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {row["key"]: row["cells"] for aspect in body["aspects"] for row in aspect["rows"]}


def test_viewer_compares_two_products(world: World) -> None:
    router, camera = world.ids["product_id"], _camera(world)
    got = world.call("GET", "/api/v1/compare", role="viewer",
                     params={"product": [router, camera], "as_of": AS_OF})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["as_of"] == AS_OF
    assert [p["id"] for p in body["products"]] == [router, camera]
    rows = _rows(body)
    assert [c["value"] for c in rows["latest_release"]] == ["1.0", "not recorded"]
    assert [c["value"] for c in rows["components"]] == [1, "—"]
    assert [c["value"] for c in rows["findings_affected"]] == [1, "—"]  # the seeded VEX decision
    assert [c["value"] for c in rows["csaf_advisories"]] == [1, 0]
    assert [c["value"] for c in rows["article14_open"]] == [1, 0]
    assert rows["progress:eu-cra"][1]["value"] == "not assessed"
    assert rows["progress:eu-cra"][0]["value"].startswith("0/")


def test_fewer_than_two_products_is_a_problem(world: World) -> None:
    for params in ({}, {"product": world.ids["product_id"]},
                   {"product": [world.ids["product_id"]] * 2}):
        got = world.call("GET", "/api/v1/compare", role="viewer", params=params)
        assert got.status_code == 422, (params, got.text)
        assert got.headers["content-type"].startswith("application/problem+json")
        assert got.json()["errors"][0]["field"] == "product"


def test_unknown_and_foreign_products_are_not_found(world: World) -> None:
    router, camera = world.ids["product_id"], _camera(world)
    foreign = world.call("GET", "/api/v1/compare", org="Globex", role="admin",
                         params={"product": [router, camera]})
    unknown = world.call("GET", "/api/v1/compare", org="Globex", role="admin",
                         params={"product": ["f" * 32, camera]})
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["detail"].replace(router, "X") == unknown.json()["detail"].replace("f" * 32, "X")
    assert "Fictinet" not in foreign.text
