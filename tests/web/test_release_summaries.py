"""The vulnerabilities page at many releases (issue #17, review h17r): the per-release SBOM
parts are read in one batch, so the page costs the same queries with one release or many."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, count_queries, sign_in
from tests.web.test_pages import _create


def _releases(web_db: Any, pid: str, labels: list[str]) -> None:
    """Releases with the same real SBOM imported as two parts (application and firmware)."""
    from prodsec.workspace import products, sbom_import
    from prodsec.workspace.users import authenticate_password
    from tests.workspace import vuln_data

    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        assert actor is not None
        for label in labels:
            products.add_release(session, actor, pid, label, None, None)
            for part, kind in (("app", "application"), ("fw", "firmware")):
                sbom_import.import_sbom(session, actor, pid, label, vuln_data.SBOM_A.read_bytes(),
                                        vuln_data.SBOM_A.name, part=part, kind=kind)


def test_the_page_costs_the_same_queries_with_one_release_or_five(app: Any, web_db: Any) -> None:
    from prodsec.workspace import vulnerabilities
    from prodsec.workspace.users import authenticate_password

    client = TestClient(app)
    product = _create(client, sign_in(client, "editor@acme.example"))
    pid = product.rsplit("/", 1)[-1]
    _releases(web_db, pid, ["1.0"])
    one, _page = count_queries(web_db, client, f"{product}/vulnerabilities")
    _releases(web_db, pid, ["1.1", "1.2", "1.3", "1.4"])
    five, page = count_queries(web_db, client, f"{product}/vulnerabilities")
    assert five == one, f"{one} queries with one release, {five} with five"
    with web_db.transaction() as session:
        actor = authenticate_password(session, "editor@acme.example", PASSWORD)
        parts = vulnerabilities.list_sbom_parts(session, actor, pid, "1.3")
        assert [p["name"] for p in parts] == ["app", "fw"]
        assert parts[0]["components"] == parts[1]["components"] > 0
        batch = vulnerabilities.sbom_parts_of(session, actor, [])
        other = authenticate_password(session, "admin@globex.example", PASSWORD)
        assert other is not None
        assert vulnerabilities.sbom_parts_of(session, other, ["x"]) == batch == {}
    assert page.count('<td data-label="Part">fw</td>') == 5  # every release's parts shown
