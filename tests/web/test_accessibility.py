"""WCAG 2.2 AA, checked by the engine the field uses: axe-core (vendored in tests/web/axe/, so
no network at test time) runs in Debian's Chromium through Playwright against every page of the
web UI, signed in as an administrator over realistic data (a product from the examples with a
release, the real proton-bridge SBOM and its Go advisories, an Article 14 case, a second
product to compare). One case per page: a new page is one more line in ``PAGES``. A failure
lists each serious or critical violation with its rule and the offending nodes.

Also here: the board and the wizard operated with the keyboard only (WCAG 2.1.1), and a board
save error that stays next to the item with the filter kept."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from prodsec.db.engine import open_database
from tests.web.conftest import PASSWORD, build_app
from tests.web.test_browser import (
    CHROMIUM,
    _import_advisories,
    chromium_browser,
    login,
    next_step,
    serving,
)
from tests.workspace import vuln_data

AXE = Path(__file__).resolve().parent / "axe" / "axe.min.js"
ROUTER = Path(__file__).resolve().parents[2] / "examples" / "products" / "router.yaml"
BLOCKING = ("serious", "critical")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (scripts/test.sh installs it)")


class Site:
    """A running server over a seeded database, and what the pages need to be addressed."""

    def __init__(self, base: str, ids: dict[str, str]) -> None:
        self.base = base
        self.ids = ids

    def url(self, path: str) -> str:
        return self.base + path.format(**self.ids)


def _seed(db: Any, kb: Any, tmp: Path) -> dict[str, str]:
    """Two products (one from the examples, with its release's SBOM and findings), a case."""
    from prodsec.workspace import article14, products, sbom_import
    from prodsec.workspace.users import authenticate_password

    _import_advisories(db, tmp)
    router = yaml.safe_load(ROUTER.read_text())
    with db.transaction() as session:
        actor = authenticate_password(session, "admin@acme.example", PASSWORD)
        assert actor is not None
        pid = products.add_product(session, actor, kb, router).id
        rid = products.add_release(session, actor, pid, "1.8.0", None, None).id
        if vuln_data.SBOM_B.exists():
            sbom_import.import_sbom(session, actor, pid, "1.8.0", vuln_data.SBOM_B.read_bytes(),
                                    vuln_data.SBOM_B.name)
        other = products.add_product(session, actor, kb, router | {
            "name": "Home Gateway with a very long name that does not fit in a table cell "
                    "because marketing wanted every feature in it"}).id
        for product in (pid, other):
            products.assess(session, actor, kb, product, dt.date.today())
        article14.open_case(session, actor, pid, "vulnerability", "Exploited in the wild",
                            dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
                            vulnerability="CVE-2020-26160", member_state_code="DE")
    return {"pid": pid, "other": other, "rid": rid}


@pytest.fixture(scope="module")
def site(template_db: Path, kb: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server for the whole module: seeding and starting it per page would cost minutes."""
    tmp = tmp_path_factory.mktemp("a11y")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRODSEC_EVIDENCE_DIR", str(tmp / "evidence"))
        target = tmp / "web.db"
        shutil.copyfile(template_db, target)
        db = open_database(str(target))
        ids = _seed(db, kb, tmp)
        with serving(build_app(db, kb)) as base:
            yield Site(base, ids)
        db.dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with chromium_browser() as b:
        yield b


@pytest.fixture(scope="module")
def admin(site: Site, chromium: Any) -> Iterator[Any]:
    """A signed-in administrator's browser context, shared by the page cases (the page's CSP
    is bypassed only so that the test can inject axe)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(10000)
    page = context.new_page()
    login(page, site.base, "admin@acme.example")
    page.close()
    yield context
    context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; the serious and critical violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                           WCAG_TAGS)
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:160]}")
    return "\n".join(lines)


def _wizard_last_step(page: Any) -> None:
    page.get_by_label("What is the product called?").fill("A11y Router")
    next_step(page)


def _missing_documents(page: Any) -> None:
    """The missing-information page: a final document asked for before its facts are in."""
    page.get_by_role("button", name="Technical documentation (CRA Annex VII) as html",
                     exact=True).click()
    page.wait_for_load_state()
    assert "Cannot issue" in page.locator("main").inner_text()


def _board_error(page: Any) -> None:
    """A save refused (a stale version): the error drawn next to the item."""
    item = page.locator("li.item").first
    item.locator("input[name=version]").evaluate("e => e.value = '999'")
    item.locator("select[name=status]").select_option("met")
    item.get_by_role("button", name="Save").click()
    page.wait_for_load_state()


