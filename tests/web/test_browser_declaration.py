"""A final EU declaration of conformity made in a real browser (Debian's Chromium through
Playwright): the profile imported, a release entered, the organisation's details and the
product's documentation facts typed into their forms, the requirements marked met through the
board's form endpoint, the unverified facts confirmed on the refusal page, the declaration
generated, then downloaded from the product's document history and opened. Screenshots at
1 280 and 390 px go where ``PRODSEC_SCREENSHOTS`` says (default test-artifacts/screenshots)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.documents.workspace_setup import EXAMPLES, ORG, docs_fields
from tests.web.test_browser import CHROMIUM, SHOTS, browser, login, server

__all__ = ["browser", "server"]  # the fixtures, used by name
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (scripts/test.sh installs it)")
OUT = Path(os.environ.get("PRODSEC_SCREENSHOTS", str(SHOTS)))
#: The widths every page is looked at: a desktop and a phone.
VIEWPORTS = ((1280, 900, "desktop"), (390, 844, "phone"))


def shoot(page: Any, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for width, height, device in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(OUT / f"{name}-{device}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _fill(page: Any, values: dict[str, Any]) -> None:
    """Type each value into the field ``#i-NAME`` as a person would (select, date, text)."""
    for name, value in values.items():
        field = page.locator(f"#i-{name}")
        if isinstance(value, bool):
            field.select_option("yes" if value else "no")
        elif field.evaluate("e => e.tagName") == "SELECT":  # e.g. the CSIRT's Member State
            field.select_option(str(value))
        else:
            field.fill(value.isoformat() if hasattr(value, "isoformat") else str(value))


def _meet_every_requirement(page: Any, product_url: str) -> None:
    """Each status form of the board, sent with the browser's own session and CSRF token."""
    page.goto(f"{product_url}/board")
    html = page.content()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert csrf is not None
    forms = re.findall(r'action="(/products/[0-9a-f]+/statuses/[0-9a-f]+)[^"]*" class="status-form">\s*'
                       r'<input type="hidden" name="csrf_token" value="[^"]+">\s*'
                       r'<input type="hidden" name="version" value="(\d+)">', html)
    assert len(forms) > 20
    for action, version in forms:
        sent = page.request.post(page.url.split("/products/")[0] + action, max_redirects=0, form={
            "csrf_token": csrf.group(1), "version": version, "status": "met",
            "justification": "Verified in the design review."})
        assert sent.status == 303, (action, sent.status)


def camera_with_release(page: Any, server: str, version: str) -> tuple[str, str]:
    """The camera example imported on the new-product page and one release entered; the
    product's address and name."""
    page.goto(f"{server}/products/new")
    page.get_by_label("Profile (.yaml or .json, format v1)").set_input_files(
        str(EXAMPLES / "camera.yaml"))
    page.locator("form[action='/products/import'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/products/[0-9a-f]+$"))
    product_url, name = page.url, page.locator("h1").inner_text()
    enter_release(page, version)
    return product_url, name


def enter_release(page: Any, version: str) -> None:
    """A release entered on the product page, with its market date and support period."""
    page.get_by_label("Version", exact=True).fill(version)
    page.get_by_label("Placed on the market").fill("2028-01-10")
    page.get_by_label("Support ends").fill("2033-01-10")
    page.get_by_label("How the support period was determined").fill(
        "Expected time in use of five years, from sales data of the previous model.")
    page.get_by_role("button", name="Add release").click()
    page.wait_for_load_state()


def test_final_eu_declaration_in_the_browser(server: str, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    login(page, server, "admin@acme.example")
    product_url, name = camera_with_release(page, server, "2.0")

    # the refusal names what is missing and links to the field where it is entered
    page.get_by_role("button", name="EU declaration of conformity (CRA Annex V) as html",
                     exact=True).click()
    page.wait_for_load_state()
    assert "Cannot issue eu-declaration" in page.locator("h1").inner_text()
    shoot(page, "h16a-01-missing")
    page.get_by_role("link", name="the manufacturer's registered name").click()
    page.wait_for_url(re.compile(r".*/organisation#f-legal_name$"))
    _fill(page, ORG)
    shoot(page, "h16a-02-organisation")
    page.get_by_role("button", name="Save organisation details").click()
    page.get_by_text("Saved.").wait_for()

    page.goto(f"{product_url}/facts")
    facts = docs_fields(name)
    _fill(page, {k: v for k, v in facts.items() if isinstance(v, str)})
    page.locator("#i-standards_applied").fill("etsi-en-303-645\nen-18031-1\nen-18031-2")
    for key, value in facts["notified_body"].items():
        page.locator(f"#i-nb-{key}").fill(value)
    shoot(page, "h16a-03-facts")
    page.get_by_role("button", name="Save documentation facts").click()
    page.get_by_text("Saved.").wait_for()
    _meet_every_requirement(page, product_url)

    # generate: confirm the unverified facts it rests on, then issue it
    page.goto(product_url)
    page.get_by_role("button", name="EU declaration of conformity (CRA Annex V) as html",
                     exact=True).click()
    page.wait_for_load_state()
    text = page.locator("main").inner_text()
    assert "Enter this information first" not in text, text[:2000]
    if page.locator("input[name=fact]").count():
        for box in page.locator("input[name=fact]").all():
            box.check()
        page.get_by_label("How did you check them?").fill("Read against the Official Journal text.")
        page.get_by_role("button", name="Confirm the ticked facts").click()
        page.get_by_text("Nothing is left to confirm.").wait_for()
        page.get_by_role("button", name="Generate eu-declaration").click()
        page.wait_for_load_state()
    issued = page.content()
    assert "Example Devices GmbH" in issued and "MISSING" not in issued
    shoot(page, "h16a-04-declaration")

    # the product's document history: current, downloadable, the same bytes
    page.goto(f"{product_url}#documents")
    row = page.locator("table.generated tbody tr").first
    assert "eu-declaration" in row.inner_text() and "current" in row.inner_text()
    shoot(page, "h16a-05-history")
    with page.expect_download() as got:
        row.get_by_role("link", name=re.compile("Download eu-declaration")).click()
    saved = tmp_path / got.value.suggested_filename
    got.value.save_as(saved)
    data = saved.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert saved.suffix == ".html" and digest[:16] in row.inner_text()
    opened = browser.new_page()
    opened.goto(saved.as_uri())
    assert "Example Devices GmbH" in opened.content()
    assert "Erika Mustermann" in opened.locator("body").inner_text()
    shoot(opened, "h16a-06-downloaded")

    page.goto(f"{server}/audit")
    assert "Chain verified" in page.locator("main").inner_text()
    assert "document.generate" in page.locator("main").inner_text()
    shoot(page, "h16a-07-audit")
