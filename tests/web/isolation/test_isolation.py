"""Every web page and form, by users of two organisations in three roles (the API's isolation
walk, for the browser face): another organisation's id answers exactly like an id that does
not exist (404), a viewer submits no write (403, as in the API), only admins administer, and
no account of another organisation can be taken over through the admin form."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from tests.api.conftest import BOM, ROLES, TEST_SETTINGS, TestClient, World
from tests.api.test_isolation import acme_state
from tests.realdata import DATA

CSAF_ADVISORY = (DATA / "csaf" / "real" / "cisa" / "va-24-254-01.json").read_bytes()
OSV_ADVISORY = (DATA / "osv" / "go" / "osv" / "GO-2020-0001.json").read_bytes()
EPSS = (b"#model_version:v2025.03.14,score_date:2025-09-03T00:00:00Z\ncve,epss,percentile\n"
        b"CVE-2018-18074,0.5,0.9\n")

WIZARD = {"name": "Stolen", "markets": ["DE"], "functions": ["router"], "data_connection": "yes",
          "internet": "yes", "consumer": "yes", "personal_data": "no", "radio_answered": "1",
          "radio": ["wifi"]}
VEX = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "vulnerabilities": [
    {"id": "PYSEC-2018-28", "analysis": {"state": "resolved"},
     "affects": [{"ref": "pkg:pypi/requests@2.19.0"}]}]}
# A sample submission of every form; placeholders name ids of ``World.ids``.
FORMS: dict[str, dict[str, Any]] = {
    "/logout": {},
    "/products/preview": {"data": WIZARD},
    "/products/new": {"data": WIZARD},
    "/products/import": {"files": {"profile": ("p.yaml", b"name: Stolen\nmarkets: [EU]\n",
                                               "application/yaml")}},
    "/products/{pid}/documents": {"data": {"kind": "eu-declaration", "format": "md",
                                           "draft": "1"}},
    "/products/{pid}/documents/acknowledge": {"data": {"kind": "red-declaration", "fact": "all",
                                                       "reason": "checked"}},
    "/products/{pid}/releases": {"data": {"version_label": "9.9"}},
    "/products/{pid}/facts": {"data": {"type_designation": "Stolen"}},
    "/organisation": {"data": {"legal_name": "Stolen"}},
    "/evidence/{eid}/expiry": {"data": {"expires_on": "2020-01-01"}},
    "/products/{pid}/edit": {"data": {**WIZARD, "version": "1", "action": "save"}},
    "/products/{pid}/archive": {"data": {"version": "1"}},
    "/products/{pid}/restore": {"data": {"version": "1"}},
    "/products/{pid}/delete": {"data": {"version": "1"}},
    "/products/{pid}/releases/{rid}": {"data": {"version": "1", "version_label": "6.6",
                                                "support_end": "2031-01-01"}},
    "/products/{pid}/releases/{rid}/delete": {"data": {"version": "1"}},
    "/products/{pid}/statuses/{sid}": {"data": {"version": "1", "status": "met"}},
    "/products/{pid}/statuses/{sid}/evidence": {"data": {"title": "x",
                                                         "url": "https://example.com/x"}},
    "/products/{pid}/statuses/{sid}/control": {"data": {"new_control": "Stolen"}},
    "/products/{pid}/vex": {"data": {"vulnerability": "PYSEC-2018-28", "state": "in_triage"}},
    "/products/{pid}/vex/bulk": {"data": {"vulnerability": "PYSEC-2018-28", "state": "in_triage"}},
    "/products/{pid}/sbom": {"data": {"release": "1.0"},
                             "files": {"file": ("bom.json", json.dumps(BOM).encode(),
                                                "application/json")}},
    "/products/{pid}/sbom/remove": {"data": {"release": "1.0", "part": "main"}},
    "/products/{pid}/vex/import": {"files": {"file": ("vex.json", json.dumps(VEX).encode(),
                                                      "application/json")}},
    "/products/{pid}/csaf": {"data": {"release": "1.0", "title": "Stolen"}},
    "/csaf/ingest": {"files": {"file": ("advisory.json", CSAF_ADVISORY, "application/json")}},
    "/products/{pid}/csaf/{doc_id}/publish": {"data": {"status": "final", "summary": "stolen"}},
    "/jobs/{job_id}/retry": {},
    "/feeds/advisories": {"files": {"file": ("GO-2020-0001.json", OSV_ADVISORY,
                                             "application/json")}},
    "/feeds/upload": {"data": {"kind": "epss"}, "files": {"file": ("e.csv", EPSS, "text/csv")}},
    "/notifications": {"data": {"channel": "email", "target": "mallory@globex.example",
                                "kinds": "support.ending"}},
    "/notifications/{subscription_id}/remove": {},
    "/cases/{case_id}/submit": {"data": {"stage": "early-warning", "reference": "stolen"}},
    "/cases/new": {"data": {"product": "{pid}", "kind": "incident", "title": "Stolen",
                            "member_state": "DE"}},
    "/cases/{case_id}/measure": {"data": {}},
    "/cases/{case_id}/close": {"data": {"vex_reference": "stolen"}},
    "/cases/{case_id}/withdraw": {"data": {"reason": "stolen"}},
    "/cases/proposed/{proposal_id}/confirm": {"data": {"aware_at": "2026-11-27T08:00"}},
    "/cases/proposed/{proposal_id}/dismiss": {"data": {"reason": "stolen"}},
    "/admin/users": {"data": {"email": "new@globex.example", "role": "viewer",
                              "password": "a long enough password"}},
    "/admin/tokens": {"data": {"user": "{email}", "name": "stolen"}},
    "/admin/users/{uid}/password-reset": {},
    "/admin/invitations/{iid}/cancel": {},
    "/account/invitations/{iid}/{answer}": {},
    "/account/password": {"data": {"current_password": "wrong",
                                   "new_password": "a fine long new password"}},
    "/password-reset": {"data": {"token": "psr_forged", "new_password": "a fine long password"}},
    "/account/devices/{device_id}/revoke": {},
}
PAGES: dict[str, dict[str, Any]] = {"/compare": {"params": {"product": ["{pid}", "{pid}"]}}}
# Forms that change nothing an organisation owns (a user's own password is the user's).
READ_ONLY_FORMS = {"/logout", "/products/preview", "/account/password", "/password-reset",
                   "/account/invitations/{iid}/{answer}",  # one's own invitations
                   "/account/devices/{device_id}/revoke"}  # and sign-in devices
ADMIN_ONLY = ("/admin", "/notifications")
PARAMS = {"pid": "product_id", "sid": "status_id", "reg_id": "regulation_id", "uid": "user_id",
          "iid": "invitation_id", "answer": "answer", "doc_id": "doc_id", "case_id": "case_id",
          "job_id": "job_id", "eid": "evidence_id", "record_id": "document_id",
          "rid": "release_id", "proposal_id": "proposal_id", "subscription_id": "subscription_id"}
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


class Browser:
    """Web sessions of the six members over one app (the API's, with the pages mounted)."""

    def __init__(self, world: World, database: Database, kb: KnowledgeBase) -> None:
        from prodsec import web
        from prodsec.api import create_app
        from prodsec.db.models import User
        from prodsec.workspace.sessions import create_session
        from prodsec.workspace.users import actor_for

        app = create_app(database, kb, TEST_SETTINGS)
        web.mount(app, database, kb)
        self.client = TestClient(app)
        self.sessions: dict[tuple[str, str], tuple[str, str]] = {}
        with database.transaction() as session:
            for key, member in world.members.items():
                user = session.get(User, member["user_id"])
                assert user is not None
                self.sessions[key] = create_session(session, actor_for(session, user))

    def call(self, org: str, role: str, method: str, path: str, sample: dict[str, Any]) -> Any:
        secret, csrf = self.sessions[(org, role)]
        kwargs = dict(sample)
        if method == "POST":
            kwargs["data"] = {"csrf_token": csrf, **kwargs.get("data", {})}
        return self.client.request(method, path, headers={"Cookie": f"prodsec_session={secret}"},
                                   follow_redirects=False, **kwargs)


def web_routes() -> list[tuple[str, str, dict[str, Any]]]:
    """Every page (GET) and form (POST) of the web router, with its sample."""
    from prodsec.web.pages import router

    found = []
    for route in router.routes:
        assert isinstance(route, APIRoute)
        for method in sorted(route.methods):
            if route.path == "/login":
                continue  # signing in is walked in test_pages and below
            if method == "POST":
                assert route.path in FORMS, f"add a sample submission for POST {route.path}"
            found.append((method, route.path, (FORMS if method == "POST" else PAGES)
                          .get(route.path, {})))
    assert len(found) > 25
    return sorted(found, key=lambda r: r[1] == "/logout")  # signing out ends the session: last


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, name in PARAMS.items():
            value = value.replace("{" + key + "}", ids[name])
        return value.replace("{email}", ids["email"])
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(fill(v, ids) for v in value)
    return value


def masked(text: str, ids: dict[str, str]) -> str:
    for key, id_ in ids.items():
        text = text.replace(id_, key)
    return text


def acme_ids(world: World) -> dict[str, str]:
    return {**world.ids, "email": world.members[("Acme", "editor")]["email"], "answer": "accept",
            "job_id": world.ids.get("job_id", "731337")}


def random_ids(world: World) -> dict[str, str]:
    return {**{k: uuid.uuid4().hex for k in world.ids}, "regulation_id": "eu-cra",
            "requirement_id": world.ids["requirement_id"], "email": "nobody@nowhere.example",
            "answer": "accept", "job_id": "987654321"}


@pytest.fixture
def browser(world: World, database: Database, kb: KnowledgeBase) -> Browser:
    return Browser(world, database, kb)


def test_no_cross_organisation_page_or_form(world: World, browser: Browser) -> None:
    before = acme_state(world)
    foreign, unknown = acme_ids(world), random_ids(world)
    secret_ids = [v for k, v in world.ids.items() if k.endswith("_id") and len(v) == 32]
    for role in ROLES:
        for method, path, sample in web_routes():
            got = browser.call("Globex", role, method, fill(path, foreign), fill(sample, foreign))
            where = f"Globex {role}: {method} {path} -> {got.status_code} {got.text[:300]}"
            assert got.status_code < 500, where
            if PLACEHOLDER.search(path) or PLACEHOLDER.search(repr(sample)):
                baseline = browser.call("Globex", role, method, fill(path, unknown),
                                        fill(sample, unknown))
                assert got.status_code == baseline.status_code, where
                assert masked(got.text, foreign) == masked(baseline.text, unknown), where
                if "{reg_id}" not in path:
                    assert got.status_code in (403, 404), where
            else:
                assert not any(i in got.text for i in secret_ids), f"leak: {where}"
                assert "Fictinet" not in got.text and "acme.example" not in got.text, where
    assert acme_state(world) == before


def test_viewer_submits_no_write_and_editor_does_not_administer(world: World,
                                                               browser: Browser) -> None:
    before = acme_state(world)
    own = acme_ids(world)
    for method, path, sample in web_routes():
        if method == "POST" and path not in READ_ONLY_FORMS:
            got = browser.call("Acme", "viewer", method, fill(path, own), fill(sample, own))
            assert got.status_code == 403, f"viewer POST {path}: {got.status_code} {got.text[:300]}"
        if path.startswith(ADMIN_ONLY):
            got = browser.call("Acme", "editor", method, fill(path, own), fill(sample, own))
            assert got.status_code == 403, f"editor {method} {path}: {got.status_code}"
    assert acme_state(world) == before


def test_viewer_cannot_generate_documents(world: World, browser: Browser) -> None:
    """The API refuses a viewer (a generation record is a write); so does the web form."""
    from prodsec.documents.render import render
    from prodsec.workspace.context import Actor, PermissionDenied

    path = f"/products/{world.ids['product_id']}/documents"
    got = browser.call("Acme", "viewer", "POST", path, FORMS["/products/{pid}/documents"])
    assert got.status_code == 403 and "needs editor" in got.text
    viewer = world.members[("Acme", "viewer")]
    org = world.call("GET", "/api/v1/auth/me", role="viewer").json()["org_id"]
    with pytest.raises(PermissionDenied):
        render("vdp", None, Actor(viewer["user_id"], viewer["email"], org, "viewer"),  # type: ignore[arg-type]
               None, "md")


def test_admin_form_cannot_capture_another_organisations_account(world: World,
                                                                 browser: Browser) -> None:
    """Acme's admin adds Globex's admin: the web form answers as for a new address (an
    invitation, issue 11), and the account stays Globex's alone: not a member of Acme, no token
    can be issued for it inside Acme, and the password the admin typed does not open it."""
    from tests.api.test_auth import login

    victim = world.members[("Globex", "admin")]["email"]
    answers = []
    for email in (victim, "brand-new@elsewhere.example"):
        added = browser.call("Acme", "admin", "POST", "/admin/users", {"data": {
            "email": email, "role": "admin", "password": "a long enough password"}})
        assert added.status_code == 200, added.text[:300]
        said = re.search(r'<p class="callout" role="status">.*?</p>', added.text, re.S)
        assert said, added.text[:300]
        answers.append(said.group(0).replace(email, "X"))
    assert answers[0] == answers[1] and "Invitation created for X" in answers[0]
    token = browser.call("Acme", "admin", "POST", "/admin/tokens",
                         {"data": {"user": victim, "name": "stolen"}})
    assert token.status_code == 404 and "code class=\"secret\"" not in token.text
    api = world.call("POST", "/api/v1/users", role="admin",
                     json={"email": victim, "role": "admin", "password": "a long enough password"})
    assert api.status_code == 409 and "already invited" in api.json()["detail"]
    members = world.call("GET", "/api/v1/users", role="admin").json()["items"]
    assert victim not in {m["email"] for m in members}
    assert login(world.client, victim, "a long enough password").status_code == 401


def test_an_account_in_two_organisations_signs_in_to_the_one_it_names(
        world: World, browser: Browser, database: Database) -> None:
    """The local set-up may put one account in two organisations; signing in then never picks
    one for the user (it used to take the lowest-numbered): the web asks, the API refuses
    without ``organisation``."""
    from prodsec.workspace.users import create_user

    email, password = "both@example.com", "a long enough password"
    with database.transaction() as session:
        create_user(session, "Globex", email, "viewer", password)
        create_user(session, "Acme", email, "admin", None)
    web = browser.client
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text)
    assert token
    asked = web.post("/login", data={"email": email, "password": password,
                                     "csrf_token": token.group(1)}, follow_redirects=False)
    assert asked.status_code == 200 and "several organisations" in asked.text
    assert '<option>Acme</option>' in asked.text and '<option>Globex</option>' in asked.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', asked.text)
    assert token
    signed_in = web.post("/login", data={"email": email, "password": password,
                                         "organisation": "Globex", "csrf_token": token.group(1)},
                         follow_redirects=False)
    assert signed_in.status_code == 303
    assert "viewer" in web.get("/portfolio").text  # the Globex membership, not Acme's admin
    refused = web.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert refused.status_code == 422 and "organisation" in refused.text
    chosen = web.post("/api/v1/auth/login", json={"email": email, "password": password,
                                                  "organisation": "Acme"})
    assert chosen.status_code == 200 and chosen.json()["role"] == "admin"
    elsewhere = web.post("/api/v1/auth/login", json={"email": email, "password": password,
                                                     "organisation": "Initech"})
    assert elsewhere.status_code == 422  # never a silent fallback to another organisation
