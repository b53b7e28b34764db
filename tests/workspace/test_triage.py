"""Triage at scale in the workspace (real proton-bridge SBOM, real Go advisories), on SQLite and
PostgreSQL: the priority page, per-release counts, severity borrowed from a scored alias, and a
bulk decision that is all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.workspace import feeds, triage, vex
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor, PermissionDenied, ValidationFailed
from tests.workspace.test_vulnerabilities import _loaded
from tests.workspace.vuln_data import kev_catalogue, make_osv_dir

# The NVD's CVSS 3.1 vector for CVE-2022-27664 (golang.org/x/net HTTP/2 denial of service;
# https://nvd.nist.gov/vuln/detail/CVE-2022-27664, base score 7.5 HIGH). The Go advisory
# GO-2022-0969 names it as an alias but carries no score of its own, as Go advisories never do.
CVE_RECORD = {"schema_version": "1.6.0", "id": "CVE-2022-27664", "modified": "2022-09-08T00:00:00Z",
              "aliases": ["GO-2022-0969"], "summary": "HTTP/2 server connections can hang",
              "severity": [{"type": "CVSS_V3",
                            "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}]}


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def test_priority_page_with_release_counts(database: Database, editor: Actor,
                                           kb: KnowledgeBase, osv_dir: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        rows = vulns.list_findings(s, editor, pid)
        last = rows[-1]
        cve = next(a for a in last["aliases"] if a.startswith("CVE-"))
        feeds.import_feed(s, editor, kev_catalogue({cve: "2024-01-02"}), "kev.json")
        vex.set_statement(s, editor, pid, rows[0]["vulnerability"], "not_affected",
                          justification="code_not_reachable")
        page = triage.triage_findings(s, editor, kb, pid, triage.parse_query({"limit": "5"}))
    assert page["total"] == len(rows) and len(page["findings"]) == 5
    assert page["findings"][0]["vulnerability"] == last["vulnerability"]
    assert page["findings"][0]["known_exploited"]
    counts = page["releases"]["1.8.0"]
    decided = sum(r["vulnerability"] == rows[0]["vulnerability"] for r in rows)
    assert counts == {"findings": len(rows), "open": len(rows) - decided,
                      "exploited": sum(r["vulnerability"] == last["vulnerability"] for r in rows),
                      "overdue": 0}


def test_filters_through_the_service(database: Database, editor: Actor, kb: KnowledgeBase,
                                     osv_dir: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        fixed = triage.triage_findings(s, editor, kb, pid, triage.parse_query(
            {"fix_available": "yes", "limit": "500"}))
        unfixed = triage.triage_findings(s, editor, kb, pid, triage.parse_query(
            {"fix_available": "no", "limit": "500"}))
        every = vulns.list_findings(s, editor, pid)
        assert fixed["total"] + unfixed["total"] == len(every)
        assert all(f["fixed"] for f in fixed["findings"])
        with pytest.raises(ValidationFailed) as bad:
            triage.parse_query({"sort": "severity"})
    assert bad.value.field == "sort"


def test_severity_from_a_scored_alias(database: Database, editor: Actor, kb: KnowledgeBase,
                                      osv_dir: Path, tmp_path: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    extra = tmp_path / "nvd"
    extra.mkdir()
    (extra / "CVE-2022-27664.json").write_text(json.dumps(CVE_RECORD))
    with database.transaction() as s:
        before = {f["vulnerability"]: f for f in vulns.list_findings(s, editor, pid)}
        assert "GO-2022-0969" in before and before["GO-2022-0969"]["cvss"] is None
        vulns.import_advisories(s, editor, extra)
        after = {f["vulnerability"]: f for f in vulns.list_findings(s, editor, pid)}
    borrowed = after["GO-2022-0969"]
    assert borrowed["cvss"]["base_score"] == 7.5
    assert borrowed["cvss_source"] == "CVE-2022-27664"
    others = [f for v, f in after.items() if v != "GO-2022-0969"]
    assert all(f["cvss"] is None for f in others), "only the aliased advisory borrows a score"


def test_bulk_triage_is_all_or_nothing(database: Database, editor: Actor, viewer: Actor,
                                       kb: KnowledgeBase, osv_dir: Path) -> None:
    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        names = sorted({f["vulnerability"] for f in vulns.list_findings(s, editor, pid)})[:3]
        assert triage.triage_many(s, editor, pid, [*names, names[0]], "not_affected",
                                  "code_not_reachable", "checked") == 3
        states = {f["vulnerability"]: f["state"] for f in vulns.list_findings(s, editor, pid)}
        assert {states[n] for n in names} == {"not_affected"}
        with pytest.raises(PermissionDenied):
            triage.triage_many(s, viewer, pid, names, "exploitable")
        with pytest.raises(ValidationFailed):
            triage.triage_many(s, editor, pid, [], "exploitable")
    with pytest.raises(ValidationFailed), database.transaction() as s:
        triage.triage_many(s, editor, pid, [names[0], "x" * 500], "exploitable")
    with database.transaction() as s:
        states = {f["vulnerability"]: f["state"] for f in vulns.list_findings(s, editor, pid)}
    assert states[names[0]] == "not_affected", "a refused selection changed nothing"