#: Every page: (name, path, signed in, an action that brings the page to the state to check).
PAGES: list[tuple[str, str, bool, Callable[[Any], None] | None]] = [
    ("login", "/login", False, None),
    ("password-reset", "/password-reset", False, None),
    ("portfolio", "/portfolio", True, None),
    ("landscape", "/landscape", True, None),
    ("regulation", "/regulations/eu-cra", True, None),
    ("wizard", "/products/new", True, None),
    ("wizard-answered", "/products/new", True, _wizard_last_step),
    ("product", "/products/{pid}", True, None),
    ("documents-missing", "/products/{pid}", True, _missing_documents),
    ("board", "/products/{pid}/board", True, None),
    ("board-filtered", "/products/{pid}/board?q=art-13", True, None),
    ("board-error", "/products/{pid}/board?q=art-13", True, _board_error),
    ("vulnerabilities", "/products/{pid}/vulnerabilities", True, None),
    ("product-edit", "/products/{pid}/edit", True, None),
    ("product-delete", "/products/{pid}/delete", True, None),
    ("products-archived", "/products/archived", True, None),
    ("release", "/products/{pid}/releases/{rid}", True, None),
    ("facts", "/products/{pid}/facts", True, None),
    ("organisation", "/organisation", True, None),
    ("audit", "/audit", True, None),
    ("csaf", "/csaf", True, None),
    ("cases", "/cases", True, None),
    ("cases-proposed", "/cases/proposed", True, None),
    ("case-new", "/cases/new", True, None),
    ("notifications", "/notifications", True, None),
    ("account-devices", "/account/devices", True, None),
    ("compare", "/compare?product={pid}&product={other}", True, None),
    ("jobs", "/jobs", True, None),
    ("feeds", "/feeds", True, None),
    ("law-changes", "/knowledge/changes?since=2025-01-01", True, None),
    ("admin", "/admin", True, None),
    ("account-password", "/account/password", True, None),
    ("invitations", "/account/invitations", True, None),
    ("not-found", "/no/such/page", True, None),
    ("regulation-not-found", "/regulations/eu-rca", True, None),
]


#: The widths every page is checked at: a desktop and a phone (an iPhone 12-15 is 390 px wide).
WIDTHS = (1280, 390)
PHONE = 390
SHOTS = Path("/tmp/h16e-shots")


def page_overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0 when nothing scrolls sideways; a
    table scrolling inside its own focusable wrapper does not count)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("width", WIDTHS, ids=[f"{w}px" for w in WIDTHS])
@pytest.mark.parametrize(("name", "path", "signed_in", "action"), PAGES, ids=[p[0] for p in PAGES])
def test_no_serious_axe_violations(site: Site, chromium: Any, admin: Any, name: str, path: str,
                                   signed_in: bool, action: Callable[[Any], None] | None,
                                   width: int) -> None:
    """axe-core finds no serious or critical violation, and on a phone the page itself is no
    wider than the screen (WCAG 1.4.10 reflow: no sideways scrolling for the page)."""
    context = admin if signed_in else chromium.new_context(viewport={"width": 1280, "height": 900},
                                                                  bypass_csp=True)
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 900 if width > PHONE else 844})
    try:
        page.goto(site.url(path))
        assert "/login" not in page.url or not signed_in, "not signed in"
        if action:
            action(page)
        violations = axe_violations(page)
        overflow = page_overflow(page)
        _record(name, width, page, len(violations), overflow)
        assert not violations, f"{name}: {len(violations)} serious/critical\n{describe(violations)}"
        assert not unnamed_scrollers(page), f"{name}: a table scrolls in an unnamed region"
        if width == PHONE:
            assert overflow <= 1, f"{name}: the page is {overflow} px wider than the phone"
    finally:
        page.close()
        if not signed_in:
            context.close()


def unnamed_scrollers(page: Any) -> list[str]:
    """The table wrappers that scroll sideways but are not a named region a keyboard can focus
    (and scroll with the arrow keys): axe lets one pass when it holds a link, we do not."""
    return list(page.evaluate("""() => [...document.querySelectorAll('.table-wrap')]
        .filter(w => w.scrollWidth > w.clientWidth + 1)
        .filter(w => !(w.tabIndex === 0 && w.getAttribute('role') === 'region'
                       && w.getAttribute('aria-label')))
        .map(w => w.outerHTML.slice(0, 120))"""))


def _record(name: str, width: int, page: Any, violations: int, overflow: int) -> None:
    """With PRODSEC_A11Y_SHOTS set, a screenshot and a line per page and width (for a review)."""
    import os
    if not os.environ.get("PRODSEC_A11Y_SHOTS"):
        return
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"))
    with (SHOTS / "counts.txt").open("a") as out:
        out.write(f"{name}\t{width}\taxe={violations}\toverflow={overflow}\n")


