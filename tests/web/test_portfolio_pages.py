"""The portfolio at scale (issue #17, review h17r): keyset pages of the matrix (``?after=`` the
last name, as the products API), one batched read of the page's assessments, % met and
expiring evidence, so a page costs the same number of queries whatever the portfolio's size,
and the figures agree with the per-product gap analysis they replace."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from prodsec.db.models import RequirementStatus
from tests.web.conftest import PASSWORD, count_queries, sign_in

TODAY = dt.date(2026, 12, 3)
NAME = re.compile(r'<th scope="row"><a href="/products/[0-9a-f]+" class="clip" title="([^"]*)"')


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app)


def _actor(session: Any, email: str = "editor@acme.example") -> Any:
    from prodsec.workspace.users import authenticate_password

    actor = authenticate_password(session, email, PASSWORD)
    assert actor is not None
    return actor


def _products(web_db: Any, kb: Any, names: list[str]) -> list[str]:
    """Assessed routers by these names; their ids."""
    from prodsec.workspace import products

    ids = []
    with web_db.transaction() as session:
        actor = _actor(session)
        for name in names:
            product = products.add_product(session, actor, kb, {
                "name": name, "markets": ["DE", "GB"], "functions": ["router"],
                "data_connection": True, "internet": True, "consumer": True})
            products.assess(session, actor, kb, product.id, TODAY)
            ids.append(product.id)
    return ids


def test_a_page_costs_the_same_queries_whatever_the_number_of_products(
        client: TestClient, web_db: Any, kb: Any) -> None:
    sign_in(client, "editor@acme.example")
    _products(web_db, kb, ["Cam 01", "Cam 02"])
    few, page = count_queries(web_db, client, "/portfolio")
    assert NAME.findall(page) == ["Cam 01", "Cam 02"]
    _products(web_db, kb, [f"Cam {n:02d}" for n in range(3, 13)])
    many, page = count_queries(web_db, client, "/portfolio")
    assert len(NAME.findall(page)) == 12
    assert many == few, f"{few} queries for 2 products, {many} for 12"


def test_paging_walks_every_live_product_exactly_once(client: TestClient, web_db: Any, kb: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from prodsec.workspace import gaps, products

    monkeypatch.setattr(gaps, "PORTFOLIO_PAGE", 3)
    names = [f"Cam {n:02d}" for n in range(1, 9)] + ["Cam & <Co>"]
    ids = _products(web_db, kb, names)
    with web_db.transaction() as session:
        products.set_archived(session, _actor(session), ids[4], True, None)
    live = sorted(n for n in names if n != "Cam 05")
    sign_in(client, "viewer@acme.example")
    seen: list[str] = []
    path: str | None = "/portfolio"
    while path:
        page = client.get(path).text
        shown = [html.unescape(n) for n in NAME.findall(page)]
        assert 0 < len(shown) <= 3
        assert f"Showing {len(shown)} of {len(live)} products" in page
        seen += shown
        link = re.search(r'<a href="(/portfolio\?after=[^"]+)" rel="next">', page)
        path = html.unescape(link.group(1)) if link else None
        if link:
            assert '<a href="/portfolio">First page</a>' in client.get(path).text
    assert seen == live  # by name, each once, the archived one left out
    beyond = client.get("/portfolio?after=zzz").text
    assert "No products after" in beyond and NAME.findall(beyond) == []


def test_the_page_agrees_with_the_per_product_gap_analysis(web_db: Any, kb: Any,
                                                           tmp_path: Path) -> None:
    from prodsec.workspace import compliance, gaps, products

    ids = _products(web_db, kb, ["Cam A", "Cam B", "Cam C"])
    with web_db.transaction() as session:
        actor = _actor(session)
        products.add_release(session, actor, ids[0], "0.9", dt.date(2026, 3, 2), None)
        products.add_release(session, actor, ids[1], "1.0", dt.date(2028, 1, 15), None)
        statuses = list(session.scalars(select(RequirementStatus).order_by(RequirementStatus.id)))
        for status in statuses[:5]:
            compliance.set_status(session, actor, status, "met", None, None)
        soon = compliance.add_evidence(session, actor, tmp_path, "Pen test", url="https://x.example/r",
                                       expires_on=TODAY + dt.timedelta(days=10))
        for status in statuses[:2] + statuses[-1:]:
            compliance.link_evidence(session, actor, soon, status=status)
    with web_db.transaction() as session:
        actor = _actor(session)
        page = gaps.portfolio_page(session, actor, kb, TODAY, limit=2)
        rest = gaps.portfolio_page(session, actor, kb, TODAY, after=page["next_after"], limit=2)
        rows = page["rows"] + rest["rows"]
        assert [r["product"].id for r in rows] == ids and rest["next_after"] is None
        for row in rows:
            summary = gaps.product_gaps(session, actor, kb, row["product"].id, TODAY)
            assert row["met"] == {i["regulation"]: i["percent_met"] for i in summary["instruments"]}
            assert row["expiring"] == len(summary["expiring_evidence"])
            assert row["missed"] == gaps.dated(summary)["missed"]
        assert sum(r["expiring"] for r in rows) == 3
        assert [bool(r["missed"]) for r in rows] == [True, False, False]  # placed 2026-03-02
        assert any(v < 100.0 for r in rows for v in r["met"].values())
        other = gaps.portfolio_page(session, _actor(session, "admin@globex.example"), kb, TODAY)
    assert other["rows"] == [] and other["total"] == 0  # another organisation sees none of them
