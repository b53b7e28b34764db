"""CRA Article 14 cases: clocks from the knowledge base in UTC, statuses, drafts, closing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import OrgProfile
from prodsec.workspace import article14, audit, products
from prodsec.workspace.context import Actor, Conflict, NotFound, ValidationFailed
from prodsec.workspace.vex import parse_time

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
AWARE = dt.datetime(2026, 9, 12, 8, 0, tzinfo=dt.UTC)
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def _product(db: Database, actor: Actor, kb: KnowledgeBase) -> str:
    with db.transaction() as s:
        return products.add_product(s, actor, kb, ROUTER).id


def _stages(view: dict[str, object]) -> dict[str, dict[str, object]]:
    return {s["stage"]: s for s in view["stages"]}  # type: ignore[attr-defined]


def test_deadlines_come_from_the_knowledge_base(kb: KnowledgeBase) -> None:
    rules = {(k, st): article14.deadline_rule(kb, k, st) for k in article14.KINDS
             for st in article14.STAGES}
    assert rules[("vulnerability", "early-warning")]["hours"] == 24
    assert rules[("vulnerability", "notification")]["hours"] == 72
    assert rules[("vulnerability", "final-report")]["days"] == 14
    assert rules[("incident", "final-report")]["months"] == 1
    assert rules[("incident", "final-report")]["from_event"] == "incident-notification-submitted"


def test_vulnerability_case_clocks_and_submissions(database: Database, editor: Actor,
                                                   outsider: Actor, kb: KnowledgeBase) -> None:
    pid = _product(database, editor, kb)
    with database.transaction() as s:
        case = article14.open_case(s, editor, pid, "vulnerability", "jwt bypass exploited",
                                   AWARE, vulnerability="CVE-2020-26160", member_state_code="de")
        case_id = case.id
        stages = _stages(article14.case_view(s, kb, case, AWARE + dt.timedelta(hours=10)))
        assert stages["early-warning"]["due"] == "2026-09-13T08:00:00Z"
        assert stages["early-warning"]["status"] == "due"
        assert stages["early-warning"]["remaining_hours"] == 14.0
        assert stages["notification"]["due"] == "2026-09-15T08:00:00Z"
        assert stages["final-report"]["status"] == "pending"  # no corrective measure yet
        late = _stages(article14.case_view(s, kb, case, AWARE + dt.timedelta(hours=30)))
        assert late["early-warning"]["status"] == "overdue"
    with database.transaction() as s:
        article14.submit(s, editor, kb, case_id, "early-warning", AWARE + dt.timedelta(hours=20),
                         reference="ENISA-1")
        article14.measure_available(s, editor, case_id, AWARE + dt.timedelta(days=3))
        with pytest.raises(Conflict):
            article14.submit(s, editor, kb, case_id, "early-warning")
    with database.transaction() as s:
        view = article14.case_view(s, kb, article14.get_case(s, editor, case_id),
                                   AWARE + dt.timedelta(days=4))
        stages = _stages(view)
        assert stages["early-warning"]["status"] == "submitted"
        assert stages["early-warning"]["submitted_at"] == "2026-09-13T04:00:00Z"
        assert stages["early-warning"]["in_time"] is True
        assert stages["final-report"]["due"] == "2026-09-29T08:00:00Z"  # measure + 14 days
        assert view["member_state"] == "DE" and "DE" in view["csirt"]
        assert [e["action"] for e in audit.history(s, editor, case_id)] == [
            "case.measure", "case.submit", "case.open"]
        with pytest.raises(NotFound):
            article14.get_case(s, outsider, case_id)


@SQLITE_ONLY
def test_incident_final_report_is_one_month_after_the_notification(
        database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _product(database, editor, kb)
    aware = dt.datetime(2026, 1, 29, 10, 0, tzinfo=dt.UTC)
    with database.transaction() as s:
        case = article14.open_case(s, editor, pid, "incident", "malicious update pushed", aware,
                                   member_state_code="FR")
        assert _stages(article14.case_view(s, kb, case, aware))["final-report"]["status"] == "pending"
        article14.submit(s, editor, kb, case.id, "notification",
                         dt.datetime(2026, 1, 31, 9, 0, tzinfo=dt.UTC))
        stages = _stages(article14.case_view(s, kb, case, aware))
        assert stages["final-report"]["due"] == "2026-02-28T09:00:00Z"  # calendar month
        assert stages["notification"]["in_time"] is True


@SQLITE_ONLY
def test_member_state_from_the_organisation_profile(database: Database, editor: Actor,
                                                    kb: KnowledgeBase) -> None:
    pid = _product(database, editor, kb)
    with database.transaction() as s:
        s.add(OrgProfile(org_id=editor.org_id, csirt_member_state="NL"))
        s.flush()
        case = article14.open_case(s, editor, pid, "incident", "x", AWARE)
        assert case.member_state == "NL"
        with pytest.raises(ValidationFailed, match="member state"):
            article14.open_case(s, editor, pid, "incident", "x", AWARE, member_state_code="GB")
        with pytest.raises(ValidationFailed, match="future"):
            article14.open_case(s, editor, pid, "incident", "x",
                                dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        with pytest.raises(ValidationFailed, match="vulnerability"):
            article14.open_case(s, editor, pid, "vulnerability", "x", AWARE)


def test_times_are_utc() -> None:
    assert parse_time("2026-09-12T10:00+02:00") == AWARE
    assert parse_time("2026-09-12T08:00") == AWARE
    with pytest.raises(ValidationFailed):
        parse_time("yesterday")


@SQLITE_ONLY
def test_drafts_and_closing(database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _product(database, editor, kb)
    with database.transaction() as s:
        case = article14.open_case(s, editor, pid, "vulnerability", "exploited", AWARE,
                                   vulnerability="CVE-2024-0001", member_state_code="DE",
                                   description="remote code execution in the web UI")
        early = article14.draft(s, editor, kb, case.id, "early-warning")
        assert early["requirement"] == "eu-cra:art-14:2:a"
        assert "DE" in early["content"]["member_states"]  # the router is sold in DE
        final = article14.draft(s, editor, kb, case.id, "final-report")
        assert {"severity", "impact", "malicious_actor", "security_update"} <= set(final["content"])
        assert "impact" in final["to_complete"]
        with pytest.raises(Conflict, match="final report"):
            article14.close(s, editor, case.id, None, "https://example.com/vex.json")
        article14.submit(s, editor, kb, case.id, "final-report", AWARE + dt.timedelta(days=5))
        closed = article14.close(s, editor, case.id, None, "https://example.com/vex.json")
        assert closed.closed_at is not None and closed.vex_reference.endswith("vex.json")
        assert article14.list_cases(s, editor, kb, open_only=True) == []


def test_draft_severity_prefers_the_computed_cvss_score() -> None:
    from prodsec.workspace.article14 import _severity

    scored = {"severity": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
              "cvss": {"version": "3.1", "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                       "base_score": 9.8, "base_severity": "CRITICAL"}}
    assert _severity(scored).startswith("9.8 CRITICAL (CVSS 3.1, CVSS:3.1/AV:N")
    assert _severity({"severity": "MODERATE", "cvss": None}) == "MODERATE"
    assert _severity({"severity": None, "cvss": None}) == ""
