"""End to end in a real browser: Debian's Chromium driven by Playwright (never a downloaded
browser). Log in, create a product through the wizard, see its CRA class and route, mark a
requirement met with evidence, watch progress change, upload a release's SBOM and see its
findings, and fail to reach the product from another organisation. Screenshots of every page
at desktop and phone width are written to test-artifacts/screenshots/ (not committed) so a
person can look at them."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORD, build_app
from tests.workspace import vuln_data

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (scripts/test.sh installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app on a free local port in a thread, for as long as the block runs; its address."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, quiet (no network of its own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@pytest.fixture
def server(web_db: Any, kb: Any) -> Iterator[str]:
    with serving(build_app(web_db, kb)) as base:
        yield base


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium_browser() as b:
        yield b


def shoot(page: Any, name: str) -> None:
    """Screenshot at desktop width, then at phone width, then back."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def login(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/portfolio")
    assert "/login" in page.url
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/portfolio$"))


def next_step(page: Any) -> None:
    page.locator(".step.current .next").click()


def answer_wizard(page: Any, profile: Mapping[str, Any]) -> None:
    """Walk the new-product wizard as a person does, one question at a time: type, tick or pick
    the answer ``profile`` (a v1 profile's fields) gives, then Next. A fact it leaves out stays
    "Don't know". Stops at the last question, so the caller sees the preview and saves."""
    last = str(page.locator(".step").count())
    while True:
        step = page.locator(".step.current")
        field = (step.locator("legend").get_attribute("id") or "").removeprefix("q-")
        _answer(step, field, profile.get(field))
        if field == "name" and profile.get("description"):
            step.get_by_label("Short description (optional)").fill(profile["description"])
        if step.get_attribute("data-step") == last:
            return
        next_step(page)


def _answer(step: Any, field: str, value: Any) -> None:
    """One question's answer in its own kind of control (text, yes/no, ticks, vehicle)."""
    if value is None:
        return
    if isinstance(value, bool):
        step.locator(f"input[name={field}][value={'yes' if value else 'no'}]").check()
    elif isinstance(value, str):
        step.locator(f"#f-{field}").fill(value)
    elif isinstance(value, dict):
        step.get_by_label(re.compile("Vehicle category")).select_option(value["category"])
    else:
        _tick(step, field, list(value))


def _tick(step: Any, field: str, values: list[str]) -> None:
    """Tick each choice, typing its label into the filter first where the list has one; a
    market without a box goes into "Other markets"."""
    others = []
    for value in values:
        box = step.locator(f"input[name={field}][value='{value}']")
        if not box.count():
            assert field == "markets", f"the wizard offers no {value!r} for {field}"
            others.append(value)
            continue
        search = step.locator("input.filter")
        if search.count():
            search.fill(box.locator("xpath=..").inner_text().strip())
        box.check()
    if others:
        step.get_by_label(re.compile("Other markets")).fill(", ".join(others))


def _import_advisories(web_db: Any, tmp_path: Path) -> bool:
    """The Go advisories for the proton-bridge SBOM (an administrator's CLI step), if present."""
    from prodsec.workspace.users import authenticate_password
    from prodsec.workspace.vulnerabilities import import_advisories

    if not vuln_data.SBOM_B.exists():
        return False
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        import_advisories(session, actor, vuln_data.make_osv_dir(tmp_path / "go"))
    return True


