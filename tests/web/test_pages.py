"""The pages through a test client: sign-in, CSRF, isolation, roles, form errors, stale edits."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, csrf_of, post_login, sign_in

ROUTER = {"name": "Router X", "markets": ["DE", "GB"], "functions": ["router"],
          "data_connection": "yes", "internet": "yes", "consumer": "yes", "personal_data": "no",
          "radio_answered": "1", "radio": ["wifi"]}


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app)


def _create(client: TestClient, csrf: str) -> str:
    response = client.post("/products/new", data={"csrf_token": csrf, **ROUTER},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_pages_need_sign_in(client: TestClient) -> None:
    for path in ("/portfolio", "/landscape", "/products/new", "/regulations/eu-cra", "/admin"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_wrong_password_and_open_redirect(client: TestClient) -> None:
    bad = post_login(client, {"email": "editor@acme.example", "password": "nope nope nope"})
    assert bad.status_code == 401 and "wrong" in bad.text
    ok = post_login(client, {"email": "editor@acme.example", "password": PASSWORD,
                              "next": "//evil.example/"}, follow_redirects=False)
    assert ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_login_rate_limited(client: TestClient) -> None:
    for _ in range(5):
        post_login(client, {"email": "viewer@acme.example", "password": "wrong guess!!"})
    blocked = post_login(client, {"email": "viewer@acme.example", "password": PASSWORD})
    assert blocked.status_code == 429


def test_wizard_creates_product_with_cra_class(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    page = client.get(_create(client, csrf))
    assert "important-class-1" in page.text and "self-if-harmonised" in page.text
    assert "Annex III" in page.text


def test_wizard_errors_keep_values(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    response = client.post("/products/new", data={"csrf_token": csrf, **ROUTER, "name": "",
                                                  "markets_other": "XX"})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert "unknown market" in response.text
    assert 'value="XX"' in response.text  # what the user typed is still there
    assert 'value="router" checked' in response.text


def test_preview_is_live(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    html = client.post("/products/preview", data={"csrf_token": csrf, "markets": ["DE"],
                                                  "functions": ["firewall"], "data_connection": "yes"}).text
    assert "important-class-2" in html


def test_csrf_required(client: TestClient) -> None:
    sign_in(client, "editor@acme.example")
    response = client.post("/products/new", data={"csrf_token": "forged", **ROUTER})
    assert response.status_code == 403


def test_board_status_evidence_and_stale_edit(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    board = client.get(f"{product}/board?q=schedule-1:1").text
    sid = re.search(r'id="s-([0-9a-f]+)"', board).group(1)  # type: ignore[union-attr]
    version = re.search(r'name="version" value="(\d+)"', board).group(1)  # type: ignore[union-attr]
    met = client.post(f"{product}/statuses/{sid}", data={"csrf_token": csrf, "version": version,
                                                         "status": "met"}, follow_redirects=False)
    assert met.status_code == 303
    stale = client.post(f"{product}/statuses/{sid}", data={"csrf_token": csrf, "version": version,
                                                           "status": "not-met"})
    assert stale.status_code == 412 and "Someone else changed" in stale.text and "'met'" in unescape(stale.text)
    na = client.post(f"{product}/statuses/{sid}", data={"csrf_token": csrf, "version": str(int(version) + 1),
                                                        "status": "not-applicable", "justification": ""})
    assert na.status_code == 422 and "justification" in na.text
    ev = client.post(f"{product}/statuses/{sid}/evidence", data={"csrf_token": csrf},
                     files={"file": ("report.txt", b"pentest ok", "text/plain")}, follow_redirects=False)
    assert ev.status_code == 303
    assert "report.txt" in client.get(f"{product}/board?q=schedule-1:1").text


def test_other_organisation_gets_404(app: Any) -> None:
    acme, globex = TestClient(app), TestClient(app)
    product = _create(acme, sign_in(acme, "editor@acme.example"))
    csrf = sign_in(globex, "admin@globex.example")
    for path in (product, f"{product}/board"):
        assert globex.get(path).status_code == 404
    board = acme.get(f"{product}/board").text
    sid = re.search(r'id="s-([0-9a-f]+)"', board).group(1)  # type: ignore[union-attr]
    attack = globex.post(f"{product}/statuses/{sid}", data={"csrf_token": csrf, "version": "1",
                                                            "status": "met"})
    assert attack.status_code == 404
    assert "Router X" not in globex.get("/portfolio").text


def test_viewer_cannot_write(app: Any) -> None:
    viewer = TestClient(app)
    csrf = sign_in(viewer, "viewer@acme.example")
    assert viewer.post("/products/new", data={"csrf_token": csrf, **ROUTER}).status_code == 403
    assert viewer.get("/admin").status_code == 403


def test_admin_creates_user_and_token(client: TestClient) -> None:
    sign_in(client, "admin@acme.example")
    page = client.get("/admin")
    csrf = csrf_of(page.text)
    short = client.post("/admin/users", data={"csrf_token": csrf, "email": "new@acme.example",
                                              "role": "viewer", "password": "short"})
    assert short.status_code == 422 and 'value="new@acme.example"' in short.text
    token = client.post("/admin/tokens", data={"csrf_token": csrf, "user": "editor@acme.example",
                                               "name": "ci"})
    assert "psk_" in token.text


def test_error_pages(client: TestClient) -> None:
    sign_in(client, "editor@acme.example")
    assert client.get("/regulations/eu-rca").status_code == 404
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "There is no such page" in missing.text


def test_documents_from_the_product_page(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    page = client.get(product).text
    assert "Technical documentation (CRA Annex VII)" in page
    missing = client.post(f"{product}/documents", data={"csrf_token": csrf, "kind": "technical-file",
                                                         "format": "html", "draft": "0"})
    assert missing.status_code == 422 and 'href="/organisation#f-legal_name"' in missing.text
    draft = client.post(f"{product}/documents", data={"csrf_token": csrf, "kind": "technical-file",
                                                       "format": "md", "draft": "1"})
    assert draft.status_code == 200 and "MISSING" in draft.text
    assert "attachment" in draft.headers["content-disposition"]
    assert "technical-file" in client.get(product).text  # the generation record is listed


def test_unverified_facts_are_confirmed_on_a_form(app: Any, web_db: Any) -> None:
    """The refusal page's form: tick facts, give a reason, and they are recorded; the page then
    lists what is left to confirm."""
    from prodsec.documents.acknowledge import pending
    from prodsec.workspace.users import authenticate_password

    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    pid = product.rsplit("/", 1)[-1]
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        for kind in ("red-declaration", "eu-declaration", "technical-file", "vdp"):
            # the first kind still resting on unverified facts (they go as facts are verified)
            keys = [f.key for f in pending(session, actor, kind, pid)]
            if len(keys) > 1:
                break
    assert len(keys) > 1
    form = {"csrf_token": csrf, "kind": kind, "format": "html"}
    none = client.post(f"{product}/documents/acknowledge", data=form | {"reason": "checked"})
    assert none.status_code == 422 and "choose at least one fact" in none.text
    done = client.post(f"{product}/documents/acknowledge",
                       data=form | {"fact": keys[0], "reason": "Read the OJ text."})
    assert done.status_code == 200 and "1 fact(s) confirmed" in done.text
    assert f'value="{keys[0]}"' not in done.text and f'value="{keys[1]}"' in done.text


def test_a_restriction_question_is_answered_on_the_refusal_page(app: Any, web_db: Any) -> None:
    """An EN 18031 restriction that turns on a design choice is asked on the refusal page (two
    radio buttons per question); the answers sent back go into the generation."""
    from prodsec.documents.info import set_product_docs
    from prodsec.workspace.users import authenticate_password

    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    pid = product.rsplit("/", 1)[-1]
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        set_product_docs(session, actor, app.state.prodsec.kb, pid, {"standards_applied": [
            {"standard": "en-18031-1", "extent": "full", "parts": ""}]})
    form = {"csrf_token": csrf, "kind": "red-declaration", "format": "html"}
    asked = client.post(f"{product}/documents", data=form)
    assert asked.status_code == 422
    assert 'name="restriction:en-18031-1:password-optional" value="applies"' in asked.text
    answered = client.post(f"{product}/documents", data=form | {
        "restriction:en-18031-1:password-optional": "does-not-apply"})
    assert 'name="restriction:en-18031-1:password-optional" value="applies"' not in answered.text
    # still refused (other information is missing): the answer rides along in the page's forms
    assert answered.status_code == 422
    assert ('type="hidden" name="restriction:en-18031-1:password-optional" '
            'value="does-not-apply"') in answered.text


def test_reporting_clocks_page(app: Any, web_db: Any) -> None:
    import datetime as dt

    from prodsec.workspace import article14
    from prodsec.workspace.users import authenticate_password

    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf).rsplit("/", 1)[-1]
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        article14.open_case(session, actor, product, "vulnerability", "RCE in admin page",
                            dt.datetime.now(dt.UTC) - dt.timedelta(hours=30),
                            vulnerability="CVE-2026-1", member_state_code="DE")
    page = client.get("/cases").text
    assert "RCE in admin page" in page and "overdue" in page and "h left" in page
    assert re.search(r"late by (6\.0|6\.1) h", page)  # early warning: 24 h, 30 h ago


def test_vulnerabilities_page_and_triage(app: Any, web_db: Any, tmp_path: Any) -> None:
    """Real proton-bridge SBOM and Go advisories: findings listed; a VEX decision is saved."""
    from prodsec.workspace import products, sbom_import, vulnerabilities
    from prodsec.workspace.users import authenticate_password
    from tests.workspace import vuln_data

    client = TestClient(app)
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    pid = product.rsplit("/", 1)[-1]
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        products.add_release(session, actor, pid, "1.6.3", None, None)
        sbom_import.import_sbom(session, actor, pid, "1.6.3", vuln_data.SBOM_A.read_bytes(),
                                    vuln_data.SBOM_A.name)
        vulnerabilities.import_advisories(session, actor, vuln_data.make_osv_dir(tmp_path / "osv"))
    page = client.get(f"{product}/vulnerabilities").text
    first = re.search(r'name="vulnerability" value="([^"]+)"', page)
    assert first, "no findings listed"
    saved = client.post(f"{product}/vex", data={"csrf_token": csrf, "vulnerability": first.group(1),
                                                "state": "not_affected",
                                                "justification": "code_not_reachable"},
                        follow_redirects=False)
    assert saved.status_code == 303
    assert "code_not_reachable" in client.get(f"{product}/vulnerabilities").text
    bad = client.post(f"{product}/vex", data={"csrf_token": csrf, "vulnerability": first.group(1),
                                              "state": "maybe"})
    assert bad.status_code == 422


def test_login_needs_its_pre_session_csrf_token(client: TestClient) -> None:
    """A cross-site form cannot sign the victim in to the attacker's account (login CSRF): the
    sign-in form's token must match the cookie this site set with the form."""
    credentials = {"email": "editor@acme.example", "password": PASSWORD}
    bare = client.post("/login", data=credentials, follow_redirects=False)
    assert bare.status_code == 403 and "prodsec_session" not in bare.headers.get("set-cookie", "")
    token = csrf_of(client.get("/login").text)
    client.cookies.clear()  # the token of another browser's form, without its cookie
    foreign = client.post("/login", data={**credentials, "csrf_token": token},
                          follow_redirects=False)
    assert foreign.status_code == 403 and "expired" in foreign.text
    assert post_login(client, credentials, follow_redirects=False).status_code == 303


