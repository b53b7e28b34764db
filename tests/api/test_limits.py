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


def test_the_expiring_days_limit_is_the_one_every_face_uses(world: World) -> None:
    """``limits.EXPIRING_DAYS`` for the API and the service; 3 000 000 days ended the CLI in an
    OverflowError traceback before the service refused it (both CLI paths: the spec parity)."""
    import datetime as dt

    import pytest

    from prodsec.errors import InputError
    from prodsec.workspace import gaps

    assert world.call("GET", "/api/v1/gaps", params={
        "expiring_days": limits.EXPIRING_DAYS}).status_code == 200
    for days in (-1, limits.EXPIRING_DAYS + 1, 3_000_000):
        got = world.call("GET", "/api/v1/gaps", params={"expiring_days": days})
        assert got.status_code == 422, (days, got.text)
        with pytest.raises(InputError, match=f"between 0 and {limits.EXPIRING_DAYS}"):
            gaps.check_expiring_days(days)
    with pytest.raises(InputError, match="expiring_days"):
        gaps.expiring(None, None, [], dt.date(2026, 12, 3), 3_000_000)  # type: ignore[arg-type]
