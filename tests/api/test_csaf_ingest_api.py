"""``POST /api/v1/csaf/ingest``: a real advisory matched to a release's components through the
API; an invalid one refused whole (422 problem naming the rule, nothing stored); viewers may
not ingest."""

from __future__ import annotations

import json

from tests.api.conftest import World
from tests.realdata import DATA
from tests.workspace.test_csaf_ingest import SUPPLIED

ADVISORY = DATA / "csaf" / "real" / "cisa" / "va-24-254-01.json"
INGEST = "/api/v1/csaf/ingest"


def test_ingest_through_the_api(world: World) -> None:
    pid = world.ids["product_id"]
    assert world.call("POST", f"/api/v1/products/{pid}/releases",
                      json={"version_label": "2.0"}).status_code == 201
    assert world.call("POST", f"/api/v1/products/{pid}/releases/2.0/sbom",
                      params={"filename": "supplied.json"},
                      content=json.dumps(SUPPLIED).encode()).status_code == 200
    assert world.call("POST", INGEST, role="viewer", content=ADVISORY.read_bytes()).status_code == 403
    broken = json.loads(ADVISORY.read_bytes())
    del broken["document"]["title"]
    refused = world.call("POST", INGEST, content=json.dumps(broken).encode())
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert any("'title' is a required property" in e["message"] for e in refused.json()["errors"])
    assert world.call("GET", f"/api/v1/products/{pid}/findings", params={"release": "2.0"}).json() == []

    # another organisation's ingest never matches Acme's components
    theirs = world.call("POST", INGEST, org="Globex", content=ADVISORY.read_bytes()).json()
    assert theirs["advisories"][0]["affected"] == []
    got = world.call("POST", INGEST, params={"filename": ADVISORY.name},
                     content=ADVISORY.read_bytes())
    assert got.status_code == 200, got.text
    [advisory] = got.json()["advisories"]
    assert advisory["tracking_id"] == "VA-24-254-01" and advisory["findings"]["added"] == 3
    found = world.call("GET", f"/api/v1/products/{pid}/findings", params={"release": "2.0"}).json()
    assert sorted(f["aliases"][0] for f in found) == ["CVE-2024-45074", "CVE-2024-45075",
                                                      "CVE-2024-45076"]