def test_no_page_handler_runs_on_the_event_loop() -> None:
    """Database work, argon2 and file parsing block every other request when an ``async def``
    handler does them: page handlers are plain ``def`` (run in the threadpool); form writes and
    uploads are ``async def`` only to queue for their turn (``_form_write``, ``writes``) and hand
    all database work, parsing and rendering to worker threads — as the nested functions and
    lambdas they pass to ``_form_write`` and ``run_in_threadpool``. So the handler's own body,
    nested functions left out, must not do any of it."""
    import ast
    import inspect
    import textwrap

    from fastapi.routing import APIRoute

    from prodsec.web.pages import router

    nested = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    checked = 0
    for route in router.routes:
        assert isinstance(route, APIRoute)
        if not inspect.iscoroutinefunction(route.endpoint):
            continue
        source = textwrap.dedent(inspect.getsource(route.endpoint))
        handler = ast.parse(source).body[0]
        assert isinstance(handler, ast.AsyncFunctionDef)
        own = [node for statement in handler.body if not isinstance(statement, nested)
               for node in _without_nested(statement, nested)]
        text = "\n".join(ast.unparse(node) for node in own)
        checked += 1
        for blocking in (".transaction(", "yaml", "json.loads", "authenticate_password",
                         "_vulnerabilities(request", "_board_error(request", "_render(request",
                         "limiter.claim(", "parse_profile(raw"):
            assert blocking not in text, f"async def for {route.path} runs {blocking}"
    assert checked >= 15  # every form write is async now (issue 11)


