"""``vex_location``: the ETag ignores when a document was made, not what it says."""

from __future__ import annotations

from prodsec.workspace import vex_location


def _cdx(serial: str, stamp: str, state: str) -> dict:
    return {"serialNumber": serial, "metadata": {"timestamp": stamp},
            "vulnerabilities": [{"id": "GO-1", "analysis": {"state": state}}]}


def test_moments_do_not_move_the_tag_but_content_does() -> None:
    a = vex_location.etag(_cdx("urn:uuid:1", "2026-01-01T00:00:00Z", "exploitable"), "cyclonedx")
    b = vex_location.etag(_cdx("urn:uuid:2", "2026-02-01T00:00:00Z", "exploitable"), "cyclonedx")
    c = vex_location.etag(_cdx("urn:uuid:2", "2026-02-01T00:00:00Z", "resolved"), "cyclonedx")
    assert a == b != c


def test_csaf_tracking_and_self_reference_are_moments() -> None:
    def doc(day: str) -> dict:
        return {"document": {"tracking": {"id": "x", "current_release_date": day},
                             "references": [{"category": "self", "url": f"https://a/{day}"},
                                            {"category": "external", "url": "https://osv.dev/"}]},
                "vulnerabilities": []}
    assert vex_location.etag(doc("1"), "csaf") == vex_location.etag(doc("2"), "csaf")


def test_if_none_match_is_compared_weakly_and_lists_are_read() -> None:
    tag = 'W/"abc"'
    assert vex_location.matches('"abc"', tag) and vex_location.matches('"x", W/"abc"', tag)
    assert vex_location.matches("*", tag) and not vex_location.matches('"abd"', tag)
    assert not vex_location.matches(None, tag)


def test_file_names() -> None:
    assert vex_location.file_name("Router X", "1.0", "csaf") == "router-x-1_0-vex.json"
    assert vex_location.file_name("Router X", "1.0", "openvex") == "Router-X-1.0.openvex.json"
