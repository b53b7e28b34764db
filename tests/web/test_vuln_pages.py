"""The vulnerabilities page with real data (the proton-bridge SBOM, the Go advisories): SBOM
upload with its quality report, VEX downloads, supplier VEX import, CSAF authoring; CSRF, form
errors next to the form, roles and organisation isolation."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from prodsec.formats import csaf
from tests.web.conftest import PASSWORD, sign_in
from tests.workspace import vuln_data

RELEASE = "1.8.0"
ROUTER = {"name": "Router V", "markets": ["DE"], "functions": ["router"],
          "data_connection": "yes", "internet": "yes", "consumer": "yes", "personal_data": "no",
          "radio_answered": "1", "radio": ["wifi"]}


@pytest.fixture
def editor(app: Any, web_db: Any, tmp_path: Path) -> tuple[TestClient, str, str]:
    """A signed-in editor, a product with release 1.8.0 (no SBOM yet), the Go advisories."""
    from prodsec.workspace import vulnerabilities
    from prodsec.workspace.users import authenticate_password

    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    made = client.post("/products/new", data={"csrf_token": csrf, **ROUTER},
                       follow_redirects=False)
    product = str(made.headers["location"])
    added = client.post(f"{product}/releases", data={"csrf_token": csrf,
                                                     "version_label": RELEASE},
                        follow_redirects=False)
    assert added.status_code == 303, added.text
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        vulnerabilities.import_advisories(session, actor, vuln_data.make_osv_dir(tmp_path / "go"))
    return client, csrf, product


def _upload(client: TestClient, product: str, csrf: str, data: bytes,
            name: str = vuln_data.SBOM_B.name, release: str = RELEASE, **part: str) -> Any:
    return client.post(f"{product}/sbom", data={"csrf_token": csrf, "release": release, **part},
                       files={"file": (name, data, "application/json")}, follow_redirects=False)


def test_sbom_upload_shows_quality_findings_and_downloads(editor: tuple[TestClient, str, str]) -> None:
    client, csrf, product = editor
    page = client.get(f"{product}/vulnerabilities").text
    assert "No SBOM imported yet" in page and "Import SBOM" in page
    assert "use the CLI" not in page and "prodsec sbom import" not in page
    done = _upload(client, product, csrf, vuln_data.SBOM_B.read_bytes())
    assert done.status_code == 303 and "#release-" in done.headers["location"]
    page = client.get(f"{product}/vulnerabilities").text
    assert vuln_data.SBOM_B.name in page and "Quality report" in page
    assert re.search(r"<strong>[\d.]+%</strong>", page) and "minimum" in page
    assert "Add or replace part" in page and "Author CSAF advisory" in page
    rows = re.findall(r'<tr id="f-[0-9a-f]+"', page)
    assert rows, "the real SBOM matches real advisories"
    total = int(re.search(r'<p class="release-summary">(\d+) findings', page).group(1))
    assert len(rows) == min(total, 25), "25 findings a page"
    assert f"{total} findings" in page and (total <= 25 or 'rel="next"' in page)
    links = re.findall(r'href="(/api/v1/products/[0-9a-f]+/releases/1\.8\.0/vex\?format=(\w+))"',
                       page)
    assert {fmt for _, fmt in links} == {"cyclonedx", "openvex", "csaf"}
    for href, fmt in links:  # the session cookie is enough to download (a GET)
        got = client.get(href)
        assert got.status_code == 200, (fmt, got.text[:300])
        assert got.headers["content-disposition"].startswith("attachment; filename=")


def test_sbom_upload_errors_are_shown_next_to_the_form(editor: tuple[TestClient, str, str]) -> None:
    client, csrf, product = editor
    forged = _upload(client, product, "forged", vuln_data.SBOM_B.read_bytes())
    assert forged.status_code == 403 and "expired" in forged.text
    bad = _upload(client, product, csrf, b'{"bomFormat": "CycloneDX", ', "broken.json")
    assert bad.status_code == 422
    assert re.search(r'id="err-sbom-[0-9a-f]+">[^<]*broken\.json', bad.text)
    assert 'aria-invalid="true"' in bad.text
    none = client.post(f"{product}/sbom", data={"csrf_token": csrf, "release": RELEASE},
                       files={"file": ("", b"", "application/octet-stream")})
    assert none.status_code == 422 and "choose an SBOM file" in none.text
    assert _upload(client, product, csrf, b"{}", release="9.9").status_code == 404
    assert "No SBOM imported yet" in client.get(f"{product}/vulnerabilities").text


def test_supplier_vex_import_and_csaf_authoring(editor: tuple[TestClient, str, str]) -> None:
    client, csrf, product = editor
    _upload(client, product, csrf, vuln_data.SBOM_B.read_bytes())
    page = client.get(f"{product}/vulnerabilities").text
    # review h16r m5: the triage detail says what each VEX export makes of it
    assert "exploitable: the action statement, what users should do (OpenVEX " \
        "action_statement)" in unescape(page)
    first = re.search(r'<tr id="f-[0-9a-f]+"[^>]*>\s*(?:<td[^>]*><input[^>]*><label[^>]*>[^<]*</label></td>)?\s*<td[^>]*><strong>([^<]+)</strong>.*?<code>([^<]+)</code>',
                      page, re.S)
    assert first
    vid, purl = first.group(1), first.group(2)
    triage = client.post(f"{product}/csaf", data={"csrf_token": csrf, "release": RELEASE,
                                                  "title": "Go modules"})
    assert triage.status_code == 422 and "still in triage" in triage.text
    assert 'value="Go modules"' in triage.text  # the title typed is kept

    openvex = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://supplier.example/1",
               "author": "Supplier", "timestamp": "2026-11-27T00:00:00Z", "version": 1,
               "statements": [
                   {"vulnerability": {"name": vid}, "products": [{"@id": purl}],
                    "status": "affected", "action_statement": "update the module"},
                   {"vulnerability": {"name": "CVE-2099-1"}, "products": [{"@id": "pkg:x/y"}],
                    "status": "not_affected", "impact_statement": "not shipped"}]}
    imported = client.post(f"{product}/vex/import", data={"csrf_token": csrf},
                           files={"file": ("supplier.openvex.json", json.dumps(openvex).encode(),
                                           "application/json")})
    assert imported.status_code == 422, imported.text  # one refused, the other imported
    assert "1 of 2 statements imported" in imported.text and "1 refused" in imported.text
    assert "product pkg:x/y is unknown here" in imported.text and 'id="vex-summary"' in imported.text
    bad = client.post(f"{product}/vex/import", data={"csrf_token": csrf, "release": RELEASE},
                      files={"file": ("bad.json", b"[1, 2]", "application/json")})
    assert bad.status_code == 422 and 'id="err-vex"' in bad.text and "bad.json" in bad.text
    assert re.search(r"<option selected>1\.8\.0</option>", bad.text)  # choice kept

    unscored = client.post(f"{product}/csaf", data={"csrf_token": csrf, "release": RELEASE,
                                                    "title": "Go modules"})
    assert unscored.status_code == 422 and "CSAF 6.2.3" in unscored.text and vid in unscored.text
    vector = f"{vid}=CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"
    authored = client.post(f"{product}/csaf", data={"csrf_token": csrf, "release": RELEASE,
                                                    "title": "Go modules", "cvss": vector},
                           follow_redirects=False)
    assert authored.status_code == 303, authored.text
    page = client.get(f"{product}/vulnerabilities").text
    link = re.search(r'href="(/api/v1/products/[0-9a-f]+/csaf/[0-9a-f]+)" download', page)
    assert link and "Go modules" in page
    document = client.get(link.group(1))
    assert document.status_code == 200 and csaf.validate(document.content, "web").valid
    assert document.json()["document"]["title"] == "Go modules"
    assert document.json()["document"]["tracking"]["status"] == "draft" and "draft, version 0" in page
    again = client.post(f"{product}/csaf", data={"csrf_token": csrf, "release": RELEASE,
                                                 "title": "Go modules", "cvss": vector})
    assert again.status_code == 409 and "exists already" in again.text
    publish = link.group(1).replace("/api/v1", "") + "/publish"
    wrong = client.post(publish, data={"csrf_token": csrf, "status": "draft"})
    assert wrong.status_code == 422 and "interim or final" in wrong.text
    done = client.post(publish, data={"csrf_token": csrf, "status": "final"},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    assert "final, version 1" in client.get(f"{product}/vulnerabilities").text
    assert client.get(link.group(1)).json()["document"]["tracking"]["status"] == "final"


def test_viewer_downloads_but_cannot_write(app: Any, editor: tuple[TestClient, str, str]) -> None:
    client, csrf, product = editor
    _upload(client, product, csrf, vuln_data.SBOM_B.read_bytes())
    viewer = TestClient(app)
    viewer_csrf = sign_in(viewer, "viewer@acme.example")
    page = viewer.get(f"{product}/vulnerabilities").text
    assert "vex?format=cyclonedx" in page and "Quality report" in page
    assert "/sbom?spec=1.6" in page  # the merged SBOM's download is a read
    reads = page.replace(f"{product}/vulnerabilities", "").replace("/sbom?spec=", "")
    reads = re.sub(r'<form method="get".*?</form>', "", reads, flags=re.S)  # the filters: a read
    assert 'form="bulk"' not in reads and "/vex/bulk" not in reads
    for write in ("/sbom", "/vex/import", "/csaf", "Author CSAF advisory", 'name="state"',
                  "Remove part"):
        assert write not in reads, write
    refused = _upload(viewer, product, viewer_csrf, vuln_data.SBOM_B.read_bytes())
    assert refused.status_code == 403
    assert viewer.post(f"{product}/csaf", data={"csrf_token": viewer_csrf,
                                                "release": RELEASE}).status_code == 403


def test_other_organisation_gets_404(app: Any, editor: tuple[TestClient, str, str]) -> None:
    _client, _csrf, product = editor
    globex = TestClient(app)
    csrf = sign_in(globex, "admin@globex.example")
    assert globex.get(f"{product}/vulnerabilities").status_code == 404
    assert _upload(globex, product, csrf, vuln_data.SBOM_B.read_bytes()).status_code == 404
    # a file only where the form takes one: elsewhere multipart is refused (415) unread
    for path, form, files in (("/csaf", {"release": RELEASE}, None),
                              ("/vex/import", {}, {"file": ("v.json", b"{}", "application/json")})):
        got = globex.post(f"{product}{path}", data={"csrf_token": csrf, **form}, files=files)
        assert got.status_code == 404, path


def test_cvss_column(editor: tuple[TestClient, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A computed CVSS base score when the finding has one, else the advisory's own text."""
    from prodsec.workspace import vulnerabilities

    client, csrf, product = editor
    _upload(client, product, csrf, vuln_data.SBOM_B.read_bytes())
    real = vulnerabilities.list_findings

    def scored(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = real(*args, **kwargs)
        for i, row in enumerate(rows):
            row.pop("cvss", None)  # the page must not need the key
            row["severity"] = "MODERATE" if i else None
        rows[0]["cvss"] = {"version": "3.1", "base_score": 9.8, "base_severity": "CRITICAL",
                           "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
        return rows

    monkeypatch.setattr(vulnerabilities, "list_findings", scored)
    page = client.get(f"{product}/vulnerabilities").text
    assert 'sort=cvss#findings" >CVSS</a></th>' in page
    assert '<span class="badge sev-critical">9.8 CRITICAL</span>' in page
    assert '<small class="vector">MODERATE</small>' in page


def test_article14_reports_from_the_cases_page(app: Any, web_db: Any,
                                               editor: tuple[TestClient, str, str]) -> None:
    """The next report's form holds the Article's items; a stage out of order is refused with
    the reason on the page (409), a required item left empty with 422, the values kept."""
    import datetime as dt

    from prodsec.workspace import article14
    from prodsec.workspace.users import authenticate_password

    client, csrf, product = editor
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        case_id = article14.open_case(
            session, actor, product.rsplit("/", 1)[-1], "vulnerability", "exploited in the wild",
            dt.datetime.now(dt.UTC) - dt.timedelta(hours=2), vulnerability="CVE-2020-26160",
            member_state_code="DE").id
    page = client.get("/cases").text
    assert "Next report: early-warning" in page and "Art. 14(2)(a)" in page
    early = client.post(f"/cases/{case_id}/submit", data={
        "csrf_token": csrf, "stage": "final-report", "description": "typed"})
    assert early.status_code == 409 and "out of order: the early-warning" in early.text
    assert "typed" in early.text  # what was typed is kept
    sent = client.post(f"/cases/{case_id}/submit", data={
        "csrf_token": csrf, "stage": "early-warning", "member_states": "DE, FR"},
        follow_redirects=False)
    assert sent.status_code == 303, sent.text
    page = client.get("/cases").text
    assert "Next report: notification" in page and "Art. 14(2)(b)" in page
    assert f"/api/v1/cases/{case_id}/reports/early-warning?format=pdf" in page
    empty = client.post(f"/cases/{case_id}/submit", data={
        "csrf_token": csrf, "stage": "notification", "product": "Router V 1.8.0"})
    assert empty.status_code == 422 and "nature_of_exploit" in empty.text
    assert "Router V 1.8.0" in empty.text
    viewer = TestClient(app)
    viewer_csrf = sign_in(viewer, "viewer@acme.example")
    assert viewer.post(f"/cases/{case_id}/submit", data={
        "csrf_token": viewer_csrf, "stage": "notification"}).status_code == 403


def test_sbom_parts_listed_exported_and_removed(editor: tuple[TestClient, str, str]) -> None:
    """Two parts: the page lists them, names the conflicting versions, links the merged SBOM
    export (valid CycloneDX 1.6 and 1.7), and removes a part; a bad part name is shown."""
    from prodsec.formats import cyclonedx

    client, csrf, product = editor
    for path, part, kind in ((vuln_data.SBOM_B, "app", "application"),
                             (vuln_data.SBOM_A, "firmware", "firmware")):
        done = _upload(client, product, csrf, path.read_bytes(), path.name, part=part, kind=kind)
        assert done.status_code == 303, done.text[:300]
    page = client.get(f"{product}/vulnerabilities").text
    assert "Assembled from 2 SBOMs" in page
    assert re.search(r'<td data-label="Part">app</td><td data-label="Kind">application</td>', page)
    assert re.search(r'<td data-label="Part">firmware</td><td data-label="Kind">firmware</td>', page)
    assert "components at conflicting versions across parts" in page
    links = re.findall(r'href="(/api/v1/products/[0-9a-f]+/releases/1\.8\.0/sbom\?spec=(1\.[67]))"',
                       page)
    assert {spec for _, spec in links} == {"1.6", "1.7"}
    for href, spec in links:
        got = client.get(href)
        assert got.status_code == 200 and cyclonedx.validate(got.content, spec).valid
    bad = _upload(client, product, csrf, vuln_data.SBOM_A.read_bytes(), part="../x")
    assert bad.status_code == 422 and "a part name is" in bad.text
    removed = client.post(f"{product}/sbom/remove", data={"csrf_token": csrf, "release": RELEASE,
                                                         "part": "firmware"},
                          follow_redirects=False)
    assert removed.status_code == 303
    page = client.get(f"{product}/vulnerabilities").text
    assert "Assembled from 1 SBOM " in page and "conflicting versions" not in page
