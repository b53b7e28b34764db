"""VEX and CSAF through the API, with real data (the proton-bridge SBOM and the Go advisories
that concern it): export in three formats, each valid in its own format; import of suppliers'
VEX; CSAF advisories authored, listed and downloaded; roles and organisation isolation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import World
from tests.realdata import DATA
from tests.workspace import vuln_data

from prodsec.db.engine import Database
from prodsec.formats import csaf
from prodsec.workspace.vex import check_openvex

RELEASE = "1.8.0"
CISA_VEX = DATA / "sbom" / "cyclonedx" / "VEX" / "CISA-Use-Cases" / "Case-1"


@pytest.fixture
def proton(world: World, database: Database, tmp_path: Path) -> dict[str, Any]:
    """Acme's router with release 1.8.0: the Go advisories (library: advisories have no API)
    and the release's real SBOM imported through the API."""
    from prodsec.db.models import User
    from prodsec.workspace.users import actor_for
    from prodsec.workspace.vulnerabilities import import_advisories

    with database.transaction() as session:
        user = session.get(User, world.members[("Acme", "editor")]["user_id"])
        assert user is not None
        import_advisories(session, actor_for(session, user),
                          vuln_data.make_osv_dir(tmp_path / "go"))
    pid = world.ids["product_id"]
    assert world.call("POST", f"/api/v1/products/{pid}/releases",
                      json={"version_label": RELEASE}).status_code == 201
    imported = world.call("POST", f"/api/v1/products/{pid}/releases/{RELEASE}/sbom",
                          params={"filename": vuln_data.SBOM_B.name},
                          content=vuln_data.SBOM_B.read_bytes())
    assert imported.status_code == 200, imported.text
    found = world.call("GET", f"/api/v1/products/{pid}/findings",
                       params={"release": RELEASE}).json()
    assert found, "the real SBOM should match real advisories"
    return {"pid": pid, "base": f"/api/v1/products/{pid}", "findings": found}


def _decide(world: World, base: str, vid: str, state: str, **extra: Any) -> None:
    got = world.call("POST", f"{base}/vex", json={"vulnerability": vid, "state": state, **extra})
    assert got.status_code == 200, got.text


def _state_of(world: World, base: str, purl: str, vid: str) -> str:
    found = world.call("GET", f"{base}/findings", params={"release": RELEASE}).json()
    return str(next(f["state"] for f in found
                    if f["component"] == purl and f["vulnerability"] == vid))


def test_vex_export_in_three_valid_formats(world: World, proton: dict[str, Any]) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    base, first = proton["base"], proton["findings"][0]
    _decide(world, base, first["vulnerability"], "not_affected",
            justification="code_not_reachable", detail="the vulnerable function is never called")
    url = f"{base}/releases/{RELEASE}/vex"

    cdx = world.call("GET", url, params={"format": "cyclonedx"}, role="viewer")
    assert cdx.status_code == 200, cdx.text
    assert cdx.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert cdx.headers["content-disposition"] == \
        'attachment; filename="Fictinet-AX3000-Home-Router-1.8.0.vex.cdx.json"'
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx.text) is None
    analysed = {v["id"]: v["analysis"] for v in cdx.json()["vulnerabilities"]}
    assert analysed[first["vulnerability"]]["justification"] == "code_not_reachable"
    assert world.call("GET", url).headers["content-type"].startswith(  # CycloneDX by default
        "application/vnd.cyclonedx+json")

    openvex = world.call("GET", url, params={"format": "openvex", "author": "PSIRT"})
    assert openvex.status_code == 200 and openvex.headers["content-type"] == "application/json"
    assert openvex.headers["content-disposition"].endswith('.openvex.json"')
    assert check_openvex(openvex.json()) == [] and openvex.json()["author"] == "PSIRT"
    statuses = {s["vulnerability"]["name"]: s["status"] for s in openvex.json()["statements"]}
    assert statuses[first["vulnerability"]] == "not_affected"

    csaf_vex = world.call("GET", url, params={"format": "csaf"})
    assert csaf_vex.status_code == 200 and csaf_vex.headers["content-type"] == "application/json"
    report = csaf.validate(csaf_vex.content, "csaf vex")
    assert report.valid, [f.message for f in report.failures][:5]
    assert csaf_vex.json()["document"]["category"] == "csaf_vex"


