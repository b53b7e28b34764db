"""Every page escapes what it prints: markup in every text a user or a supplier's file can set
(product, release, justification, control, evidence, SBOM, advisory, VEX, CSAF, case, user and
token names, query strings, error messages) appears as text, never as a tag or an attribute."""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from prodsec.db.engine import Database
from tests.web.conftest import PASSWORD, post_login, sign_in

PROBE = "xss-probe"
# closes a tag, a quoted attribute, a textarea and a title; opens a tag; and a template
# expression that must stay text (no template is ever built from data)
PAYLOAD = f"</textarea></title>\"'><{PROBE} data-probe=\"1\">{{{{7*7}}}}"
SHOWN = "{{7*7}}"
IN_PATH = PAYLOAD.split(">", 2)[2]  # no slash: it must reach the route as one path segment
ROUTER = {"name": f"Router {PAYLOAD}", "manufacturer": PAYLOAD, "markets": ["DE"],
          "functions": ["router"], "data_connection": "yes", "internet": "yes",
          "consumer": "yes", "personal_data": "no", "radio_answered": "1", "radio": ["wifi"]}
ADVISORY = {"schema_version": "1.6.0", "id": "PYSEC-2018-28", "modified": "2024-01-01T00:00:00Z",
            "aliases": ["CVE-2018-18074"], "summary": f"Summary {PAYLOAD}",
            "details": f"Details {PAYLOAD}",
            "affected": [{"package": {"name": "requests", "ecosystem": "PyPI"}, "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}]}
BOM = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
       "metadata": {"timestamp": "2026-11-27T00:00:00Z",
                    "component": {"type": "firmware", "name": f"fw {PAYLOAD}", "version": "1.0"}},
       "components": [{"type": "library", "name": "requests", "version": "2.19.0",
                       "purl": "pkg:pypi/requests@2.19.0", "bom-ref": "requests"},
                      {"type": "library", "name": f"lib {PAYLOAD}", "version": PAYLOAD,
                       "bom-ref": "odd"}]}
SUPPLIER_VEX = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "vulnerabilities": [
    {"id": "PYSEC-2018-28", "analysis": {"state": "not_affected",
                                         "justification": "code_not_reachable",
                                         "detail": f"Supplier says {PAYLOAD}"},
     "affects": [{"ref": "pkg:pypi/requests@2.19.0"}]},
    {"id": f"X-{PAYLOAD}"[:60], "analysis": {"state": PAYLOAD}}]}


class Tags(HTMLParser):
    """Start tags with their attributes, and the text, of a page as a browser parses it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_escaped(response: Any, where: str, shown: bool = True) -> None:
    """No injected tag or attribute; when ``shown``, the payload is on the page as text."""
    parser = Tags()
    parser.feed(response.text)
    assert not [t for t, _a in parser.tags if t == PROBE], f"{where}: injected <{PROBE}>"
    assert not [a for _t, a in parser.tags if "data-probe" in a], f"{where}: injected attribute"
    if shown:
        assert SHOWN in "".join(parser.text) or any(SHOWN in (v or "") for _t, a in parser.tags
                                                    for v in a.values()), \
            f"{where}: the payload is not on the page ({response.status_code})"


@pytest.fixture
def hostile(app: Any, web_db: Database, tmp_path: Path) -> tuple[TestClient, str, str]:
    """An editor's workspace where every text field holds the payload."""
    from prodsec.workspace import article14, vulnerabilities
    from prodsec.workspace.users import authenticate_password

    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    made = client.post("/products/new", data={"csrf_token": csrf, **ROUTER}, follow_redirects=False)
    assert made.status_code == 303, made.text
    product = str(made.headers["location"])
    pid = product.rsplit("/", 1)[1]
    for label in ("1.0", f"2.0 {PAYLOAD}"):
        added = client.post(f"{product}/releases", data={
            "csrf_token": csrf, "version_label": label, "support_rationale": PAYLOAD},
            follow_redirects=False)
        assert added.status_code == 303, added.text
    osv = tmp_path / "osv"
    osv.mkdir()
    (osv / "PYSEC-2018-28.json").write_text(json.dumps(ADVISORY))
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        vulnerabilities.import_advisories(session, actor, osv)
        article14.open_case(session, actor, pid, "incident", f"Case {PAYLOAD}",
                            dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC), description=PAYLOAD)
    ok = {"follow_redirects": False}
    sbom = client.post(f"{product}/sbom", data={"csrf_token": csrf, "release": "1.0"},
                       files={"file": (f"{PAYLOAD}.json", json.dumps(BOM).encode(),
                                       "application/json")}, **ok)
    assert sbom.status_code == 303, sbom.text
    vex = client.post(f"{product}/vex", data={
        "csrf_token": csrf, "vulnerability": "PYSEC-2018-28", "state": "exploitable",
        "detail": PAYLOAD}, **ok)
    assert vex.status_code == 303, vex.text
    csaf = client.post(f"{product}/csaf", data={
        "csrf_token": csrf, "release": "1.0", "title": f"Advisory {PAYLOAD}",
        "cvss": "PYSEC-2018-28=CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"}, **ok)
    assert csaf.status_code == 303, csaf.text
    board = client.get(f"{product}/board").text
    _status_edits(client, csrf, product, board)
    return client, csrf, product


