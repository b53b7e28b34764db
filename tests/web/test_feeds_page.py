"""The *Advisories and feeds* page: OSV advisories (a zip as osv.dev publishes them, or one
JSON) and KEV/EPSS/EUVD files uploaded from the browser, so an SBOM uploaded on the web gets
its findings without a terminal; refusals next to the field with nothing imported; viewers and
other organisations refused."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from prodsec.db.models import AdvisoryRecord, FeedImport
from tests.web.conftest import sign_in
from tests.workspace import vuln_data

RELEASE = "1.8.0"
ROUTER = {"name": "Router F", "markets": ["DE"], "functions": ["router"],
          "data_connection": "yes", "internet": "yes", "consumer": "yes", "personal_data": "no",
          "radio_answered": "1", "radio": ["wifi"]}
KEV = Path(__file__).parents[1] / "data" / "kev" / "known_exploited_vulnerabilities.json"


def osv_zip() -> bytes:
    """The relevant Go advisories as one zip, the shape of osv.dev's ``Go/all.zip``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in vuln_data.relevant_files():
            archive.write(path, path.name)
    return buffer.getvalue()


def _advisories(db: Any) -> int:
    from sqlalchemy import func, select

    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(AdvisoryRecord)) or 0)


def _upload(client: TestClient, csrf: str, name: str, data: bytes) -> Any:
    return client.post("/feeds/advisories", data={"csrf_token": csrf},
                       files={"file": (name, data, "application/octet-stream")},
                       follow_redirects=False)


@pytest.fixture
def editor(app: Any) -> tuple[TestClient, str, str]:
    """A signed-in editor with a product whose release 1.8.0 has the proton-bridge SBOM and,
    no advisory being imported yet, no findings."""
    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    product = str(client.post("/products/new", data={"csrf_token": csrf, **ROUTER},
                              follow_redirects=False).headers["location"])
    client.post(f"{product}/releases", data={"csrf_token": csrf, "version_label": RELEASE})
    sbom = client.post(f"{product}/sbom", data={"csrf_token": csrf, "release": RELEASE},
                       files={"file": (vuln_data.SBOM_B.name, vuln_data.SBOM_B.read_bytes(),
                                       "application/json")}, follow_redirects=False)
    assert sbom.status_code == 303, sbom.text
    return client, csrf, product


def _findings(client: TestClient, product: str) -> int:
    page = client.get(f"{product}/vulnerabilities").text
    found = re.search(r'<p class="release-summary">(\d+) findings', page)
    return int(found.group(1)) if found else 0


def test_a_zip_uploaded_on_the_web_gives_the_sbom_its_findings(
        editor: tuple[TestClient, str, str], web_db: Any) -> None:
    client, csrf, product = editor
    page = client.get(f"{product}/vulnerabilities").text
    assert 'href="/feeds"' in page, "the hint links to the upload page, not to a CLI command"
    assert _findings(client, product) == 0
    done = _upload(client, csrf, "all.zip", osv_zip())
    assert done.status_code == 303 and done.headers["location"] == "/feeds?imported=advisories"
    assert _findings(client, product) > 0
    assert not any((web_db.evidence_dir / "advisory-uploads").rglob("*.*")), \
        "the upload is removed once imported"
    page = client.get("/feeds?imported=advisories").text
    count = len(vuln_data.relevant_files())
    assert "The advisories were imported" in page
    first = re.search(rf"<code>all\.zip</code></td><td>{count}</td><td>(\d+)</td>", page)
    assert first and int(first.group(1)) > 0, "the import is listed with its source and counts"
    again = _upload(client, csrf, "all.zip", osv_zip())
    assert again.status_code == 303
    page = client.get("/feeds").text
    assert f"<td>{count}</td><td>0</td><td>0</td><td>{first.group(1)}</td>" in page, \
        "the second import of the same file adds and updates nothing and says so"


def test_a_single_osv_json_is_imported(editor: tuple[TestClient, str, str], web_db: Any) -> None:
    client, csrf, _ = editor
    path = vuln_data.relevant_files()[0]
    assert _upload(client, csrf, path.name, path.read_bytes()).status_code == 303
    assert _advisories(web_db) == 1


@pytest.mark.parametrize(("name", "data", "words"), [
    ("notes.json", b'{"summary": "no id"}', "notes.json: /id: missing"),
    ("broken.json", b"{not json", "broken.json"),
    ("empty.zip", None, "empty.zip: the zip holds no OSV advisory files"),
    ("cut.zip", b"PK\x03\x04" + b"\x00" * 40, "cut.zip"),
])
def test_a_bad_file_is_refused_next_to_the_field_and_nothing_is_imported(
        editor: tuple[TestClient, str, str], web_db: Any, name: str, data: bytes | None,
        words: str) -> None:
    client, csrf, product = editor
    if data is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("README.txt", "no advisories here")
        data = buffer.getvalue()
    refused = _upload(client, csrf, name, data)
    assert refused.status_code == 422, refused.text
    error = re.search(r'<p class="error" role="alert" id="err-advisories">([^<]*)</p>',
                      refused.text)
    assert error and words in error.group(1), refused.text
    assert 'aria-describedby="err-advisories" aria-invalid="true"' in refused.text
    assert ".staging" not in error.group(1), "the error names the upload, not where it was kept"
    assert _advisories(web_db) == 0 and _findings(client, product) == 0
    kept = web_db.evidence_dir / "advisory-uploads"
    assert not kept.exists() or not any(kept.rglob("*.*")), "a refused file is not kept"


def test_a_feed_file_is_imported_and_a_wrong_kind_refused(
        editor: tuple[TestClient, str, str], web_db: Any) -> None:
    from sqlalchemy import func, select

    client, csrf, _ = editor
    wrong = client.post("/feeds/upload", data={"csrf_token": csrf, "kind": "epss"},
                        files={"file": ("kev.json", KEV.read_bytes(), "application/json")})
    assert wrong.status_code == 422
    assert re.search(r'id="err-feed">kev\.json: expected a FIRST EPSS', wrong.text)
    assert '<option value="epss" selected>' in wrong.text, "the chosen kind is kept"
    with web_db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(FeedImport)) == 0
    done = client.post("/feeds/upload", data={"csrf_token": csrf, "kind": ""},
                       files={"file": ("kev.json", KEV.read_bytes(), "application/json")},
                       follow_redirects=False)
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert "CISA KEV catalogue (JSON)</td><td><code>kev.json</code>" in page


def test_a_viewer_sees_the_imports_but_cannot_upload(app: Any, web_db: Any) -> None:
    client = TestClient(app)
    csrf = sign_in(client, "viewer@acme.example")
    page = client.get("/feeds")
    assert page.status_code == 200 and 'action="/feeds/advisories"' not in page.text
    refused = _upload(client, csrf, "all.zip", osv_zip())
    assert refused.status_code == 403
    assert _advisories(web_db) == 0


def test_another_organisation_sees_none_of_the_imports(
        editor: tuple[TestClient, str, str], app: Any) -> None:
    client, csrf, _ = editor
    assert _upload(client, csrf, "acme-advisories.zip", osv_zip()).status_code == 303
    other = TestClient(app)
    sign_in(other, "admin@globex.example")
    page = other.get("/feeds").text
    assert "acme-advisories.zip" not in page and "No advisories imported yet" in page
    assert other.get("/api/v1/advisories/imports").json() == []