def test_end_to_end(server: str, browser: Any, web_db: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/login")
    shoot(page, "01-login")
    login(page, server, "editor@acme.example")
    shoot(page, "02-portfolio-empty")

    # the wizard, one question at a time, with the live preview
    page.get_by_role("link", name="New product").click()
    answer_wizard(page, {"name": "Browser Router", "manufacturer": "Example Devices GmbH",
                         "markets": ["DE", "GB"], "software_only": False, "data_connection": True,
                         "internet": True, "radio": ["wifi"], "consumer": True,
                         "personal_data": False, "functions": ["router"]})
    page.locator("#preview", has_text="important-class-1").wait_for(timeout=15000)
    shoot(page, "03-wizard")
    page.locator("#save").click()
    page.wait_for_url(re.compile(r".*/products/[0-9a-f]+$"))
    product_url = page.url
    body = page.locator("main").inner_text()
    assert "important-class-1" in body
    assert "self-declaration only if harmonised standards are applied in full" in body
    assert "Annex III" in body
    shoot(page, "04-product")
    before = page.locator(".prog", has_text="UK PSTI").inner_text()

    # the board: mark the password requirement met, with evidence
    page.goto(f"{product_url}/board?q=schedule-1:1")
    item = page.locator("li.item", has_text="uk-psti:schedule-1:1")
    item.get_by_label("Status").select_option("met")
    item.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    item = page.locator("li.item", has_text="uk-psti:schedule-1:1")
    evidence = tmp_path / "password-test.txt"
    evidence.write_text("unique per-device passwords verified")
    item.get_by_label("Evidence file").set_input_files(str(evidence))
    item.get_by_role("button", name="Attach").click()
    page.wait_for_load_state()
    assert "password-test.txt" in page.locator("li.item", has_text="uk-psti:schedule-1:1").inner_text()
    shoot(page, "05-board")

    page.goto(product_url)
    after = page.locator(".prog", has_text="UK PSTI").inner_text()
    assert before != after, (before, after)
    assert re.search(r"1 of \d+ met", after)

    page.goto(f"{server}/portfolio")
    assert "Browser Router" in page.locator("main").inner_text()
    shoot(page, "06-portfolio")
    page.goto(f"{server}/landscape")
    shoot(page, "07-landscape")
    page.goto(f"{server}/regulations/eu-cra")
    shoot(page, "08-regulation")

    # vulnerabilities: a release, its real SBOM uploaded, findings from the real advisories
    if _import_advisories(web_db, tmp_path):
        page.goto(product_url)
        page.get_by_label("Version", exact=True).fill("1.8.0")
        page.get_by_role("button", name="Add release").click()
        page.wait_for_load_state()
        page.goto(f"{product_url}/vulnerabilities")
        page.get_by_label("SBOM file (CycloneDX, SPDX 2 or SPDX 3)").set_input_files(
            str(vuln_data.SBOM_B))
        page.get_by_role("button", name="Import SBOM").click()
        page.locator("tr[id^=f-]").first.wait_for()
        main = page.locator("main").inner_text()
        assert "Quality report" in main and "Author CSAF advisory" in main
        shoot(page, "11-vulnerabilities")
        # a second SBOM of the same release: the older build as the firmware part
        page.get_by_label("SBOM file (CycloneDX, SPDX 2 or SPDX 3)").set_input_files(
            str(vuln_data.SBOM_A))
        page.get_by_role("textbox", name="Part").fill("firmware")
        page.get_by_label("Kind").select_option("firmware")
        page.get_by_role("button", name="Add or replace part").click()
        page.get_by_text("Assembled from 2 SBOMs").wait_for()
        assert "conflicting versions across parts" in page.locator("main").inner_text()
        shoot(page, "12-sbom-parts")
        page.get_by_role("button", name="Remove part firmware").click()
        page.get_by_text("Assembled from 1 SBOM", exact=False).wait_for()

    # another organisation cannot reach the product
    other = browser.new_page()
    login(other, server, "admin@globex.example")
    response = other.goto(product_url)
    assert response is not None and response.status == 404
    assert "Browser Router" not in other.locator("main").inner_text()
    shoot(other, "09-not-found")
    other.goto(f"{server}/admin")
    shoot(other, "10-admin")


def test_triage_exploited_first_and_in_bulk(server: str, browser: Any, web_db: Any, kb: Any,
                                             tmp_path: Path) -> None:
    """58 real findings: the known-exploited one is first, a filter and a sort are links that
    survive a bulk decision, and two findings are triaged at once."""

    import yaml

    from prodsec.workspace import feeds, products, sbom_import, vulnerabilities
    from prodsec.workspace.users import authenticate_password

    if not _import_advisories(web_db, tmp_path):
        pytest.skip("the proton-bridge SBOM is not in tests/data")
    router = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples/products/router.yaml")
                            .read_text())
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        pid = products.add_product(session, actor, kb, router).id
        products.add_release(session, actor, pid, "1.8.0", None, None)
        sbom_import.import_sbom(session, actor, pid, "1.8.0", vuln_data.SBOM_B.read_bytes(),
                                vuln_data.SBOM_B.name)
        rows = vulnerabilities.list_findings(session, actor, pid)
        last = rows[-1]
        cve = next(a for a in last["aliases"] if a.startswith("CVE-"))
        feeds.import_feed(session, actor, vuln_data.kev_catalogue({cve: "2024-01-02"}),
                          "kev.json")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, server, "editor@acme.example")
    page.goto(f"{server}/products/{pid}/vulnerabilities#findings")
    first = page.locator("tr[id^=f-]").first
    assert last["vulnerability"] in first.inner_text() and "known exploited" in first.inner_text()
    assert "1 exploited" in page.locator(".release-summary").inner_text()
    triage_cell = page.locator("tr[id^=f-] td").last.bounding_box()
    assert triage_cell and triage_cell["x"] + triage_cell["width"] <= 1280, "triage column cut off"
    shoot(page, "13-triage")

    page.get_by_label("Fix available").select_option("yes")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*fix_available=yes.*"))
    shown = page.locator("tr[id^=f-]")
    picked = [shown.nth(i).locator("strong").first.inner_text() for i in range(2)]
    for i in range(2):
        shown.nth(i).locator("input[type=checkbox]").check()
    page.locator("#bulk-state").select_option("not_affected")
    page.locator("#bulk-just").select_option("code_not_reachable")
    page.get_by_role("button", name="Apply to ticked").click()
    page.wait_for_url(re.compile(r".*fix_available=yes.*#findings$"))
    assert page.get_by_label("Fix available").input_value() == "yes", "the filter is kept"
    page.locator("#fl-state").select_option("not_affected")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*state=not_affected.*"))
    decided = page.locator("tr[id^=f-] strong").all_inner_texts()
    assert set(picked) <= set(decided), (picked, decided)
    page.get_by_role("link", name="CVSS").click()
    page.wait_for_url(re.compile(r".*sort=cvss.*"))
    assert "fix_available=yes" in page.url, "sorting keeps the filter"
    shoot(page, "14-triage-filtered")
