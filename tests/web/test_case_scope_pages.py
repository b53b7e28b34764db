"""The law as the web shows it (review h16r M1, M3, m2): no Article 14 case for a product
the CRA excludes, a case opened in error withdrawn from the cases page, "overdue" measured
per release on the product page and the portfolio (today fixed at 2026-12-03), and the early
warning's Member States left to the person where the profile only says "EU"."""

from __future__ import annotations

import datetime as dt
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, sign_in
from tests.web.test_lifecycle_pages import _open_case
from tests.web.test_pages import _create

ROOT = Path(__file__).resolve().parents[2]
CAR = yaml.safe_load((ROOT / "examples/products/car.yaml").read_text())
TODAY = dt.date(2026, 12, 3)


@pytest.fixture
def client(app: Any, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    from prodsec.web.pages import portfolio, products

    for module in (products, portfolio):
        monkeypatch.setattr(module, "current_date", lambda: TODAY)
    return TestClient(app)


def _car(web_db: Any, kb: Any) -> str:
    from prodsec.workspace import products
    from prodsec.workspace.users import authenticate_password

    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        return str(products.add_product(session, actor, kb, CAR).id)


def test_no_case_for_a_car_the_cra_excludes(client: TestClient, web_db: Any, kb: Any) -> None:
    csrf = sign_in(client, "editor@acme.example")
    car = _car(web_db, kb)
    refused = client.post("/cases/new", data={
        "csrf_token": csrf, "product": car, "kind": "vulnerability", "title": "telematics RCE",
        "vulnerability": "CVE-2026-9", "aware_at": "2026-12-01T08:00", "member_state": "DE"})
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "the CRA does not apply to 'Exemplar E5 Saloon'" in text and "Art. 2(2)(c)" in text
    assert 'id="e-product"' in refused.text or "e-product" in refused.text
    assert "Exemplar E5 Saloon" not in unescape(client.get("/cases").text).split("</h1>", 1)[1] \
        .split("Confirm a case", 1)[1]  # no case card for it


def test_withdraw_a_case_opened_in_error_then_delete_the_product(client: TestClient,
                                                                 web_db: Any) -> None:
    csrf = sign_in(client, "editor@acme.example")
    pid = _create(client, csrf).rsplit("/", 1)[-1]
    cid = _open_case(web_db, pid, hours_ago=30)
    page = unescape(client.get("/cases").text)
    assert f'action="/cases/{cid}/withdraw"' in page and "overdue by" in page
    assert "Only the Member States the product profile names are pre-filled" in page
    assert 'name="member_states"' in page and 'value="DE"' in page  # DE and GB named: DE only
    empty = client.post(f"/cases/{cid}/withdraw", data={"csrf_token": csrf, "reason": " "})
    assert empty.status_code == 422 and "reason" in unescape(empty.text)
    done = client.post(f"/cases/{cid}/withdraw", data={"csrf_token": csrf,
                                                       "reason": "wrong product"},
                       follow_redirects=False)
    assert done.status_code == 303
    page = unescape(client.get("/cases").text)
    assert "Withdrawn" in page and "by editor@acme.example: wrong product" in page
    assert "overdue by" not in page and f'action="/cases/{cid}/withdraw"' not in page
    delete = unescape(client.get(f"/products/{pid}/delete").text)
    assert "cannot be deleted" not in delete and 'id="confirm-delete"' in delete
    assert "article14 cases</th><td>1" in delete


def _bars(page: str) -> dict[str, str]:
    """Each instrument's progress line (up to the next section)."""
    import re

    def key(chunk: str) -> str:  # the instrument id: in the name's title attribute
        head = chunk.split("</strong>")[0]
        found = re.search(r'title="([^"]+)"', head)
        return found.group(1) if found else head.removeprefix("<strong>")

    return {key(chunk): chunk.split("<h2")[0]
            for chunk in unescape(page).split('<div class="prog">')[1:]}


def test_overdue_only_for_releases_on_the_market(client: TestClient) -> None:
    """Router X (DE, GB, Wi-Fi): UK PSTI and the RED DA are required. Its only release is
    placed on the market 2028-01-15: nothing is overdue, and the RED DA (placings up to
    2027-12-10) reaches no release. A release placed 2026-03-02 misses both dates."""
    csrf = sign_in(client, "editor@acme.example")
    product = _create(client, csrf)
    client.post(f"{product}/releases", data={"csrf_token": csrf, "version_label": "1.0",
                                             "placed_on_market": "2028-01-15"})
    page = client.get(product).text
    bars = _bars(page)
    assert "overdue" not in bars["uk-psti"] and "upcoming from 2028-01-15" in bars["uk-psti"]
    assert "does not reach release 1.0 (first placed 2028-01-15)" in bars["eu-red-da"]
    assert "overdue" not in bars["eu-red-da"]
    assert "does not reach its releases" in unescape(page)  # the verdict card says so too
    portfolio = unescape(client.get("/portfolio").text)
    assert "Missed dates" in portfolio and "None: no open requirement is past its date" in portfolio
    client.post(f"{product}/releases", data={"csrf_token": csrf, "version_label": "0.9",
                                             "placed_on_market": "2026-03-02"})
    bars = _bars(client.get(product).text)
    assert "overdue since 2026-03-02" in bars["uk-psti"]
    assert "overdue since 2026-03-02" in bars["eu-red-da"]
    portfolio = unescape(client.get("/portfolio").text)
    assert "uk-psti:" in portfolio and "overdue since 2026-03-02" in portfolio