def _status_edits(client: TestClient, csrf: str, product: str, board: str) -> None:
    """A justification, a new control and two pieces of evidence on the first requirement."""
    import re

    sid = re.search(r'id="s-([0-9a-f]+)"', board).group(1)  # type: ignore[union-attr]
    version = re.search(r'name="version" value="(\d+)"', board).group(1)  # type: ignore[union-attr]
    base = f"{product}/statuses/{sid}"
    for url, data, files in (
            (base, {"version": version, "status": "not-applicable", "justification": PAYLOAD}, None),
            (f"{base}/control", {"new_control": f"Control {PAYLOAD}"}, None),
            (f"{base}/evidence", {"title": f"Evidence {PAYLOAD}",
                                  "url": f"https://example.com/?q={PAYLOAD}"}, None),
            (f"{base}/evidence", {"title": ""}, {"file": (f"{PAYLOAD}.txt", b"report", "text/plain")})):
        done = client.post(url, data={"csrf_token": csrf, **data}, files=files,
                           follow_redirects=False)
        assert done.status_code == 303, (url, done.text[:500])


def test_every_page_escapes_what_users_and_suppliers_typed(hostile: tuple[TestClient, str, str],
                                                           app: Any) -> None:
    client, csrf, product = hostile
    pid = product.rsplit("/", 1)[1]
    other = client.post("/products/new", data={"csrf_token": csrf, **ROUTER, "name": "Plain"},
                        follow_redirects=False).headers["location"].rsplit("/", 1)[1]
    pages = [product, f"{product}/board", f"{product}/vulnerabilities", "/cases", "/portfolio",
             f"/compare?product={pid}&product={other}",
             f"{product}/board?q={PAYLOAD}&status={PAYLOAD}&category={PAYLOAD}",
             f"/compare?product={pid}&product={PAYLOAD}", f"/products/{IN_PATH}",
             f"/regulations/{IN_PATH}", f"/products/{IN_PATH}/board"]
    for url in pages:
        assert_escaped(client.get(url, params=None), url)
    for url in ("/landscape", "/products/new", "/regulations/eu-cra"):
        assert_escaped(client.get(url), url, shown=False)
    imported = client.post(f"{product}/vex/import", data={"csrf_token": csrf, "release": "1.0"},
                           files={"file": (f"{PAYLOAD}.json", json.dumps(SUPPLIER_VEX).encode(),
                                           "application/json")})
    assert imported.status_code == 422, imported.text[:500]  # the hostile state is refused
    assert "1 of 2 statements imported" in imported.text
    assert_escaped(imported, "VEX import summary")
    assert_escaped(client.get(f"{product}/vulnerabilities"), "supplier VEX detail")
    refused = client.post("/products/new", data={"csrf_token": csrf, **ROUTER,
                                                 "markets_other": PAYLOAD})
    assert_escaped(refused, "wizard errors keep the values")
    preview = client.post("/products/preview", data={"csrf_token": csrf, **ROUTER})
    assert_escaped(preview, "wizard preview", shown=False)
    release = client.post(f"{product}/releases", data={"csrf_token": csrf, "version_label": "1.0",
                                                       "support_rationale": PAYLOAD,
                                                       "placed_on_market": PAYLOAD})
    assert_escaped(release, "release form error")
    generated = client.post(f"{product}/documents", data={"csrf_token": csrf,
                                                          "kind": "technical-file",
                                                          "format": "html", "draft": "1"})
    assert generated.status_code == 200, generated.text[:300]
    assert_escaped(generated, "generated HTML document")


