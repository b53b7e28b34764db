"""The suppliers' CSAF page: a real CISA advisory uploaded through the form becomes findings on
the matching component; an invalid one is refused with the rule named and stores nothing; CSRF
and the editor role are checked before the file is read."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.realdata import DATA
from tests.web.conftest import sign_in
from tests.web.test_vuln_pages import ROUTER
from tests.workspace.test_csaf_ingest import SUPPLIED

ADVISORY = DATA / "csaf" / "real" / "cisa" / "va-24-254-01.json"


def _ingest(client: TestClient, csrf: str, data: bytes) -> Any:
    return client.post("/csaf/ingest", data={"csrf_token": csrf},
                       files={"file": (ADVISORY.name, data, "application/json")})


def test_ingest_page(app: Any) -> None:
    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    product = str(client.post("/products/new", data={"csrf_token": csrf, **ROUTER},
                              follow_redirects=False).headers["location"])
    client.post(f"{product}/releases", data={"csrf_token": csrf, "version_label": "2.0"})
    done = client.post(f"{product}/sbom", data={"csrf_token": csrf, "release": "2.0"},
                       files={"file": ("supplied.json", json.dumps(SUPPLIED).encode(),
                                       "application/json")}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert "Ingest" in client.get("/csaf").text
    assert _ingest(client, "forged", ADVISORY.read_bytes()).status_code == 403
    broken = json.loads(ADVISORY.read_bytes())
    del broken["document"]["title"]
    refused = _ingest(client, csrf, json.dumps(broken).encode())
    assert refused.status_code == 422
    assert "refused, nothing stored" in refused.text and "&#39;title&#39; is a required property" in refused.text
    assert "CVE-2024-45074" not in client.get(f"{product}/vulnerabilities").text
    page = _ingest(client, csrf, ADVISORY.read_bytes())
    assert page.status_code == 200, page.text
    assert "VA-24-254-01" in page.text and "3 new findings" in page.text
    assert "CVE-2024-45074" in client.get(f"{product}/vulnerabilities").text

    viewer = TestClient(app)
    viewer_csrf = sign_in(viewer, "viewer@acme.example")
    assert "needs the editor role" in viewer.get("/csaf").text
    assert _ingest(viewer, viewer_csrf, ADVISORY.read_bytes()).status_code == 403