def test_vex_export_bad_format_unknown_release_and_other_organisation(
        world: World, proton: dict[str, Any]) -> None:
    base = proton["base"]
    bad = world.call("GET", f"{base}/releases/{RELEASE}/vex", params={"format": "spdx"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["errors"][0]["field"] == "format"
    assert world.call("GET", f"{base}/releases/9.9/vex").status_code == 404
    foreign = world.call("GET", f"{base}/releases/{RELEASE}/vex", org="Globex", role="admin")
    unknown = world.call("GET", f"/api/v1/products/{'0' * 32}/releases/{RELEASE}/vex",
                         org="Globex", role="admin")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["detail"].replace(proton["pid"], "?") == \
        unknown.json()["detail"].replace("0" * 32, "?")
    # CSAF needs findings: release 1.0 has one, a new empty release has none
    world.call("POST", f"{base}/releases", json={"version_label": "2.0"})
    empty = world.call("GET", f"{base}/releases/2.0/vex", params={"format": "csaf"})
    assert empty.status_code == 422 and "no findings" in empty.json()["detail"]
    assert world.call("GET", f"{base}/releases/2.0/vex").status_code == 200  # empty CycloneDX


def test_import_supplier_vex_in_three_formats(world: World, proton: dict[str, Any]) -> None:
    base, findings = proton["base"], proton["findings"]
    a, b, c = findings[0], findings[1], findings[2]
    cyclonedx_vex = {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "x", "bom-ref": "comp-a",
                        "purl": a["component"]}],
        "vulnerabilities": [
            {"id": a["vulnerability"], "analysis": {
                "state": "not_affected", "justification": "code_not_present"},
             "affects": [{"ref": "comp-a"}]},
            {"id": "CVE-2099-0001", "analysis": {"state": "perhaps"},
             "affects": [{"ref": "pkg:golang/example.com/elsewhere@v1.0.0"}]},
            {"id": "CVE-2099-0002", "analysis": {"state": "resolved"},
             "affects": [{"ref": "pkg:golang/example.com/elsewhere@v1.0.0"}]}]}
    got = world.call("POST", f"{base}/vex/import", params={"filename": "supplier.cdx.json"},
                     json=cyclonedx_vex)
    assert got.status_code == 422, got.text  # two refused, the good one imported
    assert got.headers["content-type"] == "application/problem+json"
    summary = got.json()
    assert (summary["statements"], summary["imported"]) == (3, 1)
    assert [r["vulnerability"] for r in summary["refused"]] == ["CVE-2099-0001", "CVE-2099-0002"]
    assert "'perhaps'" in summary["refused"][0]["reason"]
    assert "example.com/elsewhere@v1.0.0 is not in the SBOM" in summary["refused"][1]["reason"]
    assert [e["field"] for e in summary["errors"]] == ["/vulnerabilities/1/affects/0",
                                                        "/vulnerabilities/2/affects/0"]
    assert _state_of(world, base, a["component"], a["vulnerability"]) == "not_affected"

    # a supplier's OpenVEX names its own product: a component of ours
    openvex = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://supplier.example/v/1",
               "author": "Supplier PSIRT", "timestamp": "2026-11-27T00:00:00Z", "version": 1,
               "statements": [{"vulnerability": {"name": b["vulnerability"]},
                               "products": [{"@id": b["component"]}], "status": "fixed"}]}
    got = world.call("POST", f"{base}/vex/import", params={"release": RELEASE}, json=openvex)
    assert got.status_code == 200 and got.json()["imported"] == 1, got.text
    assert _state_of(world, base, b["component"], b["vulnerability"]) == "resolved"

    # CSAF VEX: our own export, re-imported as if from a supplier, keeps every decision
    exported = world.call("GET", f"{base}/releases/{RELEASE}/vex", params={"format": "csaf"})
    got = world.call("POST", f"{base}/vex/import", params={"release": RELEASE},
                     content=exported.content)
    assert got.status_code == 200 and got.json()["imported"] >= len(findings), got.text
    assert got.json()["refused"] == []
    for f, state in ((a, "not_affected"), (b, "resolved"), (c, "in_triage")):
        assert _state_of(world, base, f["component"], f["vulnerability"]) == state

    real = (CISA_VEX / "vex-not_affected.json").read_bytes()  # CISA's use case 1, unchanged
    got = world.call("POST", f"{base}/vex/import", params={"filename": "vex-not_affected.json"},
                     content=real)  # about "ABC 4.2", which this workspace does not know
    assert got.status_code == 422 and got.json()["imported"] == 0, got.text
    assert "product ABC 4.2 is unknown here" in got.json()["refused"][0]["reason"]
    events = world.call("GET", "/api/v1/audit/events", params={"limit": 1}).json()["items"]
    assert events[0]["action"] == "vex.set"