def test_axe_is_the_vendored_engine() -> None:
    """The licence travels with the file (MPL-2.0 asks for it) and the version is the one
    the README names."""
    head = AXE.read_text(encoding="utf-8")[:400]
    assert re.match(r"/\*! axe v4\.\d+\.\d+", head) and "Mozilla Public" in head
    readme = (AXE.parent / "README.md").read_text()
    version = head.split()[2]
    assert version.lstrip("v") in readme
    assert (AXE.parent / "LICENSE").read_text().startswith("Mozilla Public License")
    assert json.loads((AXE.parent / "package.json").read_text())["license"] == "MPL-2.0"


def tab_to(page: Any, selector: str, limit: int = 400) -> None:
    """Press Tab until the focused element matches ``selector`` (keyboard only; the check
    only reads which element has the focus)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def focus_is_visible(page: Any) -> bool:
    """The focused element draws an outline or a box shadow (WCAG 2.4.7)."""
    return bool(page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'; }"""))


def test_wizard_with_the_keyboard_only(site: Site, admin: Any) -> None:
    page = admin.new_page()
    page.goto(site.url("/products/new"))
    tab_to(page, "#f-name")
    page.keyboard.type("Keyboard Camera")
    page.keyboard.press("Enter")  # the next question, not a preview
    assert page.locator(".step.current").get_attribute("data-step") == "2"
    page.keyboard.press("Enter")  # the manufacturer may stay empty
    tab_to(page, ".step.current input[value=DE]")
    assert focus_is_visible(page)
    page.keyboard.press("Space")
    tab_to(page, ".step.current .next")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    assert page.locator(".step.current input[value=yes]").count() > 0
    page.keyboard.press("Space")  # the first answer has the focus: software only? yes
    last = page.locator(".step").count()
    while page.locator(".step.current").get_attribute("data-step") != str(last):
        tab_to(page, ".step.current .next")
        page.keyboard.press("Enter")
    tab_to(page, "#save")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/products/[0-9a-f]+$"))
    assert "Keyboard Camera" in page.locator("h1").inner_text()
    page.close()


V_FLAG_CHECK = """() => [...document.querySelectorAll('input[pattern]')].flatMap(e => {
    try { new RegExp(e.pattern, 'v'); return []; } catch (err) { return [e.id + ': ' + e.pattern]; }
})"""


def test_every_pattern_compiles_under_the_v_flag(site: Site, admin: Any) -> None:
    """Chromium checks an input's pattern with the regular expression's v flag and silently
    drops an invalid one (review h16r m8: the vulnerabilities page's Part field); every page
    of ``PAGES`` in the state it opens in."""
    page = admin.new_page()
    try:
        seen, invalid = 0, []
        for _name, path, _signed_in, _action in PAGES:
            page.goto(site.url(path), wait_until="domcontentloaded")  # the form is there
            seen += page.locator("input[pattern]").count()
            invalid += page.evaluate(V_FLAG_CHECK)
        assert seen, "no page has a pattern: the check checks nothing"
        assert invalid == []
    finally:
        page.close()


def test_board_status_with_the_keyboard_only(site: Site, admin: Any) -> None:
    page = admin.new_page()
    page.goto(site.url("/products/{pid}/board?status=not-started"))
    item = page.locator("li.item").first
    sid = item.get_attribute("id")
    tab_to(page, f"#{sid} details.edit > summary")
    page.keyboard.press("Enter")  # unfold (without a search it is folded)
    tab_to(page, f"#{sid} select[name=status]")
    assert focus_is_visible(page)
    page.keyboard.type("in-progress")  # typing picks the option
    assert page.locator(f"#{sid} select[name=status]").input_value() == "in-progress"
    tab_to(page, f"#{sid} .status-form button")
    page.keyboard.press("Enter")
    # the filter is kept, and the item stays open
    page.wait_for_url(re.compile(rf".*/board\?status=not-started&open={sid[2:]}#{sid}$"))
    page.goto(site.url("/products/{pid}/board?status=in-progress"))
    assert page.locator(f"#{sid}").count() == 1, "the status was saved"
    page.close()


