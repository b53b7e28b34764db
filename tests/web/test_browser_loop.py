"""#16: the whole loop in one walk through a real browser (Debian's Chromium), as a compliance
lead would do it without a terminal: sign in → a new product answered question by question in
the wizard → a release → the organisation's details and the product's documentation facts →
the assessment with evidence → the EU declaration generated, downloaded, opened → the release's
SBOM uploaded → findings, known-exploited first → two triaged at once → the VEX downloaded and
validated → an Article 14 case confirmed for the exploited CVE and its early warning submitted →
the audit trail verified. The advisory databases are an administrator's import (a CLI or job
step), so the test loads them through the same service.

Every page the walk visits is screenshotted at 1 280 and 390 px (into ``loop/`` under
``PRODSEC_SCREENSHOTS``, default test-artifacts/screenshots) and checked there by axe-core:
0 serious/critical violations at either width. The pages and their counts are printed and
written next to the screenshots (``axe.txt``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.documents.workspace_setup import EXAMPLES, ORG, docs_fields
from tests.web.conftest import PASSWORD
from tests.web.test_accessibility import axe_violations, describe
from tests.web.test_browser import CHROMIUM, answer_wizard, browser, login, server
from tests.web.test_browser_declaration import (
    OUT,
    VIEWPORTS,
    _fill,
    _meet_every_requirement,
    enter_release,
)
from tests.workspace import vuln_data

__all__ = ["browser", "server"]  # the fixtures, used by name
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (scripts/test.sh installs it)")


class Walk:
    """The pages the walk visits, in order: each one screenshotted and checked by axe-core at
    every width of ``VIEWPORTS``, its serious/critical violations counted per width. A page
    that changes in place (a form sent, a section filled) is visited again under a new name."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        self.folder = folder
        self.seen: list[tuple[str, str, dict[str, int]]] = []
        self.violations: list[str] = []

    def visit(self, page: Any, name: str) -> None:
        """The page as it is now, at each width: the screenshot first, so that a page axe
        fails on is there to look at; a violation is printed at once, so that a walk that
        breaks later still shows it."""
        counts = {}
        for width, height, device in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=str(self.folder / f"{len(self.seen) + 1:02d}-{name}-{device}.png"),
                            full_page=True)
            found = axe_violations(page)
            counts[device] = len(found)
            if found:
                self.violations.append(f"{name} at {width} px ({page.url}):\n{describe(found)}")
                print(self.violations[-1])
        page.set_viewport_size({"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]})
        self.seen.append((name, page.url, counts))
        print(self.line(*self.seen[-1]))

    @staticmethod
    def line(name: str, url: str, counts: dict[str, int]) -> str:
        shown = "  ".join(f"{device} {n}" for device, n in counts.items())
        return f"{name:<24} {shown}  {re.sub(r'^https?://[^/]+', '', url)}"

    def report(self) -> str:
        """The pages visited and their counts, then each violation with its nodes."""
        lines = [f"axe-core serious/critical violations on the {len(self.seen)} pages of the walk:"]
        lines += [self.line(*seen) for seen in self.seen] + self.violations
        text = "\n".join(lines)
        (self.folder / "axe.txt").write_text(text + "\n", encoding="utf-8")
        return text


def _advisories(web_db: Any, tmp_path: Path) -> None:
    from prodsec.workspace.users import authenticate_password
    from prodsec.workspace.vulnerabilities import import_advisories

    with web_db.transaction() as session:
        actor = authenticate_password(session, "admin@acme.example", PASSWORD)
        assert actor is not None
        import_advisories(session, actor, vuln_data.make_osv_dir(tmp_path / "go"))


def _kev(web_db: Any, cve: str) -> None:
    from prodsec.workspace.feeds import import_feed
    from prodsec.workspace.users import authenticate_password

    with web_db.transaction() as session:
        actor = authenticate_password(session, "admin@acme.example", PASSWORD)
        assert actor is not None
        import_feed(session, actor, vuln_data.kev_catalogue({cve: "2026-12-01"}), "kev.json")


def test_the_whole_loop_in_the_browser(server: str, browser: Any, web_db: Any,
                                       tmp_path: Path) -> None:
    from prodsec.formats import cyclonedx

    _advisories(web_db, tmp_path)
    walk = Walk(OUT / "loop")
    # the page's CSP is bypassed only so that the test can inject axe
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                  bypass_csp=True)
    page = context.new_page()
    page.goto(f"{server}/login")
    walk.visit(page, "login")
    login(page, server, "admin@acme.example")
    walk.visit(page, "portfolio")

    # a new product, question by question in the wizard, then its release
    camera = yaml.safe_load((EXAMPLES / "camera.yaml").read_text())
    name = camera["name"]
    page.get_by_role("link", name="New product").click()
    walk.visit(page, "wizard")
    answer_wizard(page, camera)
    page.locator("#preview", has_text="CRA").wait_for()
    walk.visit(page, "wizard-answered")
    page.locator("#save").click()
    page.wait_for_url(re.compile(r".*/products/[0-9a-f]+$"))
    product_url = page.url
    assert name in page.locator("h1").inner_text()
    enter_release(page, "1.8.0")
    assert "1.8.0" in page.locator("main").inner_text()
    walk.visit(page, "product")

    # the organisation and the documentation facts
    page.goto(f"{server}/organisation")
    _fill(page, ORG)
    page.get_by_role("button", name="Save organisation details").click()
    page.get_by_text("Saved.").wait_for()
    walk.visit(page, "organisation")
    page.goto(f"{product_url}/facts")
    facts = docs_fields(name)
    _fill(page, {k: v for k, v in facts.items() if isinstance(v, str)})
    page.locator("#i-standards_applied").fill("etsi-en-303-645\nen-18031-1\nen-18031-2")
    for key, value in facts["notified_body"].items():
        page.locator(f"#i-nb-{key}").fill(value)
    page.get_by_role("button", name="Save documentation facts").click()
    page.get_by_text("Saved.").wait_for()
    walk.visit(page, "facts")

    # the assessment: every requirement met, one with evidence attached on the board
    _meet_every_requirement(page, product_url)
    page.goto(f"{product_url}/board?q=annex-i:part-i:2:b")
    item = page.locator("li.item", has_text="eu-cra:annex-i:part-i:2:b").first
    evidence = tmp_path / "default-settings-review.txt"
    evidence.write_text("secure-by-default configuration reviewed")
    item.get_by_label("Evidence file").set_input_files(str(evidence))
    item.get_by_role("button", name="Attach").click()
    page.wait_for_load_state()
    assert "default-settings-review.txt" in page.locator(
        "li.item", has_text="eu-cra:annex-i:part-i:2:b").first.inner_text()
    walk.visit(page, "board")

    # the EU declaration: generated, downloaded, opened
    page.goto(product_url)
    page.get_by_role("button", name="EU declaration of conformity (CRA Annex V) as html",
                     exact=True).click()
    page.wait_for_load_state()
    if page.locator("input[name=fact]").count():
        walk.visit(page, "declaration-confirm")
        for box in page.locator("input[name=fact]").all():
            box.check()
        page.get_by_label("How did you check them?").fill("Read against the Official Journal text.")
        page.get_by_role("button", name="Confirm the ticked facts").click()
        page.get_by_text("Nothing is left to confirm.").wait_for()
        page.get_by_role("button", name="Generate eu-declaration").click()
        page.wait_for_load_state()
    assert "Example Devices GmbH" in page.content()
    walk.visit(page, "declaration")
    page.goto(f"{product_url}#documents")
    row = page.locator("table.generated tbody tr").first
    walk.visit(page, "product-documents")
    with page.expect_download() as got:
        row.get_by_role("link", name=re.compile("Download eu-declaration")).click()
    declaration = tmp_path / got.value.suggested_filename
    got.value.save_as(declaration)
    opened = context.new_page()
    opened.goto(declaration.as_uri())
    assert "Example Devices GmbH" in opened.locator("body").inner_text()
    walk.visit(opened, "declaration-downloaded")
    opened.close()

    # the release's SBOM, its findings known-exploited first, two triaged at once
    page.goto(f"{product_url}/vulnerabilities")
    walk.visit(page, "vulnerabilities")
    page.get_by_label("SBOM file (CycloneDX, SPDX 2 or SPDX 3)").set_input_files(
        str(vuln_data.SBOM_B))
    page.get_by_role("button", name="Import SBOM").click()
    page.locator("tr[id^=f-]").first.wait_for()
    last = page.locator("tr[id^=f-] strong").last.inner_text()
    aliases = page.locator("tr[id^=f-]").last.locator(".aliases").inner_text()
    cve = next(a.strip() for a in aliases.split(",") if a.strip().startswith("CVE-"))
    _kev(web_db, cve)
    page.reload()
    first = page.locator("tr[id^=f-]").first
    assert last in first.inner_text() and "known exploited" in first.inner_text()
    walk.visit(page, "findings")
    rows = page.locator("tr[id^=f-]")
    for i in (1, 2):
        rows.nth(i).locator("input[type=checkbox]").check()
    page.locator("#bulk-state").select_option("not_affected")
    page.locator("#bulk-just").select_option("code_not_reachable")
    page.get_by_role("button", name="Apply to ticked").click()
    page.wait_for_load_state()
    assert "not_affected" in page.locator("#findings ~ *").first.page.content()
    walk.visit(page, "findings-triaged")

    # the VEX for customers, downloaded and valid
    with page.expect_download() as got:
        page.locator("a[href*='/vex?format=cyclonedx']").first.click()
    vex = tmp_path / got.value.suggested_filename
    got.value.save_as(vex)
    assert cyclonedx.validate(vex.read_bytes(), vex.name).valid
    assert "not_affected" in vex.read_text()

    # the Article 14 case for the exploited CVE, confirmed; its early warning submitted
    page.goto(f"{server}/cases")
    walk.visit(page, "cases")
    page.get_by_role("link", name="Confirm a case").click()
    walk.visit(page, "case-new")
    page.get_by_label("Product", exact=True).select_option(product_url.rsplit("/", 1)[1])
    page.get_by_label("An actively exploited vulnerability").check()
    page.get_by_label("Vulnerability id").fill(cve)
    page.get_by_label("Title", exact=True).fill(f"Actively exploited {cve}")
    page.get_by_label("Member state of the main establishment").fill("DE")
    page.get_by_role("button", name="Confirm the case and start the clocks").click()
    page.wait_for_url(re.compile(r".*/cases#case-[0-9a-f]+$"))
    case = page.locator("article.case", has_text=f"Actively exploited {cve}")
    assert "Next report: early-warning" in case.inner_text()
    walk.visit(page, "case-confirmed")
    case.get_by_role("textbox", name=re.compile("Member States where")).fill("DE")
    case.get_by_role("button", name="Submit early-warning").click()
    page.wait_for_load_state()
    case = page.locator("article.case", has_text=f"Actively exploited {cve}")
    assert "Next report: notification" in case.inner_text()
    walk.visit(page, "case-early-warning")

    # the audit trail, verified
    page.goto(f"{server}/audit")
    main = page.locator("main").inner_text()
    assert "Chain verified" in main
    for action in ("document.generate", "vex.set", "case.open"):
        assert action in main, action
    walk.visit(page, "audit")
    page.get_by_label("Kind of object").select_option("product")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*entity=product.*"))
    assert "product.create" in page.locator("main").inner_text()
    walk.visit(page, "audit-products")
    context.close()

    report = walk.report()
    print(report)
    assert not walk.violations, report