def test_sign_in_and_admin_pages_escape(app: Any) -> None:
    client = TestClient(app)
    assert_escaped(client.get("/login", params={"next": f"/{PAYLOAD}"}), "/login?next=")
    refused = post_login(client, {"email": f"a{PAYLOAD}@x.example", "password": "wrong",
                                  "next": f"/{PAYLOAD}"})
    assert refused.status_code == 401
    assert_escaped(refused, "login error keeps the e-mail")
    csrf = sign_in(client, "admin@acme.example")
    # no space in an address (users.normalise_email); "/" still separates the probe's attribute
    address = f"n{PAYLOAD.replace(' ', '/')}@acme.example"
    added = client.post("/admin/users", data={"csrf_token": csrf, "email": address,
                                              "name": PAYLOAD, "role": "viewer",
                                              "password": "a long enough password"},
                        follow_redirects=False)
    assert added.status_code == 200, added.text  # "invitation created", the address escaped
    assert_escaped(added, "invitation created")
    token = client.post("/admin/tokens", data={"csrf_token": csrf, "user": "admin@acme.example",
                                               "name": PAYLOAD})
    assert_escaped(token, "token created")
    refused_user = client.post("/admin/users", data={"csrf_token": csrf, "email": PAYLOAD,
                                                     "name": PAYLOAD, "role": PAYLOAD})
    assert refused_user.status_code == 422
    assert_escaped(refused_user, "admin form error")
    assert_escaped(client.get("/admin"), "/admin")


def test_records_pages_escape(hostile: tuple[TestClient, str, str], app: Any) -> None:
    """Organisation details, documentation facts (and their errors), the missing-information
    page, the audit trail (which prints every before → after) and the board's evidence links."""
    import re

    client, csrf, product = hostile
    facts = client.get(f"{product}/facts").text
    version = re.search(r'name="version" value="([^"]*)"', facts)
    assert version is not None
    saved = client.post(f"{product}/facts", data={
        "csrf_token": csrf, "version": version.group(1), "type_designation": PAYLOAD,
        "risk_assessment": PAYLOAD, "notified_body.name": PAYLOAD, "notified_body.number": "1",
        "notified_body.procedure": PAYLOAD, "notified_body.certificate": PAYLOAD,
        "pledge_progress.goal-1": PAYLOAD}, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:500]
    assert_escaped(client.get(f"{product}/facts"), "documentation facts")
    wrong = client.post(f"{product}/facts", data={"csrf_token": csrf, "version": "0",
                                                  "standards_applied": PAYLOAD})
    assert wrong.status_code == 412  # a stale version (If-Match semantics)
    assert_escaped(wrong, "documentation facts error keeps the values")
    admin = TestClient(app)
    admin_csrf = sign_in(admin, "admin@acme.example")
    org = admin.post("/organisation", data={"csrf_token": admin_csrf, "legal_name": PAYLOAD,
                                            "postal_address": PAYLOAD}, follow_redirects=False)
    assert org.status_code == 303, org.text[:500]
    assert_escaped(admin.get("/organisation"), "organisation details")
    assert_escaped(client.get("/organisation"), "organisation details, read only")
    refused = admin.post("/organisation", data={"csrf_token": admin_csrf, "version": "1",
                                                "legal_name": PAYLOAD, "website": PAYLOAD})
    assert refused.status_code == 422
    assert_escaped(refused, "organisation error keeps the values")
    missing = client.post(f"{product}/documents", data={"csrf_token": csrf, "kind": "technical-file",
                                                        "format": "html", "draft": "0"})
    assert missing.status_code == 422
    assert_escaped(missing, "missing information", shown=False)
    assert_escaped(client.get("/audit"), "audit trail")
    assert_escaped(client.get("/audit", params={"entity": PAYLOAD, "product": PAYLOAD}),
                   "audit filters", shown=False)

