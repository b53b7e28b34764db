"""A product after the wizard, in the browser: edit the profile (the verdict diff before the
save, the version as If-Match), archive and restore, delete (what goes, what stays), releases;
and Article 14 cases: confirm, submit in order with errors next to the field, measure, close."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, sign_in
from tests.web.test_pages import ROUTER, _create


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app)


def _edited(form: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**form, **changes}


def test_edit_shows_the_verdict_diff_then_saves_with_the_version(client: TestClient,
                                                                 web_db: Any) -> None:
    csrf = sign_in(client, "editor@acme.example")
    pid = _create(client, csrf).rsplit("/", 1)[-1]
    page = client.get(f"/products/{pid}/edit")
    assert page.status_code == 200 and 'value="Router X"' in page.text
    assert re.search(r'name="markets" value="DE"\s+checked', page.text)  # pre-filled
    assert re.search(r'name="consumer" value="yes"\s+checked', page.text)
    assert 'name="version" value="1"' in page.text
    answers = _edited(ROUTER, consumer="no", version="1", csrf_token=csrf)
    review = client.post(f"/products/{pid}/edit", data={**answers, "action": "review"})
    assert review.status_code == 200, review.text[:500]
    text = unescape(review.text)
    assert "Review changes to Router X" in text and "uk-psti" in text
    assert re.search(r"status</th>\s*<td><span class=\"badge st-required\">required", review.text)
    assert "not-applicable" in text and 'name="consumer" value="no"' in review.text
    with web_db.transaction() as session:  # the review stored nothing
        from prodsec.db.models import Product
        assert session.get(Product, pid).profile["consumer"] is True  # type: ignore[union-attr]
    saved = client.post(f"/products/{pid}/edit", data={**answers, "action": "save"},
                        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/products/{pid}"
    with web_db.transaction() as session:
        from prodsec.db.models import Assessment, Product
        product = session.get(Product, pid)
        assert product is not None and product.profile["consumer"] is False
        psti = [a for a in session.query(Assessment).filter_by(product_id=pid, superseded=False)
                if a.regulation_id == "uk-psti"]
        assert psti and psti[0].status == "not-applicable"  # re-assessed at the save
    stale = client.post(f"/products/{pid}/edit", data={**answers, "action": "save"})
    assert stale.status_code == 412 and "changed since version 1" in unescape(stale.text)
    assert 'id="e-form"' in stale.text and 'value="Router X"' in stale.text  # values kept


def test_edit_errors_go_back_to_the_question(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    pid = _create(client, csrf).rsplit("/", 1)[-1]
    bad = client.post(f"/products/{pid}/edit", data={**ROUTER, "markets": [], "version": "1",
                                                     "csrf_token": csrf, "action": "review"})
    assert bad.status_code == 422 and 'aria-invalid="true" aria-describedby="e-markets"' in bad.text
    same = client.post(f"/products/{pid}/edit", data={**ROUTER, "version": "1",
                                                      "csrf_token": csrf, "action": "review"})
    assert "nothing would change" in same.text
    back = client.post(f"/products/{pid}/edit", data={**ROUTER, "name": "Router Y",
                                                      "version": "1", "csrf_token": csrf,
                                                      "action": "back"})
    assert back.status_code == 200 and 'value="Router Y"' in back.text and "Edit Router X" in back.text


def test_viewer_sees_no_edit_and_cannot_post(app: Any) -> None:
    editor, viewer = TestClient(app), TestClient(app)
    pid = _create(editor, sign_in(editor, "editor@acme.example")).rsplit("/", 1)[-1]
    csrf = sign_in(viewer, "viewer@acme.example")
    assert viewer.get(f"/products/{pid}/edit").status_code == 403
    assert "Edit the profile" not in viewer.get(f"/products/{pid}").text
    for path in ("edit", "archive", "restore", "delete"):
        got = viewer.post(f"/products/{pid}/{path}", data={"csrf_token": csrf, "version": "1"})
        assert got.status_code == 403, path


def test_archive_hides_from_portfolio_makes_read_only_and_restores(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    pid = _create(client, csrf).rsplit("/", 1)[-1]
    archived = client.post(f"/products/{pid}/archive", data={"csrf_token": csrf, "version": "1"},
                           follow_redirects=False)
    assert archived.status_code == 303
    assert "Router X" not in client.get("/portfolio").text
    listed = client.get("/products/archived").text
    assert "Router X" in listed and f'action="/products/{pid}/restore"' in listed
    page = client.get(f"/products/{pid}").text
    assert "Archived on" in page and 'action="/products/' + pid + '/releases"' not in page
    refused = client.post(f"/products/{pid}/releases", data={"csrf_token": csrf,
                                                             "version_label": "1.0"})
    assert refused.status_code == 409 and "archived (read-only)" in unescape(refused.text)
    again = client.post(f"/products/{pid}/archive", data={"csrf_token": csrf, "version": "2"})
    assert again.status_code == 409 and 'id="e-manage"' in again.text
    restored = client.post(f"/products/{pid}/restore", data={"csrf_token": csrf, "version": "2"},
                           follow_redirects=False)
    assert restored.status_code == 303 and "Router X" in client.get("/portfolio").text


def test_delete_page_says_what_is_kept_then_deletes(client: TestClient, web_db: Any) -> None:
    csrf = sign_in(client, "editor@acme.example")
    pid = _create(client, csrf).rsplit("/", 1)[-1]
    client.post(f"/products/{pid}/releases", data={"csrf_token": csrf, "version_label": "1.0"})
    page = client.get(f"/products/{pid}/delete")
    text = unescape(page.text)
    assert "Kept for the audit trail" in text and "audit events" in text
    assert re.search(r"releases</th><td>1</td>", page.text)
    stale = client.post(f"/products/{pid}/delete", data={"csrf_token": csrf, "version": "0"})
    assert stale.status_code == 412 and 'id="e-delete"' in stale.text
    gone = client.post(f"/products/{pid}/delete", data={"csrf_token": csrf, "version": "1"},
                       follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/portfolio"
    assert client.get(f"/products/{pid}").status_code == 404
    with web_db.transaction() as session:
        from prodsec.db.models import AuditEvent
        events = list(session.query(AuditEvent).filter_by(entity_id=pid).order_by(AuditEvent.seq))
        assert events[0].action == "product.create" and events[-1].action == "product.delete"
        assert "Router X" in (events[-1].before or "")  # the product as it was


def test_a_product_with_a_case_cannot_be_deleted(client: TestClient, web_db: Any) -> None:
    csrf = sign_in(client, "editor@acme.example")
    pid = _create(client, csrf).rsplit("/", 1)[-1]
    _open_case(web_db, pid, hours_ago=1)
    page = unescape(client.get(f"/products/{pid}/delete").text)
    assert "cannot be deleted" in page and 'id="confirm-delete"' not in page
    refused = client.post(f"/products/{pid}/delete", data={"csrf_token": csrf, "version": "1"})
    assert refused.status_code == 409 and client.get(f"/products/{pid}").status_code == 200
    no_archive = client.post(f"/products/{pid}/archive", data={"csrf_token": csrf, "version": "1"})
    assert no_archive.status_code == 409 and "open Article 14 case" in no_archive.text


def test_release_edit_support_period_errors_and_delete(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    client.post(f"{product}/releases", data={"csrf_token": csrf, "version_label": "1.0",
                                             "placed_on_market": "2026-01-10"})
    rid = re.search(r'/releases/([0-9a-f]{32})"', client.get(product).text).group(1)  # type: ignore[union-attr]
    url = f"{product}/releases/{rid}"
    form = client.get(url).text
    assert 'value="2026-01-10"' in form and 'name="version" value="1"' in form
    bad = client.post(url, data={"csrf_token": csrf, "version": "1", "version_label": "1.0",
                                 "placed_on_market": "2026-01-10", "support_end": "2025-01-01",
                                 "support_rationale": "five years of expected use"})
    assert bad.status_code == 422
    assert 'aria-describedby="e-support_end"' in bad.text and 'id="e-support_end"' in bad.text
    assert "five years of expected use" in bad.text  # the values are kept
    ok = client.post(url, data={"csrf_token": csrf, "version": "1", "version_label": "1.0",
                                "placed_on_market": "2026-01-10", "support_end": "2031-01-10",
                                "support_rationale": "five years of expected use"},
                     follow_redirects=False)
    assert ok.status_code == 303
    page = client.get(product).text
    assert "2031-01-10" in page and "five years of expected use" in page
    stale = client.post(f"{url}/delete", data={"csrf_token": csrf, "version": "1"})
    assert stale.status_code == 412 and 'id="e-form"' in stale.text
    deleted = client.post(f"{url}/delete", data={"csrf_token": csrf, "version": "2"},
                          follow_redirects=False)
    assert deleted.status_code == 303 and client.get(url).status_code == 404


def test_a_release_of_another_product_is_not_found(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    first = _create(client, csrf)
    other = client.post("/products/new", data={"csrf_token": csrf, **ROUTER, "name": "Other"},
                        follow_redirects=False).headers["location"]
    client.post(f"{first}/releases", data={"csrf_token": csrf, "version_label": "1.0"})
    rid = re.search(r'/releases/([0-9a-f]{32})"', client.get(first).text).group(1)  # type: ignore[union-attr]
    assert client.get(f"{other}/releases/{rid}").status_code == 404
    moved = client.post(f"{other}/releases/{rid}/delete", data={"csrf_token": csrf, "version": "1"})
    assert moved.status_code == 404


def _open_case(web_db: Any, pid: str, hours_ago: float) -> str:
    from prodsec.workspace import article14
    from prodsec.workspace.users import authenticate_password

    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        case = article14.open_case(session, actor, pid, "vulnerability", "RCE in admin page",
                                   dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago),
                                   vulnerability="CVE-2026-1", member_state_code="DE")
        return str(case.id)


def test_confirm_a_case_then_submit_in_order_measure_and_close(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    pid = _create(client, csrf).rsplit("/", 1)[-1]
    form = client.get(f"/cases/new?product={pid}&vulnerability=CVE-2026-7")
    assert f'<option value="{pid}" selected>' in form.text and 'value="CVE-2026-7"' in form.text
    missing = client.post("/cases/new", data={"csrf_token": csrf, "product": pid,
                                              "kind": "vulnerability", "title": "Exploited",
                                              "member_state": "DE"})
    assert missing.status_code == 422 and 'id="e-vulnerability"' in missing.text
    assert 'value="Exploited"' in missing.text
    future = client.post("/cases/new", data={"csrf_token": csrf, "product": pid,
                                             "kind": "vulnerability", "title": "Exploited",
                                             "vulnerability": "CVE-2026-7", "member_state": "DE",
                                             "aware_at": "2999-01-01T00:00"})
    assert future.status_code == 422 and 'id="e-aware_at"' in future.text
    opened = client.post("/cases/new", data={
        "csrf_token": csrf, "product": pid, "kind": "vulnerability", "title": "Exploited",
        "vulnerability": "CVE-2026-7", "member_state": "DE"}, follow_redirects=False)
    assert opened.status_code == 303, opened.text[:500]
    cid = opened.headers["location"].split("#case-")[1]
    page = client.get("/cases").text
    assert "Next report: early-warning" in page and re.search(r"2[34]\.\d h left", page)
    early = client.post(f"/cases/{cid}/submit", data={"csrf_token": csrf, "stage": "early-warning",
                                                      "member_states": "DE, FR"},
                        follow_redirects=False)
    assert early.status_code == 303
    page = client.get("/cases").text
    assert "Next report: notification" in page
    empty = client.post(f"/cases/{cid}/submit", data={
        "csrf_token": csrf, "stage": "notification", "product": "Router X",
        "nature_of_exploit": "remote code execution"})
    assert empty.status_code == 422
    assert 'id="e-' + cid + '-user_measures"' in empty.text  # next to its field
    assert f'aria-describedby="e-{cid}-nature_of_vulnerability"' in empty.text
    assert "remote code execution" in empty.text  # kept
    text = {k: "not known yet" for k in ("nature_of_vulnerability", "corrective_measures_taken",
                                         "user_measures")}
    client.post(f"/cases/{cid}/submit", data={"csrf_token": csrf, "stage": "notification",
                                              "product": "Router X",
                                              "nature_of_exploit": "remote code execution",
                                              **text})
    page = client.get("/cases").text
    assert "Next report: final-report" in page and "Its clock starts at" in page
    too_early = client.post(f"/cases/{cid}/close", data={"csrf_token": csrf})
    assert too_early.status_code == 409 and "submit the final report" in too_early.text
    bad_time = client.post(f"/cases/{cid}/measure", data={"csrf_token": csrf, "at": "yesterday"})
    assert bad_time.status_code == 422 and f'id="err-measure-{cid}"' in bad_time.text
    measured = client.post(f"/cases/{cid}/measure", data={"csrf_token": csrf},
                           follow_redirects=False)
    assert measured.status_code == 303
    final = {k: "not known yet" for k in ("description", "severity", "impact", "security_update",
                                          "users_informed", "users_information")}
    done = client.post(f"/cases/{cid}/submit", data={
        "csrf_token": csrf, "stage": "final-report", **final,
        "users_informed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        follow_redirects=False)
    assert done.status_code == 303, done.text[:800]
    closed = client.post(f"/cases/{cid}/close", data={"csrf_token": csrf,
                                                      "vex_reference": "https://example.com/vex"},
                         follow_redirects=False)
    assert closed.status_code == 303
    assert "Closed 20" in client.get("/cases").text


def test_cases_new_is_for_editors(app: Any) -> None:
    viewer = TestClient(app)
    csrf = sign_in(viewer, "viewer@acme.example")
    assert viewer.get("/cases/new").status_code == 403
    assert viewer.post("/cases/new", data={"csrf_token": csrf}).status_code == 403
    assert "Confirm a case" not in viewer.get("/cases").text


def test_a_short_support_period_is_justified_by_the_expected_use_time_on_both_forms(
        client: TestClient) -> None:
    """CRA Art. 13(8): under five years only with the expected use time and the rationale, which
    both release forms now take; the refusal names the field by its label."""
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    short = {"csrf_token": csrf, "version_label": "1.0", "placed_on_market": "2028-01-15",
             "support_end": "2030-01-15", "support_rationale": "infants outgrow it in two years"}
    refused = client.post(f"{product}/releases", data=short)
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "Support ends: 24 months, shorter than 5 years" in text and "support_end:" not in text
    assert 'name="expected_use_months"' in text and "infants outgrow it" in text  # values kept
    wrong = client.post(f"{product}/releases", data=short | {"expected_use_months": "two"})
    assert wrong.status_code == 422
    assert "Expected use time (months): expected a whole number of months" in unescape(wrong.text)
    added = client.post(f"{product}/releases", data=short | {"expected_use_months": "24"},
                        follow_redirects=False)
    assert added.status_code == 303, added.text
    rid = re.search(r'/releases/([0-9a-f]{32})"', client.get(product).text).group(1)  # type: ignore[union-attr]
    url = f"{product}/releases/{rid}"
    assert 'name="expected_use_months" inputmode="numeric" pattern="[0-9]*" maxlength="4" ' \
           'value="24"' in client.get(url).text
    longer = client.post(url, data=short | {"version": "1", "expected_use_months": "72"})
    assert longer.status_code == 422
    assert 'id="e-support_end"' in longer.text and "the exception does not apply" in longer.text
    assert 'value="72"' in longer.text
    kept = client.post(url, data=short | {"version": "1", "expected_use_months": "20"},
                       follow_redirects=False)
    assert kept.status_code == 303


def test_a_legal_refusal_is_shown_in_the_normal_layout_with_a_way_back(client: TestClient) -> None:
    """A declaration refused because no regime covers the release: navigation, a title saying
    what was refused, a link back to the product; unknown pages keep their plain 404."""
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    client.post(f"{product}/releases", data={"csrf_token": csrf, "version_label": "1.0",
                                             "placed_on_market": "2028-01-15",
                                             "support_end": "2033-01-15"})
    refused = client.post(f"{product}/documents", data={"csrf_token": csrf, "draft": "1",
                                                        "kind": "red-declaration", "format": "md"})
    assert refused.status_code == 422, refused.text[:300]
    page = unescape(refused.text)
    assert '<nav aria-label="Main">' in page and "Something went wrong" not in page
    assert "<h1>Not generated: EU declaration of conformity (Directive 2014/53/EU, radio " \
           "equipment)</h1>" in page
    assert "the cybersecurity essential requirements of RED Art. 3(3)(d), (e), (f) apply only " \
           "to 2027-12-10" in page
    assert f'<a href="{product}#documents">Back to the product</a>' in page
    back = client.get("/no/such/page", headers={"referer": f"http://testserver{product}"})
    assert back.status_code == 404 and '<nav aria-label="Main">' in back.text
    assert f'<a href="{product}">Back to the previous page</a>' in back.text
    elsewhere = client.get("/no/such/page", headers={"referer": "https://evil.example/x"})
    assert '<a href="/">Back to the start</a>' in elsewhere.text  # only this site's pages


def test_the_law_changes_page_lists_and_filters(client: TestClient, kb: Any) -> None:
    sign_in(client, "viewer@acme.example")
    page = client.get("/portfolio").text
    assert '<a href="/knowledge/changes">what changed</a>' in page
    every = client.get("/knowledge/changes").text
    assert every.count('<tr id="change-') == len(kb.changes) > 0
    first = kb.changes[0]
    assert f'id="change-{first["id"]}"><td>{first["date"]}</td>' in every
    latest = max(c["date"] for c in kb.changes)
    recent = client.get("/knowledge/changes", params={"since": latest}).text
    assert recent.count('<tr id="change-') == sum(c["date"] >= latest for c in kb.changes)
    bad = client.get("/knowledge/changes", params={"since": "yesterday"})
    assert bad.status_code == 422 and 'id="e-since"' in bad.text and 'value="yesterday"' in bad.text
