"""Issue 14 over HTTP: a document refused for an instrument or release not covered is a problem
JSON, the unverified facts a document rests on are listed and confirmed (stored, audited), and
a viewer cannot confirm."""

from __future__ import annotations

from tests.api.conftest import World


def test_unverified_facts_are_listed_then_confirmed_once(world: World) -> None:
    pid = world.ids["product_id"]
    url = f"/api/v1/products/{pid}/documents"
    keys: list[str] = []
    for kind in ("red-declaration", "eu-declaration", "technical-file", "vdp"):
        # the first kind that still rests on unverified facts (verifying the knowledge base
        # empties them one by one)
        pending = world.call("GET", f"{url}/unverified", role="viewer", params={"kind": kind})
        assert pending.status_code == 200, pending.text
        keys = [f["key"] for f in pending.json()]
        if len(keys) >= 2:
            break
    assert len(keys) >= 2 and all(k.startswith("fact-") for k in keys)
    body = {"kind": kind, "facts": keys[:2], "reason": "Read in OJ L 153."}
    assert world.call("POST", f"{url}/acknowledgements", role="viewer", json=body).status_code == 403
    made = world.call("POST", f"{url}/acknowledgements", json=body)
    assert made.status_code == 201, made.text
    assert [a["key"] for a in made.json()] == keys[:2]
    assert made.json()[0]["created_by"] == "editor@acme.example"
    again = world.call("POST", f"{url}/acknowledgements", json=body)
    assert again.status_code == 422
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "not an unconfirmed fact" in again.json()["detail"]
    left = world.call("GET", f"{url}/unverified", params={"kind": kind}).json()
    assert [f["key"] for f in left] == keys[2:]
    events = world.call("GET", "/api/v1/audit/events", role="admin").json()["items"]
    assert sum(e["action"] == "fact.acknowledge" for e in events) == 2


def test_a_declaration_for_a_release_not_covered_is_a_problem(world: World) -> None:
    pid = world.ids["product_id"]
    made = world.call("POST", f"/api/v1/products/{pid}/releases",
                      json={"version_label": "9.0", "placed_on_market": "2028-02-01"})
    assert made.status_code < 300, made.text
    got = world.call("POST", f"/api/v1/products/{pid}/documents",
                     json={"kind": "red-declaration", "release": "9.0", "draft": True})
    assert got.status_code == 422
    assert got.headers["content-type"].startswith("application/problem+json")
    assert "does not cover release 9.0" in got.json()["detail"]


def test_restriction_answers_are_a_document_input(world: World) -> None:
    """The same input as the CLI's --restriction-answer: an unknown restriction or an answer
    other than applies / does-not-apply is a 422 problem naming the field."""
    url = f"/api/v1/products/{world.ids['product_id']}/documents"
    bad = world.call("POST", url, json={"kind": "red-declaration", "draft": True,
                                        "restriction_answers": {"en-18031-1:nope": "applies"}})
    assert bad.status_code == 422, bad.text
    assert "restriction_answers" in bad.json()["detail"]
    assert "en-18031-1:password-optional" in bad.json()["detail"]
    wrong = world.call("POST", url, json={"kind": "red-declaration", "draft": True,
                                          "restriction_answers": {
                                              "en-18031-1:password-optional": "maybe"}})
    assert wrong.status_code == 422 and "applies or does-not-apply" in wrong.json()["detail"]