def test_lifecycle_and_case_pages_escape(hostile: tuple[TestClient, str, str]) -> None:
    """Product edit (the wizard pre-filled, the review with the answers as hidden fields),
    delete, archived list, release edit and its errors, and the case forms (issue 16, h16b)."""
    import re

    client, csrf, product = hostile
    pid = product.rsplit("/", 1)[1]
    edit = client.get(f"{product}/edit")
    assert_escaped(edit, "edit wizard pre-filled")
    review = client.post(f"{product}/edit", data={"csrf_token": csrf, **ROUTER, "version": "1",
                                                  "description": PAYLOAD, "consumer": "no",
                                                  "action": "review"})
    assert review.status_code == 200, review.text[:300]
    assert_escaped(review, "edit review with hidden answers")
    refused = client.post(f"{product}/edit", data={"csrf_token": csrf, **ROUTER, "version": "1",
                                                   "markets_other": PAYLOAD, "action": "review"})
    assert_escaped(refused, "edit errors keep the values")
    assert_escaped(client.get(f"{product}/delete"), "delete page")
    rid = re.findall(r'/releases/([0-9a-f]{32})"', client.get(product).text)[-1]
    assert_escaped(client.get(f"{product}/releases/{rid}"), "release edit page")
    bad = client.post(f"{product}/releases/{rid}", data={
        "csrf_token": csrf, "version": "1", "version_label": PAYLOAD[:90],
        "support_rationale": PAYLOAD, "support_end": PAYLOAD})
    assert bad.status_code == 422
    assert_escaped(bad, "release edit error")
    assert_escaped(client.get("/cases/new", params={"product": pid, "vulnerability": PAYLOAD}),
                   "case form pre-filled from the query")
    case = client.post("/cases/new", data={"csrf_token": csrf, "product": pid,
                                           "kind": "vulnerability", "title": PAYLOAD,
                                           "description": PAYLOAD, "member_state": "DE"})
    assert case.status_code == 422
    assert_escaped(case, "case form errors")
    cid = re.search(r'id="case-([0-9a-f]{32})"', client.get("/cases").text).group(1)  # type: ignore[union-attr]
    measured = client.post(f"/cases/{cid}/measure", data={"csrf_token": csrf, "at": PAYLOAD})
    assert_escaped(measured, "case measure error")
    archived = client.post(f"{product}/archive", data={"csrf_token": csrf, "version": "1"},
                           follow_redirects=False)
    assert archived.status_code == 409  # an open case keeps it active
    assert_escaped(client.post(f"{product}/archive", data={"csrf_token": csrf, "version": "1"}),
                   "archive refusal")
    other = client.post("/products/new", data={"csrf_token": csrf, **ROUTER,
                                               "name": f"Other {PAYLOAD}"},
                        follow_redirects=False).headers["location"]
    done = client.post(f"{other}/archive", data={"csrf_token": csrf, "version": "1"},
                       follow_redirects=False)
    assert done.status_code == 303
    assert_escaped(client.get("/products/archived"), "archived products")
    assert_escaped(client.get(other), "archived product page")


def test_feeds_and_law_changes_pages_escape(app: Any) -> None:
    """A feed file's name is listed, a refused upload's name is in its error, a typed date is
    kept in its field: all as text."""
    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    kev = (Path(__file__).parents[1] / "data" / "kev" / "known_exploited_vulnerabilities.json")
    done = client.post("/feeds/upload", data={"csrf_token": csrf, "kind": ""},
                       files={"file": (f"{PAYLOAD}.json", kev.read_bytes(), "application/json")},
                       follow_redirects=False)
    assert done.status_code == 303, done.text[:500]
    assert_escaped(client.get("/feeds"), "feed imports")
    refused = client.post("/feeds/upload", data={"csrf_token": csrf, "kind": ""},
                          files={"file": (f"{PAYLOAD}.csv", b"not a feed", "text/csv")})
    assert refused.status_code == 422
    assert_escaped(refused, "feed refusal")
    osv = client.post("/feeds/advisories", data={"csrf_token": csrf},
                      files={"file": (f"{PAYLOAD}.json", PAYLOAD.encode(), "application/json")})
    assert osv.status_code == 422
    assert_escaped(osv, "advisory refusal", shown=False)  # the kept name is plain characters
    changes = client.get("/knowledge/changes", params={"since": PAYLOAD})
    assert changes.status_code == 422
    assert_escaped(changes, "law changes filter")