def _without_nested(node: object, nested: Any) -> list[object]:
    """``node`` with nested functions, lambdas and strings replaced by ``None``: the code that
    runs inline."""
    import ast
    import copy

    tree = copy.deepcopy(node)

    class Strip(ast.NodeTransformer):
        def generic_visit(self, child: ast.AST) -> ast.AST:
            super().generic_visit(child)
            return child

        def visit(self, child: ast.AST) -> ast.AST:
            if isinstance(child, nested | ast.JoinedStr) or (
                    isinstance(child, ast.Constant) and isinstance(child.value, str)):
                return ast.Constant(None)  # (strings too: messages may say "yaml")
            return self.generic_visit(child)

    return [Strip().visit(tree)]  # type: ignore[arg-type]


def test_the_web_goes_through_the_workspace_services() -> None:
    """No query of its own (one bypassed the add-member rule): the web face imports neither
    SQLAlchemy nor the database models, in-function imports included."""
    import ast
    from pathlib import Path

    import prodsec.web

    for path in Path(prodsec.web.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n.split(".")[0] == "sqlalchemy"
                        or n.startswith("prodsec.db")], f"{path.name}:{node.lineno}: {names}"


def test_product_page_never_calls_a_label_condition_or_a_standing_duty_overdue(
        client: TestClient) -> None:
    """Lawyer review of issue #13: the German IT security label is voluntary, so its open
    requirements are "to do for the label"; CRA Art. 14 is in force from 2026-09-11 but nothing
    is late until an event starts its clocks."""
    csrf = sign_in(client, "editor@acme.example")
    page = unescape(client.get(_create(client, csrf)).text)
    bars = {re.search(r'title="([^"]+)"', chunk).group(1): chunk  # type: ignore[union-attr]
            for chunk in page.split('<div class="prog">')[1:]}
    assert "to do for the label" in bars["de-it-security-label"]
    assert "overdue" not in bars["de-it-security-label"]
    assert "in force, no event yet" in bars["eu-cra"]
    assert "To do for the label: " in page  # the timeline names label conditions as such


