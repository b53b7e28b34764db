"""The per-release VEX location: the same URL, a weak ETag that moves only when the triage
does, 304 on ``If-None-Match``, a stable file name (CSAF: its CSAF 5.1 name, and a version that
moves with the content), authentication."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import World
from tests.api.test_vuln_exports import RELEASE, _decide, proton  # noqa: F401 (fixture)

FORMATS = ("cyclonedx", "openvex", "csaf")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_etag_is_stable_until_the_triage_changes(world: World, proton: dict[str, Any],  # noqa: F811
                                                     fmt: str) -> None:
    url = f"{proton['base']}/releases/{RELEASE}/vex"
    first = world.call("GET", url, params={"format": fmt}, role="viewer")
    again = world.call("GET", url, params={"format": fmt}, role="viewer")
    assert first.status_code == again.status_code == 200, first.text
    tag = first.headers["etag"]
    assert tag.startswith('W/"') and again.headers["etag"] == tag
    assert first.headers["content-disposition"] == again.headers["content-disposition"]
    assert first.headers["cache-control"] == "no-store"  # the API's; the ETag revalidates
    cached = world.call("GET", url, params={"format": fmt}, role="viewer",
                        headers={"If-None-Match": tag})
    assert cached.status_code == 304 and cached.content == b""
    _decide(world, proton["base"], proton["findings"][0]["vulnerability"], "not_affected",
            justification="code_not_reachable", detail="never called")
    changed = world.call("GET", url, params={"format": fmt}, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    if fmt == "csaf":  # a viewer's pull recorded version 1; the changed triage is version 2
        versions = [r.json()["document"]["tracking"]["version"] for r in (first, again, changed)]
        assert versions == ["1", "1", "2"]
        history = changed.json()["document"]["tracking"]["revision_history"]
        assert [h["number"] for h in history] == ["1", "2"]


def test_the_csaf_vex_has_a_stable_tracking_id_and_csaf_file_name(
        world: World, proton: dict[str, Any]) -> None:  # noqa: F811
    url = f"{proton['base']}/releases/{RELEASE}/vex"
    got = world.call("GET", url, params={"format": "csaf"})
    assert got.status_code == 200, got.text
    tracking = got.json()["document"]["tracking"]["id"]
    assert tracking == "Fictinet-AX3000-Home-Router-1.8.0-vex"
    assert got.headers["content-disposition"] == (
        'attachment; filename="fictinet-ax3000-home-router-1_8_0-vex.json"')
    self_ref = next(r for r in got.json()["document"]["references"] if r["category"] == "self")
    assert self_ref["url"].endswith("/fictinet-ax3000-home-router-1_8_0-vex.json")


def test_the_location_needs_authentication(world: World, proton: dict[str, Any]) -> None:  # noqa: F811
    url = f"{proton['base']}/releases/{RELEASE}/vex"
    assert world.client.get(url).status_code == 401
    assert world.call("GET", url, org="Globex").status_code == 404


def test_the_csaf_vex_self_reference_is_where_the_api_serves_it(
        world: World, proton: dict[str, Any]) -> None:  # noqa: F811
    """CSAF 2.0 3.2.1.8.2 / 6.2.11: ``self`` is the document's own URL, ending with its file
    name. It names the API's per-release location (the provider tree never holds this
    document), and that URL answers the same document."""
    from urllib.parse import urlsplit

    got = world.call("GET", f"{proton['base']}/releases/{RELEASE}/vex", params={"format": "csaf"})
    self_ref = next(r for r in got.json()["document"]["references"] if r["category"] == "self")
    assert ".well-known/csaf" not in self_ref["url"]
    assert self_ref["url"] == (f"http://testserver{proton['base']}/releases/{RELEASE}/vex/"
                               "fictinet-ax3000-home-router-1_8_0-vex.json")
    served = world.call("GET", urlsplit(self_ref["url"]).path, role="viewer")
    assert served.status_code == 200, served.text
    assert served.headers["etag"] == got.headers["etag"]
    assert served.json()["document"]["tracking"] == got.json()["document"]["tracking"]
    wrong = world.call("GET", f"{proton['base']}/releases/{RELEASE}/vex/other.json")
    assert wrong.status_code == 404
