"""GET /api/v1/knowledge/changes: the change log with its law-as-of date; a bad date is a 422."""

from __future__ import annotations

from tests.api.conftest import World


def test_changes_endpoint(world: World) -> None:
    response = world.call("GET", "/api/v1/knowledge/changes", role="viewer")
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["law_as_of"] == "2026-12-03"
    assert "cra-l-category-exclusion" in {c["id"] for c in data["changes"]}
    later = world.call("GET", "/api/v1/knowledge/changes?since=2027-01-01", role="viewer").json()
    assert [c["id"] for c in later["changes"]] == ["cra-ehds-ehr-systems", "red-da-repeal"]
    recorded = world.call("GET", "/api/v1/knowledge/changes?recorded_since=2026-12-04",
                          role="viewer").json()
    assert recorded["recorded_since"] == "2026-12-04" and recorded["changes"] == []
    bad = world.call("GET", "/api/v1/knowledge/changes?since=yesterday", role="viewer")
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_check_states_law_as_of(world: World) -> None:
    from tests.api.conftest import ROUTER

    response = world.call("POST", "/api/v1/check", json={"profile": ROUTER})
    assert response.status_code == 200, response.text
    assert response.json()["law_as_of"] == "2026-12-03"