def test_bad_vex_is_refused_and_nothing_is_stored(world: World, proton: dict[str, Any],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    base = proton["base"]
    before = world.call("GET", "/api/v1/audit/verify", role="admin").json()["events"]
    broken = world.call("POST", f"{base}/vex/import", content=b'{"bomFormat": "CycloneDX", ')
    assert broken.status_code == 422
    assert broken.headers["content-type"] == "application/problem+json"
    assert "line 1 column" in broken.json()["detail"]
    wrong = {"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [
        {"id": "CVE-2099-0003", "analysis": {"state": "resolved"}},
        {"id": "CVE-2099-0004", "analysis": {"state": "resolved"}, "affects": "everything"}]}
    shaped = world.call("POST", f"{base}/vex/import", json=wrong)
    assert shaped.status_code == 422 and "/vulnerabilities/1/affects" in shaped.json()["detail"]
    neither = world.call("POST", f"{base}/vex/import", json={"hello": "world"})
    assert neither.status_code == 422 and "OpenVEX" in neither.json()["detail"]
    state = world.client.app.state.prodsec  # the deployment's document limit, lowered
    monkeypatch.setattr(state, "settings", replace(state.settings, max_document_bytes=100))
    large = world.call("POST", f"{base}/vex/import", json={"padding": "x" * 200})
    assert large.status_code == 413
    assert world.call("GET", "/api/v1/audit/verify", role="admin").json()["events"] == before
    found = world.call("GET", f"{base}/findings").json()
    assert not any(f["vulnerability"].startswith("CVE-2099") for f in found)


def test_vex_import_roles_and_isolation(world: World, proton: dict[str, Any]) -> None:
    base = proton["base"]
    doc = (CISA_VEX / "vex-not_affected.json").read_bytes()
    viewer = world.call("POST", f"{base}/vex/import", role="viewer", content=doc)
    assert viewer.status_code == 403
    foreign = world.call("POST", f"{base}/vex/import", org="Globex", role="admin", content=doc)
    assert foreign.status_code == 404
    release = world.call("POST", f"{base}/vex/import", params={"release": "7.7"}, content=doc)
    assert release.status_code == 404


