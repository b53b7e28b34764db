"""The API refuses text over the shared limits (``prodsec.core.limits``) with a 422 naming the
field, also where the limit sits inside a profile, beyond what the request schema sees."""

from __future__ import annotations

from pathlib import Path

import yaml
from tests.api.conftest import World

from prodsec.core import limits

ROUTER = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples/products/router.yaml")
                        .read_text())


def test_a_too_long_product_name_is_422_naming_it(world: World) -> None:
    too_long = "x" * (limits.NAME + 1)
    got = world.call("POST", "/api/v1/products", json={"profile": {**ROUTER, "name": too_long}})
    assert got.status_code == 422, got.text
    error = got.json()["errors"][0]
    assert error["field"] == "profile.name"
    assert f"the limit is {limits.NAME}" in got.text
    names = [p["name"] for p in world.call("GET", "/api/v1/products").json()["items"]]
    assert too_long not in names


def test_the_mapping_depth_limit_is_the_one_every_face_uses(world: World) -> None:
    """One bound (``limits.MAPPING_DEPTH``) for the API, both CLI paths and the service."""
    url = "/api/v1/requirements/uk-psti:schedule-1:1/mappings"
    assert world.call("GET", url, params={"depth": limits.MAPPING_DEPTH}).status_code == 200
    for depth in (0, limits.MAPPING_DEPTH + 1, 9):
        got = world.call("GET", url, params={"depth": depth})
        assert got.status_code == 422, (depth, got.text)
