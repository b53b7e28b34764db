"""A product's life through the API: create, assess, set a status with If-Match, see the gaps."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import AS_OF, CAMERA, World


def test_create_assess_patch_status_and_gaps_change(world: World) -> None:
    product = world.call("POST", "/api/v1/products", json={"profile": CAMERA})
    assert product.status_code == 201 and product.headers["etag"] == '"1"'
    pid = product.json()["id"]
    assessed = world.call("POST", f"/api/v1/products/{pid}/assessments", json={"as_of": AS_OF})
    assert assessed.status_code == 201
    before = gap(world, pid, "uk-psti")
    statuses = world.call("GET", "/api/v1/statuses", params={
        "product_id": pid, "status": "not-started", "limit": 500}).json()
    row = next(s for s in statuses["items"] if s["requirement"].startswith("uk-psti:"))
    etag = world.call("GET", f"/api/v1/statuses/{row['id']}").headers["etag"]
    patched = world.call("PATCH", f"/api/v1/statuses/{row['id']}", json={"status": "met"},
                         headers={"If-Match": etag})
    assert patched.status_code == 200 and patched.json()["updated_by"] == "editor@acme.example"
    after = gap(world, pid, "uk-psti")
    assert after["done"] == before["done"] + 1
    assert after["percent_met"] > before["percent_met"]
    events = world.call("GET", "/api/v1/audit/events", params={"entity_id": row["id"]}).json()
    assert events["items"][0]["action"] == "status.update"
    assert world.call("GET", "/api/v1/audit/verify").json()["ok"] is True
    portfolio = world.call("GET", "/api/v1/gaps", params={"as_of": AS_OF}).json()
    assert {p["product"] for p in portfolio["products"]} >= {CAMERA["name"]}


def gap(world: World, pid: str, regulation: str) -> dict[str, Any]:
    data = world.call("GET", f"/api/v1/products/{pid}/gaps", params={"as_of": AS_OF}).json()
    return next(i for i in data["instruments"] if i["regulation"] == regulation)


def test_lists_paginate_and_filter(world: World) -> None:
    for i in range(3):
        world.call("POST", "/api/v1/controls", json={"name": f"Page control {i}",
                                                     "requirements": []})
    page = world.call("GET", "/api/v1/controls", params={"name": "page", "limit": 2,
                                                          "offset": 1}).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [c["name"] for c in page["items"]] == ["Page control 1", "Page control 2"]
    statuses = world.call("GET", "/api/v1/statuses", params={"category": "handling"}).json()
    assert statuses["total"] > 0 and {s["category"] for s in statuses["items"]} == {"handling"}
    named = world.call("GET", "/api/v1/products", params={"name": "fictinet"}).json()
    assert named["total"] == 1


def test_products_page_through_with_the_keyset_cursor(world: World) -> None:
    """``after`` walks the portfolio page by page, each product once, in name order; the last
    page says there is no next one; a cursor with an offset is a 422 naming ``after``."""
    for i in range(3):
        world.call("POST", "/api/v1/products", json={"profile": CAMERA | {"name": f"Cursor {i}"}})
    everything = world.call("GET", "/api/v1/products", params={"limit": 500}).json()
    assert everything["next_after"] is None
    names, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after else {})
        page = world.call("GET", "/api/v1/products", params=params).json()
        assert page["total"] == everything["total"] and len(page["items"]) <= 2
        names += [p["name"] for p in page["items"]]
        after = page["next_after"]
        if after is None:
            break
        assert after == page["items"][-1]["name"]
    assert names == [p["name"] for p in everything["items"]]
    assert len(names) == everything["total"] >= 4
    both = world.call("GET", "/api/v1/products", params={"after": "Cursor 0", "offset": 1})
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "after"


def test_article14_clocks_through_the_api(world: World) -> None:
    """An exploited vulnerability known for 30 h: early warning overdue, notification due."""
    import datetime as dt

    client, headers = world.client, world.headers("Acme", "editor")
    aware = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)).replace(microsecond=0)
    opened = client.post(f"/api/v1/products/{world.ids['product_id']}/cases", headers=headers, json={
        "kind": "vulnerability", "title": "RCE in web UI", "vulnerability": "CVE-2026-12345",
        "aware_at": aware.isoformat(), "member_state": "DE"})
    assert opened.status_code == 201, opened.text
    stages = {s["stage"]: s for s in opened.json()["stages"]}
    assert stages["early-warning"]["status"] == "overdue"
    assert stages["notification"]["status"] == "due"
    assert 41 <= stages["notification"]["remaining_hours"] <= 42
    assert stages["final-report"]["status"] == "pending"  # starts when a measure is available
    case_id = opened.json()["id"]
    sent = client.post(f"/api/v1/cases/{case_id}/submissions", headers=headers,
                       json={"stage": "early-warning", "reference": "SRP-1"})
    early = {s["stage"]: s for s in sent.json()["stages"]}["early-warning"]
    assert early["status"] == "submitted" and early["in_time"] is False
    draft = client.get(f"/api/v1/cases/{case_id}/drafts/notification", headers=headers)
    assert draft.status_code == 200 and "to_complete" in draft.json()
    early_first = client.post(f"/api/v1/cases/{case_id}/submissions", headers=headers,
                              json={"stage": "final-report"})
    assert early_first.status_code == 409, early_first.text
    assert early_first.headers["content-type"] == "application/problem+json"
    assert "out of order: the notification" in early_first.json()["detail"]
    empty = client.post(f"/api/v1/cases/{case_id}/submissions", headers=headers,
                        json={"stage": "notification", "content": {"product": "camera"}})
    assert empty.status_code == 422 and "nature_of_exploit" in empty.json()["detail"]
    items = {"product": "camera 9.9", "nature_of_exploit": "crafted HTTP request",
             "nature_of_vulnerability": "command injection", "corrective_measures_taken": "none",
             "user_measures": "block port 80 from the internet"}
    notified = client.post(f"/api/v1/cases/{case_id}/submissions", headers=headers,
                           json={"stage": "notification", "content": items})
    assert notified.status_code == 200, notified.text
    report = client.get(f"/api/v1/cases/{case_id}/reports/notification", headers=headers)
    assert report.status_code == 200
    import hashlib

    sha = hashlib.sha256(report.content).hexdigest()
    assert report.headers["x-report-sha256"] == sha
    assert {i["key"]: i["value"] for i in report.json()["items"]}["user_measures"] == (
        "block port 80 from the internet")
    events = world.call("GET", "/api/v1/audit/events", params={"entity_id": case_id}).json()
    assert any(e["action"] == "case.submit" and e["after"]["sha256"] == sha
               for e in events["items"])
    listed = client.get("/api/v1/cases", headers=world.headers("Acme", "viewer")).json()
    assert any(c["id"] == case_id for c in listed)
    hidden = client.get(f"/api/v1/cases/{case_id}", headers=world.headers("Globex", "admin"))
    assert hidden.status_code == 404


def test_sbom_import_through_the_api(world: World) -> None:
    """A release's SBOM as the request body: stored, quality-checked, findings recomputed."""
    import json

    client, headers = world.client, world.headers("Acme", "editor")
    pid = world.ids["product_id"]
    bom = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
           "metadata": {"timestamp": "2026-11-27T00:00:00Z",
                        "component": {"type": "firmware", "name": "camera-fw", "version": "9.9"}},
           "components": [{"type": "library", "name": "requests", "version": "2.19.0",
                           "purl": "pkg:pypi/requests@2.19.0", "bom-ref": "requests"}]}
    release = client.post(f"/api/v1/products/{pid}/releases", headers=headers,
                          json={"version_label": "sbom-1"})
    assert release.status_code == 201, release.text
    done = client.post(f"/api/v1/products/{pid}/releases/sbom-1/sbom?filename=bom.json",
                       headers=headers | {"content-type": "application/json"},
                       content=json.dumps(bom).encode())
    assert done.status_code == 200, done.text
    assert done.json()["components"] == 1 and "quality" in done.json()
    bad = client.post(f"/api/v1/products/{pid}/releases/sbom-1/sbom?filename=bom.json",
                      headers=headers, content=b"{not json")
    assert bad.status_code == 422
    assert client.get(f"/api/v1/products/{pid}/findings", headers=headers).status_code == 200


