"""Feeds and proposed Article 14 cases through the API: upload, the signals on findings, the
proposal confirmed into a case, and the problems bad feed files answer with."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import World
from tests.workspace import feed_data as fd


def test_signals_on_findings_and_a_proposal_confirmed_into_a_case(world: World) -> None:
    pid = world.ids["product_id"]
    scores = fd.epss_csv("2025-09-03", {"CVE-2018-18074": 0.42}, gz=True)
    uploaded = world.call("POST", "/api/v1/feeds", content=scores,
                          params={"filename": "epss.csv.gz", "kind": "epss"})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["counts"]["new"] == 1
    again = world.call("POST", "/api/v1/feeds", content=scores, params={"filename": "x"})
    assert again.status_code == 409 and "already imported" in again.json()["detail"]
    findings = world.call("GET", f"/api/v1/products/{pid}/findings",
                          params={"sort": "priority"}).json()
    assert findings[0]["priority"] == 1 and findings[0]["epss"] == 0.42
    assert findings[0]["exploited"] == {"source": "euvd", "date": "2025-04-09T00:00:00+00:00"}
    assert "EUVD-2020-12345" in findings[0]["aliases"]
    waiting = world.call("GET", "/api/v1/case-proposals").json()
    assert [(p["vulnerability"], p["signal"]) for p in waiting] == [("CVE-2018-18074", "euvd")]
    assert world.call("GET", "/api/v1/case-proposals", org="Globex").json() == []
    assert world.call("POST", f"/api/v1/case-proposals/{waiting[0]['id']}/confirm",
                      role="viewer", json={"aware_at": "2026-11-27T08:00:00Z"}).status_code == 403
    case = world.call("POST", f"/api/v1/case-proposals/{waiting[0]['id']}/confirm",
                      json={"aware_at": "2026-11-27T08:00:00Z"})
    assert case.status_code == 201, case.text
    body = case.json()
    assert body["aware_at"].startswith("2026-11-27T08:00:00")
    assert body["proposal"]["status"] == "confirmed" and body["proposal"]["case_id"] == body["id"]
    early = next(s for s in body["stages"] if s["stage"] == "early-warning")
    assert early["due"].startswith("2026-11-28T08:00:00")
    twice = world.call("POST", f"/api/v1/case-proposals/{waiting[0]['id']}/dismiss",
                       json={"reason": "no"})
    assert twice.status_code == 409
    runs = world.call("GET", "/api/v1/feeds").json()
    assert [r["kind"] for r in runs] == ["epss", "euvd"]


def test_bad_feed_files_are_problems_and_leave_nothing(world: World) -> None:
    truncated = world.call("POST", "/api/v1/feeds", params={"filename": "kev.json"},
                           content=fd.KEV.read_bytes()[:5000])
    assert truncated.status_code == 422 and "kev.json" in truncated.json()["detail"]
    wrong = world.call("POST", "/api/v1/feeds", params={"kind": "euvd"},
                       content=fd.KEV.read_bytes())
    assert wrong.status_code == 422 and "CISA KEV" in wrong.json()["detail"]
    unknown = world.call("POST", "/api/v1/feeds", content=b"hello")
    assert unknown.status_code == 422 and "not a feed" in unknown.json()["detail"]
    viewer = world.call("POST", "/api/v1/feeds", role="viewer", content=fd.KEV.read_bytes())
    assert viewer.status_code == 403
    assert [r["kind"] for r in world.call("GET", "/api/v1/feeds").json()] == ["euvd"]


def _osv_zip(*advisories: dict[str, object]) -> bytes:
    import io
    import json
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for advisory in advisories:
            archive.writestr(f"{advisory['id']}.json", json.dumps(advisory))
    return buffer.getvalue()


SECOND = {"schema_version": "1.6.0", "id": "PYSEC-2023-74", "modified": "2024-01-01T00:00:00Z",
          "aliases": ["CVE-2023-32681"], "summary": "Proxy-Authorization header leaked",
          "affected": [{"package": {"name": "requests", "ecosystem": "PyPI"}, "ranges": [
              {"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]}]}]}


def test_osv_zip_upload_is_queued_and_adds_its_findings(world: World, database: Any) -> None:
    """On PostgreSQL the answer names the job and a worker makes the findings; on SQLite the
    import has run by the time the answer comes."""
    from prodsec import jobs

    pid = world.ids["product_id"]

    def vulnerabilities() -> set[str]:
        rows = world.call("GET", f"/api/v1/products/{pid}/findings").json()
        return {f["vulnerability"] for f in rows}

    assert "PYSEC-2023-74" not in vulnerabilities()
    uploaded = world.call("POST", "/api/v1/advisories", content=_osv_zip(SECOND),
                          params={"filename": "PyPI/all.zip"})
    assert uploaded.status_code == 202, uploaded.text
    body = uploaded.json()
    assert body["file"] == "all.zip" and body["files"] == 1 and len(body["sha256"]) == 64
    if body["job"] is not None:
        listed = world.call("GET", "/api/v1/jobs").json()["jobs"]
        assert any(j["id"] == body["job"] and j["task"] == "advisories.import" for j in listed)
        jobs.run_worker(database, wait=False)
    assert "PYSEC-2023-74" in vulnerabilities()
    assert not any((database.evidence_dir / "advisory-uploads").rglob("*.*"))
    imports = world.call("GET", "/api/v1/advisories/imports").json()
    assert imports[0]["source"] == "all.zip" and imports[0]["added"] == 1
    assert world.call("GET", "/api/v1/advisories/imports", org="Globex").json() == []


def test_bad_osv_uploads_are_problems_and_import_nothing(world: World, monkeypatch: Any) -> None:
    from prodsec.workspace import advisory_uploads

    before = world.call("GET", "/api/v1/advisories/imports").json()
    no_id = world.call("POST", "/api/v1/advisories", content=b'{"summary": "x"}',
                       params={"filename": "x.json"})
    assert no_id.status_code == 422 and no_id.json()["detail"].startswith("x.json: /id: missing")
    not_zip = world.call("POST", "/api/v1/advisories", content=b"PK\x03\x04broken",
                         params={"filename": "all.zip"})
    assert not_zip.status_code == 422 and "all.zip" in not_zip.json()["detail"]
    viewer = world.call("POST", "/api/v1/advisories", role="viewer", content=_osv_zip(SECOND))
    assert viewer.status_code == 403
    monkeypatch.setattr(advisory_uploads, "MAX_UPLOAD_BYTES", 100)
    big = world.call("POST", "/api/v1/advisories", content=_osv_zip(SECOND))
    assert big.status_code == 413 and "limit of 100 bytes" in big.json()["detail"]
    assert world.call("GET", "/api/v1/advisories/imports").json() == before