def test_author_list_and_download_csaf(world: World, proton: dict[str, Any]) -> None:
    base, findings = proton["base"], proton["findings"]
    _decide(world, base, findings[0]["vulnerability"], "exploitable", responses=["update"])
    url = f"{base}/releases/{RELEASE}/csaf"
    unscored = world.call("POST", url, json={"tracking_id": "ACME-2026-001"})
    assert unscored.status_code == 422 and unscored.json()["errors"][0]["field"] == "cvss"
    cvss = {findings[0]["vulnerability"]: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"}
    made = world.call("POST", url, json={"tracking_id": "ACME-2026-001",
                                         "title": "Vulnerabilities in the router's Go modules",
                                         "publisher": "Acme PSIRT", "cvss": cvss})
    assert made.status_code == 201, made.text
    assert (made.json()["status"], made.json()["version"]) == ("draft", "0")
    body = made.json()
    assert body["tracking_id"] == "ACME-2026-001" and body["category"] == "csaf_security_advisory"
    assert made.headers["location"] == f"{base}/csaf/{body['id']}"
    report = csaf.validate(json.dumps(body["document"]).encode(), "authored")
    assert report.valid, [f.message for f in report.failures][:5]
    assert body["document"]["document"]["publisher"]["name"] == "Acme PSIRT"

    again = world.call("POST", url, json={"tracking_id": "ACME-2026-001", "cvss": cvss})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    vex_doc = world.call("POST", url, json={"category": "csaf_vex", "tracking_id": "ACME-VEX-1",
                                            "cvss": cvss})
    assert vex_doc.status_code == 201 and vex_doc.json()["category"] == "csaf_vex"

    listed = world.call("GET", f"{base}/csaf", role="viewer").json()
    assert {d["tracking_id"] for d in listed} == {"ACME-SEED-1", "ACME-2026-001", "ACME-VEX-1"}
    assert all("document" not in d or d["document"] is None for d in listed)

    download = world.call("GET", f"{base}/csaf/{body['id']}", role="viewer")
    assert download.status_code == 200 and download.headers["content-type"] == "application/json"
    assert download.headers["content-disposition"] == 'attachment; filename="acme-2026-001.json"'
    assert download.json() == body["document"]
    assert hashlib.sha256(download.content).hexdigest() == download.headers["x-document-sha256"]
    assert csaf.validate(download.content, "downloaded").valid

    publish = f"{base}/csaf/{body['id']}/publish"
    assert world.call("POST", publish, role="viewer", json={"status": "final"}).status_code == 403
    assert world.call("POST", publish, json={"status": "draft"}).status_code == 422
    published = world.call("POST", publish, json={"status": "final", "summary": "Initial."})
    assert published.status_code == 200, published.text
    tracking = published.json()["document"]["document"]["tracking"]
    assert (tracking["status"], tracking["version"]) == ("final", "1")
    after = world.call("GET", f"{base}/csaf/{body['id']}", role="viewer")
    assert after.json() == published.json()["document"]
    assert csaf.validate(after.content, "published").valid


def test_csaf_refusals(world: World, proton: dict[str, Any]) -> None:
    base = proton["base"]
    url = f"{base}/releases/{RELEASE}/csaf"
    triage = world.call("POST", url, json={})  # every finding of 1.8.0 is still in triage
    assert triage.status_code == 422 and "in triage" in triage.json()["detail"]
    _decide(world, base, proton["findings"][0]["vulnerability"], "resolved")
    invalid = world.call("POST", url, json={"tracking_id": " padded "})
    assert invalid.status_code == 422, invalid.text
    problem = invalid.json()
    assert problem["errors"][0]["field"] == "csaf"
    assert "/document/tracking/id" in problem["errors"][0]["message"]
    unknown = world.call("POST", url, json={"category": "csaf_informational_advisory"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "category"
    assert world.call("POST", url, role="viewer", json={}).status_code == 403
    listed = world.call("GET", f"{base}/csaf").json()
    assert [d["tracking_id"] for d in listed] == ["ACME-SEED-1"]  # nothing stored


def test_csaf_documents_are_isolated(world: World, proton: dict[str, Any]) -> None:
    base, doc_id = proton["base"], world.ids["doc_id"]
    for url in (f"{base}/csaf", f"{base}/csaf/{doc_id}"):
        assert world.call("GET", url, org="Globex", role="admin").status_code == 404
    made = world.call("POST", f"{base}/releases/1.0/csaf", org="Globex", role="admin", json={})
    assert made.status_code == 404
    other = world.call("POST", "/api/v1/products", json={"profile": {
        **world.call("GET", base).json()["profile"], "name": "Second router"}}).json()
    wrong_product = world.call("GET", f"/api/v1/products/{other['id']}/csaf/{doc_id}")
    assert wrong_product.status_code == 404
    assert world.call("GET", f"/api/v1/products/{other['id']}/csaf").json() == []
    unknown = world.call("GET", f"{base}/csaf/{'f' * 32}")
    assert unknown.status_code == 404
