"""Every route in the OpenAPI document, called by users of two organisations in three roles:
no cross-organisation read or write (another organisation's id answers exactly like an id that
does not exist), no write by a viewer, no user or token management by a non-admin."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.api.conftest import CAMERA, ROLES, ROUTER, World
from tests.realdata import DATA

# Sample requests for every operation with a body; placeholders name ids of ``World.ids``.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/auth/login"): {"json": {"email": "nobody@x.example", "password": "wrong"}},
    ("post", "/api/v1/auth/password"): {"json": {"current_password": "wrong",
                                                 "new_password": "a fine long new password"}},
    ("post", "/api/v1/auth/password-reset"): {"json": {"token": "psr_forged",
                                                       "new_password": "a fine long password"}},
    ("post", "/api/v1/products"): {"json": {"profile": CAMERA}},
    ("put", "/api/v1/products/{product_id}"): {"json": {"profile": ROUTER}},
    ("post", "/api/v1/products/{product_id}/profile-diff"): {"json": {"profile": ROUTER}},
    ("post", "/api/v1/products/{product_id}/releases"): {"json": {"version_label": "9.9"}},
    ("patch", "/api/v1/releases/{release_id}"): {"json": {"support_rationale": "five years"}},
    ("post", "/api/v1/products/{product_id}/assessments"): {"json": {"as_of": "2026-11-27"}},
    ("patch", "/api/v1/statuses/{status_id}"): {"json": {"status": "met"}},
    ("post", "/api/v1/statuses/{status_id}/evidence"): {"json": {"evidence_id": "{evidence_id}"}},
    ("post", "/api/v1/evidence"): {"json": {"title": "policy", "url": "https://example.com/p"}},
    ("post", "/api/v1/evidence/files"): {"params": {"title": "scan"}, "content": b"scan"},
    ("post", "/api/v1/controls"): {"json": {"name": "SBOM", "requirements": []}},
    ("patch", "/api/v1/controls/{control_id}"): {"json": {"owner": "mallory"}},
    ("post", "/api/v1/controls/{control_id}/evidence"): {"json": {"evidence_id": "{evidence_id}"}},
    ("patch", "/api/v1/evidence/{evidence_id}"): {"json": {"expires_on": "2020-01-01"}},
    ("patch", "/api/v1/organisation/profile"): {"json": {"legal_name": "Stolen"}},
    ("patch", "/api/v1/products/{product_id}/documentation"): {"json": {"type_designation": "X"}},
    ("post", "/api/v1/users"): {"json": {"email": "new@globex.example", "role": "viewer",
                                         "password": "a long enough password"}},
    ("patch", "/api/v1/users/{user_id}"): {"json": {"role": "admin"}},
    ("post", "/api/v1/tokens"): {"json": {"email": "{email}", "name": "stolen"}},
    ("post", "/api/v1/check"): {"json": {"profile": ROUTER}},
    ("post", "/api/v1/products/{product_id}/documents"): {"json": {"kind": "eu-declaration",
                                                                   "draft": True}},
    ("post", "/api/v1/documents"): {"json": {"kind": "oscal-catalog", "subject": "uk-psti"}},
    ("post", "/api/v1/products/{product_id}/documents/acknowledgements"): {"json": {
        "kind": "red-declaration", "facts": ["all"], "reason": "checked against the OJ"}},
    ("get", "/api/v1/products/{product_id}/documents/unverified"): {
        "params": {"kind": "red-declaration"}},
    ("post", "/api/v1/products/{product_id}/vex"): {"json": {"vulnerability": "CVE-2024-0001",
                                                             "state": "in_triage"}},
    ("post", "/api/v1/products/{product_id}/cases"): {"json": {
        "kind": "incident", "title": "outage", "aware_at": "2026-11-27T08:00:00Z"}},
    ("post", "/api/v1/cases/{case_id}/measure"): {"json": {"at": "2026-11-27T09:00:00Z"}},
    ("post", "/api/v1/cases/{case_id}/withdrawal"): {"json": {"reason": "opened in error"}},
    ("post", "/api/v1/cases/{case_id}/submissions"): {"json": {"stage": "early-warning"}},
    ("post", "/api/v1/products/{product_id}/releases/{release}/sbom"): {"content": b"{}"},
    ("post", "/api/v1/sbom/bsi"): {"content": b"{}"},
    ("post", "/api/v1/csaf/ingest"): {"content": b"{}"},
    ("post", "/api/v1/products/{product_id}/vex/import"): {"json": {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "vulnerabilities": [
            {"id": "PYSEC-2018-28", "analysis": {"state": "resolved"},
             "affects": [{"ref": "pkg:pypi/requests@2.19.0"}]}]}},
    ("post", "/api/v1/products/{product_id}/releases/{release}/csaf"): {"json": {
        "tracking_id": "STOLEN-1"}},
    ("post", "/api/v1/products/{product_id}/csaf/{doc_id}/publish"): {"json": {
        "status": "final", "summary": "stolen"}},
    ("get", "/api/v1/compare"): {"params": {"product": ["{product_id}", "{product_id}"]}},
    ("post", "/api/v1/products/{product_id}/vex/bulk"): {"json": {
        "vulnerabilities": ["PYSEC-2018-28"], "state": "not_affected",
        "justification": "code_not_reachable"}},
    ("post", "/api/v1/feeds"): {"params": {"filename": "e.csv"}, "content": (
        b"#model_version:v2025.03.14,score_date:2025-09-03T00:00:00Z\ncve,epss,percentile\n"
        b"CVE-2018-18074,0.5,0.9\n")},
    ("post", "/api/v1/advisories"): {"params": {"filename": "GO-2020-0001.json"}, "content": (
        DATA / "osv" / "go" / "osv" / "GO-2020-0001.json").read_bytes()},
    ("post", "/api/v1/case-proposals/{proposal_id}/confirm"): {"json": {
        "aware_at": "2026-11-27T08:00:00Z"}},
    ("post", "/api/v1/case-proposals/{proposal_id}/dismiss"): {"json": {"reason": "not ours"}},
    ("post", "/api/v1/notifications/subscriptions"): {"json": {
        "channel": "email", "address": "mallory@globex.example", "kinds": ["support.ending"]}},
}
# Operations that change nothing an organisation owns: they may answer a viewer (a user's own
# password is the user's, whatever the role).
READ_ONLY_POSTS = {"/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/check",
                   "/api/v1/sbom/bsi",  # checks a body, stores nothing
                   "/api/v1/products/{product_id}/profile-diff",  # computes, stores nothing
                   "/api/v1/auth/password", "/api/v1/auth/password-reset",
                   # one's own invitations are one's own, whatever the role
                   "/api/v1/auth/invitations/{invitation_id}/accept",
                   "/api/v1/auth/invitations/{invitation_id}/decline",
                   # and so are one's own sign-in devices
                   "/api/v1/auth/devices/{device_id}"}
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
ADMIN_ONLY = ("/api/v1/users", "/api/v1/tokens", "/api/v1/invitations", "/api/v1/notifications")


def operations(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    spec = world.client.get("/api/openapi.json").json()
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if "requestBody" in op:
                assert (method, path) in BODIES, f"add a sample body for {method} {path}"
            ops.append((method, path, BODIES.get((method, path), {})))
    assert len(ops) > 40
    return ops


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, id_ in ids.items():
            value = value.replace("{" + key + "}", id_)
        return value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def references_ids(path: str, sample: dict[str, Any]) -> bool:
    return bool(PLACEHOLDER.search(path) or PLACEHOLDER.search(repr(sample)))


def call(world: World, org: str, role: str, method: str, path: str, sample: dict[str, Any],
         ids: dict[str, str]) -> Any:
    kwargs = fill(sample, ids)
    return world.call(method, fill(path, ids), org=org, role=role, headers={"If-Match": '"1"'},
                      **kwargs)


def masked(text: str, ids: dict[str, str]) -> str:
    """The answer with the ids the caller sent replaced by their names."""
    for key, id_ in ids.items():
        text = text.replace(id_, key)
    return text


def acme_ids(world: World) -> dict[str, str]:
    return {**world.ids, "email": world.members[("Acme", "editor")]["email"]}


def random_ids(world: World) -> dict[str, str]:
    ids = {k: uuid.uuid4().hex for k in world.ids}
    return {**ids, "requirement_id": world.ids["requirement_id"],
            "regulation_id": world.ids["regulation_id"], "email": "nobody@nowhere.example"}


def acme_state(world: World) -> tuple[int, str]:
    report = world.call("GET", "/api/v1/audit/verify", role="admin").json()
    product = world.call("GET", f"/api/v1/products/{world.ids['product_id']}").text
    return report["events"], product


def test_no_cross_organisation_read_or_write(world: World) -> None:
    before = acme_state(world)
    for role in ROLES:
        walk_as_outsider(world, role)
    assert acme_state(world) == before


def walk_as_outsider(world: World, role: str) -> None:
    """Every operation, by Globex's ``role``, on Acme's ids and on unknown ids: same answer."""
    foreign, unknown = acme_ids(world), random_ids(world)
    secret_ids = [v for k, v in world.ids.items() if k.endswith("_id") and len(v) == 32]
    for method, path, sample in operations(world):
        if path.startswith("/api/v1/auth/"):
            continue
        got = call(world, "Globex", role, method, path, sample, foreign)
        where = f"Globex {role}: {method.upper()} {path} -> {got.status_code} {got.text[:200]}"
        assert got.status_code < 500, where
        if references_ids(path, sample):
            baseline = call(world, "Globex", role, method, path, sample, unknown)
            assert got.status_code == baseline.status_code, where
            assert got.status_code >= 400 or path.startswith(("/api/v1/regulations",
                                                               "/api/v1/requirements")), where
            assert masked(got.text, foreign) == masked(baseline.text, unknown), where
        else:
            assert not any(i in got.text for i in secret_ids), f"leak: {where}"


def test_viewer_cannot_write_and_editor_cannot_administer(world: World) -> None:
    before = acme_state(world)
    own = acme_ids(world)
    for method, path, sample in operations(world):
        if method == "get" or path in READ_ONLY_POSTS:
            continue
        got = call(world, "Acme", "viewer", method, path, sample, own)
        assert got.status_code == 403, f"viewer {method} {path}: {got.status_code} {got.text}"
    for method, path, sample in operations(world):
        if path.startswith(ADMIN_ONLY):
            got = call(world, "Acme", "editor", method, path, sample, own)
            assert got.status_code == 403, f"editor {method} {path}: {got.status_code}"
    assert acme_state(world) == before


def test_cannot_attach_another_organisations_evidence(world: World) -> None:
    control = world.call("POST", "/api/v1/controls", org="Globex",
                         json={"name": "Mine", "requirements": []}).json()
    got = world.call("POST", f"/api/v1/controls/{control['id']}/evidence", org="Globex",
                     json={"evidence_id": world.ids["evidence_id"]})
    assert got.status_code == 404
    got = world.call("GET", f"/api/v1/evidence/{world.ids['evidence_id']}/content", org="Globex")
    assert got.status_code == 404


def test_lists_show_only_the_own_organisation(world: World) -> None:
    for url in ("/api/v1/products", "/api/v1/statuses", "/api/v1/evidence", "/api/v1/controls",
                "/api/v1/audit/events", "/api/v1/gaps"):
        body = world.call("GET", url, org="Globex").json()
        if url != "/api/v1/audit/events":  # Globex's own user and token events are there
            assert body.get("total", 0) == 0 or not body.get("items"), url
        text = str(body)
        assert world.ids["product_id"] not in text and "Fictinet" not in text, url
        assert "acme.example" not in text, url
    users = world.call("GET", "/api/v1/users", org="Globex", role="admin").json()
    assert {u["email"] for u in users["items"]} == {f"{r}@globex.example" for r in ROLES}