def test_a_board_error_is_next_to_its_item_with_the_filter_kept(site: Site, admin: Any) -> None:
    """A stale save (someone else changed it): the error is drawn inside the item, in view,
    the status select has the focus, and the filter the user set is still applied."""
    page = admin.new_page()
    page.goto(site.url("/products/{pid}/board?category=prevention"))
    item = page.locator("li.item").last  # far down the page
    sid = item.get_attribute("id")
    item.locator("details.edit > summary").click()
    item.locator("input[name=version]").evaluate("e => e.value = '999'")
    item.locator("select[name=status]").select_option("met")
    item.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    error = page.locator(f"#{sid} .error")
    assert error.count() == 1 and error.is_visible()
    box = error.bounding_box()
    assert box and 0 <= box["y"] <= 900, f"the error is off screen at y={box}"
    assert page.locator("#f-category").input_value() == "prevention", "the filter is kept"
    assert page.evaluate("document.activeElement.name") == "status", "the field has the focus"
    page.screenshot(path="/tmp/h16d-shots/board-error-kept.png")
    shown = page.locator("li.item").count()
    page.goto(site.url("/products/{pid}/board?category=prevention"))
    assert page.locator("li.item").count() == shown, "the same filtered list"
    page.close()


def test_the_check_catches_a_violation(chromium: Any) -> None:
    """The harness is not vacuous: an unlabelled field and an image without a text
    alternative are reported as the serious/critical violations they are."""
    page = chromium.new_page()
    page.set_content('<html lang="en"><head><title>t</title></head><body><main>'
                     '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input type="text">'
                     '</main></body></html>')
    found = {v["id"] for v in axe_violations(page)}
    assert {"image-alt", "label"} <= found, found
    page.close()


def test_the_harness_catches_an_unreachable_scroller(chromium: Any) -> None:
    """A wide table in a scroll box with nothing focusable inside is what a keyboard user
    cannot scroll: axe reports it, and so does our own stricter check."""
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    cells = "".join(f"<td>value {n} of a long row</td>" for n in range(12))
    page.set_content('<html lang="en"><head><title>t</title></head><body><main>'
                     '<div class="table-wrap" style="overflow-x:auto"><table><tr>'
                     f'{cells}</tr></table></div></main></body></html>')
    assert "scrollable-region-focusable" in {v["id"] for v in axe_violations(page)}
    assert len(unnamed_scrollers(page)) == 1
    page.close()


@pytest.fixture()
def phone(admin: Any) -> Iterator[Any]:
    """The administrator's session in a window 390 px wide (the administrator sees every link
    of the navigation, the longest header there is)."""
    page = admin.new_page()
    page.set_viewport_size({"width": PHONE, "height": 844})
    yield page
    page.close()


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found, f"{selector} is not drawn"
    return dict(found)


def test_the_header_is_compact_on_a_phone(site: Site, phone: Any) -> None:
    """At most 120 px of header before the content (it was 265 px: the links wrapped to four
    lines); the navigation is one row that scrolls sideways, with the current page's link in
    view, and every link is still reachable with Tab."""
    phone.goto(site.url("/admin"))
    assert box(phone, "header.top")["height"] <= 120
    nav = box(phone, ".top nav")
    assert nav["height"] < 48, "the navigation is one row"
    here = box(phone, ".top nav [aria-current=page]")
    assert nav["x"] <= here["x"] and here["x"] + here["width"] <= nav["x"] + nav["width"]
    tab_to(phone, ".top nav a[href='/notifications']")
    assert focus_is_visible(phone)
    phone.set_viewport_size({"width": 1280, "height": 900})
    assert phone.evaluate("(n => n.scrollWidth <= n.clientWidth)(document.querySelector('.top nav'))"), \
        "on a desktop every link shows without scrolling"


def test_a_scrolling_table_is_scrolled_with_the_keyboard(site: Site, phone: Any) -> None:
    """WCAG 2.1.1: Tab reaches the table's region (named after the table, focus drawn) and the
    arrow keys scroll it."""
    phone.goto(site.url("/admin"))
    region = phone.get_by_role("region", name="Users and roles")
    assert region.evaluate("w => w.scrollWidth > w.clientWidth"), "the table does not scroll here"
    tab_to(phone, ".table-wrap[aria-label='Users and roles']")
    assert focus_is_visible(phone)
    phone.keyboard.press("ArrowRight")
    phone.wait_for_function("document.activeElement.scrollLeft > 0")


def test_the_portfolio_reads_per_product_on_a_phone(site: Site, phone: Any) -> None:
    """Each product is a block of instrument: verdict pairs, all within the screen (before,
    1.5 of 10 instrument columns showed)."""
    phone.goto(site.url("/portfolio"))
    cells = phone.locator("table.matrix td.cell")
    assert cells.count() >= 10
    for n in range(cells.count()):
        cell = cells.nth(n)
        right = cell.evaluate("c => c.getBoundingClientRect().right")
        assert right <= PHONE, f"cell {n} ends at {right} px"
        label = cell.evaluate("c => getComputedStyle(c, '::before').content")
        assert label.strip('"') == cell.get_attribute("data-label") != ""
