"""A release's SBOM parts through the API (add, list, remove), the merged SBOM exported as
CycloneDX 1.6/1.7 with its warnings header, and the bad input each answers with a problem."""

from __future__ import annotations

import json

from tests.api.conftest import World
from tests.realdata import DATA
from tests.workspace import vuln_data

from prodsec.formats import cyclonedx

HBOM = DATA / "sbom" / "cyclonedx" / "HBOM" / "PCIe-SATA-adapter-board" / "bom.json"
SPDX3 = DATA / "spdx3" / "software" / "example11" / "spdx3.0" / "sbom.spdx3.json"


def test_parts_added_listed_exported_and_removed(world: World) -> None:
    pid = world.ids["product_id"]
    base = f"/api/v1/products/{pid}/releases"
    assert world.call("POST", base, json={"version_label": "3.0"}).status_code == 201
    for path, part, kind in ((vuln_data.SBOM_B, "app", "application"),
                             (HBOM, "board", "hardware"), (SPDX3, "agent", "service"),
                             (vuln_data.SBOM_A, "firmware", "firmware")):
        got = world.call("POST", f"{base}/3.0/sbom", content=path.read_bytes(),
                         params={"filename": path.name, "part": part, "kind": kind})
        assert got.status_code == 200, got.text
    body = got.json()
    assert body["parts"] == 4 and body["conflicts"] and body["quality"]["conflicts"]
    parts = world.call("GET", f"{base}/3.0/sbom/parts").json()
    assert [(p["name"], p["format"], p["spec_version"]) for p in parts] == [
        ("agent", "SPDX", "SPDX-3.0.1"), ("app", "CycloneDX", "1.2"), ("board", "CycloneDX", "1.4"),
        ("firmware", "CycloneDX", "1.2")]
    for spec in ("1.6", "1.7"):
        exported = world.call("GET", f"{base}/3.0/sbom", params={"spec": spec})
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"] == "application/vnd.cyclonedx+json"
        report = cyclonedx.validate(exported.content, "api")
        assert report.valid and report.spec_version == spec, report.issues[:3]
        warnings = json.loads(exported.headers["x-prodsec-export-warnings"])
        assert any("security contact" in w for w in warnings)
        assert warnings[4:] == body["conflicts"]  # after the four CRA facts Acme lacks
        doc = exported.json()
        assert sorted(c["name"] for c in doc["components"]) == ["agent", "app", "board",
                                                               "firmware"]
    removed = world.call("DELETE", f"{base}/3.0/sbom/parts/firmware")
    assert removed.status_code == 200 and removed.json()["parts"] == 3
    assert not world.call("GET", f"{base}/3.0/sbom").headers.get(
        "x-prodsec-export-warnings", "").count("conflicting")


def test_bad_parts_are_problems(world: World) -> None:
    pid = world.ids["product_id"]
    base = f"/api/v1/products/{pid}/releases/1.0/sbom"
    bad = world.call("POST", base, content=HBOM.read_bytes(), params={"part": "a/b"})
    assert bad.status_code == 422 and "part name" in bad.json()["detail"]
    bad = world.call("POST", base, content=HBOM.read_bytes(), params={"kind": "toaster"})
    assert bad.status_code == 422 and "expected one of" in bad.json()["detail"]
    missing = world.call("DELETE", f"{base}/parts/nope")
    assert missing.status_code == 404 and "its parts: seedpart" in missing.json()["detail"]
    assert world.call("GET", base, params={"spec": "1.5"}).status_code == 422
    assert world.call("DELETE", f"{base}/parts/seedpart", role="viewer").status_code == 403
    assert world.call("GET", f"{base}/parts", org="Globex", role="admin").status_code == 404


def test_warnings_header_is_ascii_json_capped_at_twenty() -> None:
    from fastapi import Response

    from prodsec.api.routes.sbom_parts import with_warnings

    got = with_warnings(Response(), [f"w{i} — über" for i in range(25)])
    listed = json.loads(got.headers["x-prodsec-export-warnings"])
    assert listed[0] == "w0 — über" and listed[-1] == "(5 more)" and len(listed) == 21
    assert got.headers["x-prodsec-export-warnings"].isascii()
    assert "x-prodsec-export-warnings" not in with_warnings(Response(), []).headers
