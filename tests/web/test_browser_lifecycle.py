"""In Debian's Chromium (Playwright, never a downloaded browser): edit a product's profile in
the pre-filled wizard, see the verdict diff, save it; then confirm an Article 14 case and submit
its early warning. Screenshots at 1 280 and 390 px go to $PRODSEC_SCREENSHOTS (default
test-artifacts/screenshots/, not committed) for a person to look at."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, SHOTS, browser, login, next_step, server

__all__ = ["browser", "server"]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (scripts/test.sh installs it)")
ROUTER = {"name": "Lifecycle Router", "markets": ["DE", "GB"], "functions": ["router"],
          "data_connection": True, "internet": True, "consumer": True, "personal_data": False,
          "radio": ["wifi"]}


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots at desktop (1 280 px) and phone (390 px) width."""
    where = Path(os.environ.get("PRODSEC_SCREENSHOTS") or SHOTS)
    where.mkdir(parents=True, exist_ok=True)
    for width, height, label in ((1280, 900, "desktop"), (390, 844, "phone")):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(where / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _seed(web_db: Any, kb: Any) -> str:
    from prodsec.workspace import products
    from prodsec.workspace.users import authenticate_password

    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        product = products.add_product(session, actor, kb, ROUTER)
        products.assess(session, actor, kb, product.id, __import__("datetime").date.today())
        products.add_release(session, actor, product.id, "1.0", None, None)
        return str(product.id)


def test_edit_profile_with_diff_then_confirm_a_case_and_send_its_early_warning(
        server: str, browser: Any, web_db: Any, kb: Any) -> None:
    pid = _seed(web_db, kb)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, server, "editor@acme.example")
    page.goto(f"{server}/products/{pid}")
    page.get_by_role("link", name="Edit the profile").click()
    page.wait_for_url(re.compile(rf".*/products/{pid}/edit$"))
    assert page.get_by_label("What is the product called?").input_value() == "Lifecycle Router"
    shoot(page, "h16b-01-edit-wizard")
    next_step(page)
    next_step(page)
    uk = page.get_by_label("United Kingdom")
    assert uk.is_checked()  # pre-filled from the profile
    uk.uncheck()
    page.get_by_role("button", name="Review changes").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Review changes to Lifecycle Router").is_visible()
    psti = page.locator("section.diff", has_text="uk-psti")
    assert "required" in psti.inner_text() and "not-applicable" in psti.inner_text()
    shoot(page, "h16b-02-edit-diff")
    page.get_by_role("button", name="Save these answers").click()
    page.wait_for_url(re.compile(rf".*/products/{pid}$"))
    assert page.get_by_text("Archive", exact=True).is_visible()  # the manage section
    page.locator("#manage").scroll_into_view_if_needed()
    shoot(page, "h16b-03-product-after-edit")

    page.get_by_role("link", name="1.0").click()
    page.wait_for_url(re.compile(r".*/releases/[0-9a-f]+$"))
    page.get_by_label("End of the support period").fill("2031-12-31")
    page.get_by_label("How the support period was determined").fill("expected use of five years")
    shoot(page, "h16b-04-release")
    page.get_by_role("button", name="Save release").click()
    page.wait_for_url(re.compile(rf".*/products/{pid}#releases$"))
    assert page.get_by_text("expected use of five years").is_visible()
    page.goto(f"{server}/products/{pid}/delete")
    shoot(page, "h16b-05-delete-confirmation")

    page.goto(f"{server}/cases")
    page.get_by_role("link", name="Confirm a case").click()
    page.get_by_label("Product", exact=True).select_option(pid)
    page.get_by_label("An actively exploited vulnerability").check()
    page.get_by_label("Vulnerability id").fill("CVE-2026-4242")
    page.get_by_label("Title", exact=True).fill("Remote code execution in the admin page")
    page.get_by_label("Member state of the main establishment").fill("DE")
    shoot(page, "h16b-06-case-confirm")
    page.get_by_role("button", name="Confirm the case and start the clocks").click()
    page.wait_for_url(re.compile(r".*/cases#case-[0-9a-f]+$"))
    case = page.locator("article.case", has_text="Remote code execution in the admin page")
    assert "Next report: early-warning" in case.inner_text()
    assert re.search(r"2[34]\.\d h left", case.inner_text())
    shoot(page, "h16b-07-case-open")
    case.get_by_role("textbox", name=re.compile("Member States where")).fill("DE, FR")
    case.get_by_role("button", name="Submit early-warning").click()
    page.wait_for_load_state()
    case = page.locator("article.case", has_text="Remote code execution in the admin page")
    assert "Next report: notification" in case.inner_text()
    assert "submitted" in case.locator("table").inner_text()
    shoot(page, "h16b-08-case-early-warning-sent")