def test_wizard_asks_whether_an_l1e_vehicle_is_designed_to_pedal(client: TestClient) -> None:
    csrf = sign_in(client, "editor@acme.example")
    response = client.post("/products/new", data={
        "csrf_token": csrf, **ROUTER, "name": "Speed pedelec", "functions": [],
        "vehicle_category": "L1e", "vehicle_ecus": "yes", "vehicle_designed_to_pedal": "yes"},
        follow_redirects=False)
    assert response.status_code == 303, response.text
    page = unescape(client.get(str(response.headers["location"])).text)
    assert "designed_to_pedal" in client.get("/products/new").text
    assert "Excluded: Products with digital elements within the scope of Regulation (EU) No " \
           "168/2013" not in page


def test_counts_are_written_in_the_singular_for_one() -> None:
    """The board said "1 requirements": one filter writes every count in prose."""
    from prodsec.web.pages.common import templates

    render = templates.env.from_string(
        '{{ 1 | counted("requirement") }}; {{ 2 | counted("requirement") }}; '
        '{{ 0 | counted("evidence item") }}; {{ 1 | counted("analysis", "analyses") }}; '
        '{{ 3 | counted("analysis", "analyses") }}').render()
    assert render == "1 requirement; 2 requirements; 0 evidence items; 1 analysis; 3 analyses"