def test_triage_page_and_bulk_decision_through_the_api(world: World) -> None:
    """The triage page's query is validated field by field; a bulk decision needs an editor and
    lands on every named vulnerability."""
    client, pid = world.client, world.ids["product_id"]
    editor, viewer = world.headers("Acme", "editor"), world.headers("Acme", "viewer")
    page = client.get(f"/api/v1/products/{pid}/triage?sort=-cvss&exploited=no", headers=viewer)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["sort"] == "-cvss" and body["filters"] == {"exploited": False}
    assert {"findings", "total", "releases", "limit", "offset"} <= set(body)
    bad = client.get(f"/api/v1/products/{pid}/triage?sort=colour", headers=viewer)
    assert bad.status_code == 422 and "sort" in bad.text
    names = ["PYSEC-2018-28", "CVE-2018-18074"]
    refused = client.post(f"/api/v1/products/{pid}/vex/bulk", headers=viewer,
                          json={"vulnerabilities": names, "state": "not_affected",
                                "justification": "code_not_reachable"})
    assert refused.status_code == 403
    done = client.post(f"/api/v1/products/{pid}/vex/bulk", headers=editor,
                       json={"vulnerabilities": names, "state": "not_affected",
                             "justification": "code_not_reachable"})
    assert done.status_code == 200 and done.json() == {"decided": 2}, done.text
    hidden = client.get(f"/api/v1/products/{pid}/triage", headers=world.headers("Globex", "admin"))
    assert hidden.status_code == 404
