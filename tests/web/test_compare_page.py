"""The compare page: picked on the portfolio, one column per product, sources shown; fewer than
two products explained, another organisation's product a 404."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from prodsec.workspace import products
from prodsec.workspace.users import authenticate_password
from tests.web.conftest import PASSWORD, sign_in

ROOT = Path(__file__).resolve().parents[2]


def _products(web_db: Any, kb: Any) -> list[str]:
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        ids = []
        for name in ("router", "camera"):
            profile = yaml.safe_load((ROOT / f"examples/products/{name}.yaml").read_text())
            ids.append(products.add_product(session, actor, kb, profile).id)
        products.add_release(session, actor, ids[0], "2.1", dt.date(2026, 3, 1), None)
        return ids


def test_compare_from_the_portfolio(app: Any, web_db: Any, kb: Any) -> None:
    router, camera = _products(web_db, kb)
    client = TestClient(app)
    sign_in(client, "viewer@acme.example")
    portfolio = client.get("/portfolio").text
    assert 'action="/compare"' in portfolio and 'method="get"' in portfolio
    assert set(re.findall(r'name="product" value="([0-9a-f]+)"', portfolio)) == {router, camera}
    page = client.get("/compare", params={"product": [router, camera]})
    assert page.status_code == 200, page.text
    html = page.text
    assert 'class="table-wrap"' in html and "Fictinet AX3000 Home Router" in html
    assert "HomeSight Cam 2" in html and "Vulnerability handling" in html
    latest = re.search(r'data-key="latest_release">(.*?)</tr>', html, re.S)
    assert latest and "2.1" in latest.group(1) and "not recorded" in latest.group(1)
    assert "applicability engine" in html  # every cell names its source
    single = client.get("/compare", params={"product": router})
    assert single.status_code == 422 and "at least two" in single.text


def test_other_organisation_cannot_compare(app: Any, web_db: Any, kb: Any) -> None:
    router, camera = _products(web_db, kb)
    globex = TestClient(app)
    sign_in(globex, "admin@globex.example")
    got = globex.get("/compare", params={"product": [router, camera]})
    assert got.status_code == 404 and "Fictinet" not in got.text
