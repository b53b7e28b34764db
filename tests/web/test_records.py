"""The records pages: organisation details (admins change them), documentation facts (editors),
the missing-information page's links to each field, downloads of generated documents and
evidence (exact bytes, the owner's organisation only), evidence expiry and the audit trail."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import sign_in

ROUTER = {"name": "Router X", "markets": ["DE", "GB"], "functions": ["router"],
          "data_connection": "yes", "internet": "yes", "consumer": "yes", "personal_data": "no",
          "radio_answered": "1", "radio": ["wifi"]}


def _client(app: Any, email: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    return client, sign_in(client, email)


def _product(client: TestClient, csrf: str) -> str:
    made = client.post("/products/new", data={"csrf_token": csrf, **ROUTER},
                       follow_redirects=False)
    assert made.status_code == 303, made.text
    return str(made.headers["location"])


def _org_form(page: str) -> dict[str, str]:
    """Every field of the organisation form as the page shows it (what a browser sends)."""
    fields = dict(re.findall(r'<input id="i-([a-z_]+)" name="\1" type="[a-z]+"[^>]*value="([^"]*)"',
                             page))
    fields |= {n: "" for n in re.findall(r'<textarea id="i-([a-z_]+)"', page)}
    fields |= {n: "" for n in re.findall(r'<select id="i-([a-z_]+)"', page)}
    version = re.search(r'name="version" value="([^"]*)"', page)
    assert version
    return fields | {"version": version.group(1)}


def test_admin_saves_organisation_details_and_others_only_read(app: Any) -> None:
    admin, csrf = _client(app, "admin@acme.example")
    page = admin.get("/organisation").text
    assert 'id="f-legal_name"' in page and 'name="signatory_name"' in page
    form = _org_form(page) | {"legal_name": "Acme Devices GmbH", "contact_email": "info@acme.example",
                              "ack_days": "5", "safe_harbour": "yes", "csrf_token": csrf}
    saved = admin.post("/organisation", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    shown = admin.get("/organisation").text
    assert 'value="Acme Devices GmbH"' in shown and 'value="5"' in shown
    assert '<option value="yes" selected>' in shown
    editor, ecsrf = _client(app, "editor@acme.example")
    read = editor.get("/organisation").text
    assert "Acme Devices GmbH" in read and 'name="legal_name"' not in read  # no form
    refused = editor.post("/organisation", data={"csrf_token": ecsrf, "legal_name": "Evil"})
    assert refused.status_code == 403 and "needs admin" in refused.text
    assert "Evil" not in admin.get("/organisation").text


def test_organisation_error_sits_next_to_its_field_with_the_values_kept(app: Any) -> None:
    admin, csrf = _client(app, "admin@acme.example")
    form = _org_form(admin.get("/organisation").text) | {
        "csrf_token": csrf, "legal_name": "Kept Name", "contact_email": "not an address"}
    refused = admin.post("/organisation", data=form)
    assert refused.status_code == 422
    assert re.search(r'id="e-contact_email" role="alert">expected an e-mail address', refused.text)
    assert 'value="Kept Name"' in refused.text and 'value="not an address"' in refused.text
    assert "Kept Name" not in admin.get("/organisation").text  # nothing was written


def test_editor_enters_documentation_facts(app: Any, web_db: Any) -> None:
    from prodsec.documents.info import docs_view, get_product_docs
    from prodsec.workspace.users import authenticate_password
    from tests.web.conftest import PASSWORD

    client, csrf = _client(app, "editor@acme.example")
    product = _product(client, csrf)
    page = client.get(f"{product}/facts").text
    assert 'id="f-risk_assessment"' in page and 'id="f-notified_body"' in page
    version = re.search(r'name="version" value="([^"]*)"', page)
    assert version is not None
    form = {"csrf_token": csrf, "version": version.group(1), "type_designation": "RX-1",
            "risk_assessment": "STRIDE, 24 threats\nall treated",
            "standards_applied": "etsi-en-303-645\nen-18031-1:6.1, 6.2",
            "notified_body.name": "TÜV", "notified_body.number": "0123",
            "notified_body.procedure": "module B", "notified_body.certificate": "C-1"}
    saved = client.post(f"{product}/facts", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        fields = docs_view(get_product_docs(session, actor, product.rsplit("/", 1)[1]))["fields"]
    assert fields["risk_assessment"] == "STRIDE, 24 threats\nall treated"
    assert fields["standards_applied"] == [
        {"standard": "etsi-en-303-645", "extent": "full", "parts": ""},
        {"standard": "en-18031-1", "extent": "part", "parts": "6.1, 6.2"}]
    assert fields["notified_body"]["number"] == "0123"
    shown = client.get(f"{product}/facts").text
    assert "en-18031-1:6.1, 6.2" in shown and 'value="RX-1"' in shown
    # a stale version is refused with the values kept; a wrong standard names its field
    stale = client.post(f"{product}/facts", data=form | {"type_designation": "RX-2"})
    assert stale.status_code in (409, 412) and 'value="RX-2"' in stale.text
    wrong = client.post(f"{product}/facts", data=form | {
        "version": str(int(version.group(1) or 0) + 1), "standards_applied": "no-such-standard"})
    assert wrong.status_code == 422
    assert re.search(r'id="e-standards_applied" role="alert">unknown standard', wrong.text)


def test_viewer_reads_facts_without_a_form(app: Any) -> None:
    editor, csrf = _client(app, "editor@acme.example")
    product = _product(editor, csrf)
    viewer, vcsrf = _client(app, "viewer@acme.example")
    page = viewer.get(f"{product}/facts")
    assert page.status_code == 200 and 'name="risk_assessment"' not in page.text
    assert viewer.post(f"{product}/facts", data={"csrf_token": vcsrf}).status_code == 403


def test_missing_information_links_to_each_field(app: Any) -> None:
    client, csrf = _client(app, "editor@acme.example")
    product = _product(client, csrf)
    pid = product.rsplit("/", 1)[1]
    refused = client.post(f"{product}/documents", data={
        "csrf_token": csrf, "kind": "technical-file", "format": "html", "draft": "0"})
    assert refused.status_code == 422
    assert 'href="/organisation#f-legal_name"' in refused.text
    assert f'href="/products/{pid}/facts#f-risk_assessment"' in refused.text
    assert "prodsec org set" not in refused.text and "prodsec product docs" not in refused.text
    # every anchor the page links to exists on its page
    for page, anchor in set(re.findall(r'href="(/[^"#]+)#(f-[a-z_]+)"', refused.text)):
        assert f'id="{anchor}"' in client.get(page).text, (page, anchor)


def _generate_draft(client: TestClient, csrf: str, product: str) -> bytes:
    made = client.post(f"{product}/documents", data={
        "csrf_token": csrf, "kind": "technical-file", "format": "md", "draft": "1"})
    assert made.status_code == 200, made.text
    return made.content


def test_generated_documents_download_byte_for_byte_and_turn_stale(app: Any) -> None:
    client, csrf = _client(app, "editor@acme.example")
    product = _product(client, csrf)
    issued = _generate_draft(client, csrf, product)
    page = client.get(product).text
    (link,) = re.findall(r'href="(/documents/[0-9a-f]{32})" download', page)
    got = client.get(link)
    assert got.status_code == 200 and got.content == issued
    assert got.headers["content-disposition"].startswith("attachment; filename=")
    assert "technical-file" in got.headers["content-disposition"]
    assert hashlib.sha256(got.content).hexdigest()[:16] in page
    assert "stale: inputs changed" not in page
    facts = client.get(f"{product}/facts").text
    version = re.search(r'name="version" value="([^"]*)"', facts)
    assert version is not None
    changed = client.post(f"{product}/facts", data={"csrf_token": csrf, "version": version.group(1),
                                                    "type_designation": "RX-9"},
                          follow_redirects=False)
    assert changed.status_code == 303
    assert "stale: inputs changed" in client.get(product).text
    assert client.get(link).content == issued  # the stored bytes, not a regeneration
    outsider, _ = _client(app, "admin@globex.example")
    assert outsider.get(link).status_code == 404
    assert outsider.get("/documents/" + "0" * 32).status_code == 404


def _evidence_on_board(client: TestClient, csrf: str, product: str, data: bytes) -> tuple[str, str]:
    board = client.get(f"{product}/board").text
    sid = re.findall(r'id="s-([0-9a-f]{32})"', board)[0]
    sent = client.post(f"{product}/statuses/{sid}/evidence", data={"csrf_token": csrf},
                       files={"file": ("scan report.pdf", data, "application/pdf")},
                       follow_redirects=False)
    assert sent.status_code == 303, sent.text
    board = client.get(f"{product}/board").text
    (eid,) = re.findall(r'href="/evidence/([0-9a-f]{32})" download', board)
    return sid, eid


def test_evidence_download_and_expiry_on_the_board(app: Any) -> None:
    client, csrf = _client(app, "editor@acme.example")
    product = _product(client, csrf)
    data = b"%PDF-1.4 not really\x00\xff"
    sid, eid = _evidence_on_board(client, csrf, product, data)
    got = client.get(f"/evidence/{eid}")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"] == "attachment; filename*=utf-8''scan%20report.pdf"
    back = f"{product}/board#s-{sid}"
    expired = client.post(f"/evidence/{eid}/expiry", data={
        "csrf_token": csrf, "expires_on": "2020-01-01", "back": back}, follow_redirects=False)
    assert expired.status_code == 303 and expired.headers["location"] == back
    assert "expired 2020-01-01" in client.get(f"{product}/board").text
    elsewhere = client.post(f"/evidence/{eid}/expiry", data={
        "csrf_token": csrf, "expires_on": "", "back": "https://evil.example/"},
        follow_redirects=False)
    assert elsewhere.headers["location"] == "/portfolio"  # never an outside address
    assert "expired 2020-01-01" not in client.get(f"{product}/board").text
    bad = client.post(f"/evidence/{eid}/expiry", data={"csrf_token": csrf, "expires_on": "soon"})
    assert bad.status_code == 422 and "expected a date" in bad.text
    viewer, vcsrf = _client(app, "viewer@acme.example")
    assert viewer.get(f"/evidence/{eid}").content == data
    assert viewer.post(f"/evidence/{eid}/expiry", data={
        "csrf_token": vcsrf, "expires_on": "2030-01-01"}).status_code == 403
    outsider, ocsrf = _client(app, "admin@globex.example")
    assert outsider.get(f"/evidence/{eid}").status_code == 404
    assert outsider.post(f"/evidence/{eid}/expiry", data={
        "csrf_token": ocsrf, "expires_on": "2030-01-01"}).status_code == 404


def test_audit_trail_pages_filters_and_verification(app: Any, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    from prodsec.web.pages import records

    client, csrf = _client(app, "editor@acme.example")
    product = _product(client, csrf)
    pid = product.rsplit("/", 1)[1]
    _generate_draft(client, csrf, product)
    page = client.get("/audit").text
    assert "Chain verified" in page and "product.create" in page and "document.generate" in page
    only = client.get("/audit", params={"entity": "generated_document"}).text
    assert "document.generate" in only and "product.create" not in only
    assert "product.create" in client.get("/audit", params={"product": pid}).text
    monkeypatch.setattr(records, "AUDIT_PAGE", 1)
    first = client.get("/audit").text
    older = re.search(r'href="/audit\?before=(\d+)&amp;', first)
    assert older is not None
    second = client.get("/audit", params={"before": older.group(1)}).text
    seqs = [re.findall(r'<tr><td data-label="#">(\d+)</td>', p) for p in (first, second)]
    assert len(seqs[0]) == len(seqs[1]) == 1 and int(seqs[1][0]) == int(seqs[0][0]) - 1
    outsider, _ = _client(app, "admin@globex.example")
    theirs = outsider.get("/audit").text
    assert "Router X" not in theirs and pid not in theirs
    assert outsider.get("/audit", params={"product": pid}).text.count('<tr><td data-label="#">') == 0
