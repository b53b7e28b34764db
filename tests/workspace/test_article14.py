"""CRA Article 14 cases: clocks from the knowledge base in UTC, statuses, drafts, closing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import OrgProfile
from prodsec.workspace import article14, article14_reports, audit, products
from prodsec.workspace.context import Actor, Conflict, NotFound, ValidationFailed
from prodsec.workspace.vex import parse_time

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
AWARE = dt.datetime(2026, 9, 12, 8, 0, tzinfo=dt.UTC)
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
USERS = {"users_informed": "all users of the affected releases",
         "users_informed_at": "2026-09-14T10:00:00Z",
         "users_information": "Security advisory with the update and a workaround",
         "users_machine_readable": "https://acme.example/.well-known/csaf/acme-2026-001.json"}
VULN_NOTIFICATION = {"product": "Fictinet AX3000 router, firmware 1.8.0",
                     "nature_of_exploit": "unauthenticated requests to the admin API",
                     "nature_of_vulnerability": "JWT audience check bypass",
                     "corrective_measures_taken": "admin API disabled on the WAN side",
                     "user_measures": "disable remote administration",
                     "sensitivity": "TLP:AMBER"}
VULN_FINAL = {"description": "JWT audience check bypass in jwt-go", "severity": "7.5 HIGH",
              "impact": "admin takeover", "malicious_actor": "not known",
              "security_update": "firmware 1.8.1", **USERS}
INCIDENT_NOTIFICATION = {"nature_of_incident": "a signed malicious update was pushed",
                         "initial_assessment": "build server compromised",
                         "corrective_measures_taken": "update channel suspended",
                         "user_measures": "do not install 2.3.4"}


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
    aware = dt.datetime(2026, 10, 29, 10, 0, tzinfo=dt.UTC)  # Art. 14 applies from 2026-09-11
    with database.transaction() as s:
        case = article14.open_case(s, editor, pid, "incident", "malicious update pushed", aware,
                                   member_state_code="FR")
        assert _stages(article14.case_view(s, kb, case, aware))["final-report"]["status"] == "pending"
        article14.submit(s, editor, kb, case.id, "notification",
                         dt.datetime(2026, 10, 31, 9, 0, tzinfo=dt.UTC),
                         content={**INCIDENT_NOTIFICATION, "unlawful_or_malicious_suspected": True},
                         includes=("early-warning",))
        stages = _stages(article14.case_view(s, kb, case, aware))
        assert stages["final-report"]["due"] == "2026-11-30T09:00:00Z"  # calendar month
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
        # the router is sold in "EU": where it has been made available is the person's to state
        assert early["content"]["member_states"] == []
        final = article14.draft(s, editor, kb, case.id, "final-report")
        assert {"severity", "impact", "malicious_actor", "security_update"} <= set(final["content"])
        assert "impact" in final["to_complete"]
        with pytest.raises(Conflict, match="final report"):
            article14.close(s, editor, case.id, None, "https://example.com/vex.json")
        article14.submit(s, editor, kb, case.id, "early-warning", AWARE + dt.timedelta(hours=2))
        article14.submit(s, editor, kb, case.id, "notification", AWARE + dt.timedelta(hours=30),
                         content=VULN_NOTIFICATION)
        article14.measure_available(s, editor, case.id, AWARE + dt.timedelta(days=4))
        article14.submit(s, editor, kb, case.id, "final-report", AWARE + dt.timedelta(days=5),
                         content=VULN_FINAL)
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


def _case(database: Database, editor: Actor, kb: KnowledgeBase, kind: str = "vulnerability") -> str:
    pid = _product(database, editor, kb)
    with database.transaction() as s:
        return article14.open_case(s, editor, pid, kind, "exploited", AWARE,
                                   vulnerability="CVE-2020-26160" if kind == "vulnerability"
                                   else None, member_state_code="DE").id


def test_stages_only_in_the_articles_order(database: Database, editor: Actor,
                                           kb: KnowledgeBase) -> None:
    """Both backends: a final report before the notification, a notification before the early
    warning, and a vulnerability final report before any corrective measure are refused with
    the reason; the refused submission leaves nothing behind."""
    case_id = _case(database, editor, kb)
    at = AWARE + dt.timedelta(hours=1)
    with database.transaction() as s:
        with pytest.raises(Conflict, match="out of order: the early-warning"):
            article14.submit(s, editor, kb, case_id, "notification", at, content=VULN_NOTIFICATION)
        with pytest.raises(Conflict, match="out of order: the early-warning"):
            article14.submit(s, editor, kb, case_id, "final-report", at, content=VULN_FINAL)
        assert article14.submissions_of(s, article14.get_case(s, editor, case_id)) == {}
        article14.submit(s, editor, kb, case_id, "early-warning", at)
    with database.transaction() as s:
        with pytest.raises(Conflict, match="out of order: the notification"):
            article14.submit(s, editor, kb, case_id, "final-report", at, content=VULN_FINAL)
        with pytest.raises(Conflict, match="submitted already"):
            article14.submit(s, editor, kb, case_id, "early-warning", at)
        draft = article14.draft(s, editor, kb, case_id, "final-report")
        assert draft["blocked"].startswith("out of order: the notification")
        article14.submit(s, editor, kb, case_id, "notification", at, content=VULN_NOTIFICATION)
        with pytest.raises(Conflict, match="corrective or mitigating measure"):
            article14.submit(s, editor, kb, case_id, "final-report", at, content=VULN_FINAL)
        article14.measure_available(s, editor, case_id, AWARE + dt.timedelta(days=2))
        with pytest.raises(Conflict, match="cannot precede the corrective"):
            article14.submit(s, editor, kb, case_id, "final-report", AWARE + dt.timedelta(days=1),
                             content=VULN_FINAL)
        article14.submit(s, editor, kb, case_id, "final-report", AWARE + dt.timedelta(days=3),
                         content=VULN_FINAL)
        stages = _stages(article14.case_view(s, kb, article14.get_case(s, editor, case_id)))
        assert {k: v["status"] for k, v in stages.items()} == dict.fromkeys(
            article14.STAGES, "submitted")


@SQLITE_ONLY
def test_a_report_may_include_a_neighbouring_stage(database: Database, editor: Actor,
                                                   kb: KnowledgeBase) -> None:
    """'Unless the relevant information has already been provided': a notification that gives
    the early warning's items covers both stages; a skip over a stage is refused."""
    case_id = _case(database, editor, kb, "incident")
    at = AWARE + dt.timedelta(hours=5)
    with database.transaction() as s:
        with pytest.raises(ValidationFailed, match="next to it"):
            article14.submit(s, editor, kb, case_id, "final-report", at,
                             includes=("early-warning",))
        with pytest.raises(ValidationFailed, match="unlawful_or_malicious_suspected"):
            article14.submit(s, editor, kb, case_id, "notification", at,
                             content=INCIDENT_NOTIFICATION, includes=("early-warning",))
        article14.submit(s, editor, kb, case_id, "notification", at, content={
            **INCIDENT_NOTIFICATION, "unlawful_or_malicious_suspected": False},
            includes=("early-warning",))
        sent = article14.submissions_of(s, article14.get_case(s, editor, case_id))
        assert set(sent) == {"early-warning", "notification"}
        assert sent["early-warning"].content == sent["notification"].content
        assert sent["notification"].content["stages"] == ["early-warning", "notification"]


@SQLITE_ONLY
def test_report_content_is_the_articles_items(database: Database, editor: Actor,
                                              kb: KnowledgeBase) -> None:
    """Each report carries the items of Art. 14(2)(a)-(c) / (4)(a)-(c) with their points and
    the Art. 14(8) information to users; a required item left empty, an unknown item or a
    wrongly typed one is refused naming the field."""
    case_id = _case(database, editor, kb)
    at = AWARE + dt.timedelta(hours=3)
    with database.transaction() as s:
        article14.submit(s, editor, kb, case_id, "early-warning", at)
        with pytest.raises(ValidationFailed, match="required items are empty: nature_of_exploit"):
            article14.submit(s, editor, kb, case_id, "notification", at,
                             content={**VULN_NOTIFICATION, "nature_of_exploit": ""})
        with pytest.raises(ValidationFailed, match=r"content\.favourite_colour"):
            article14.submit(s, editor, kb, case_id, "notification", at,
                             content={**VULN_NOTIFICATION, "favourite_colour": "blue"})
        with pytest.raises(ValidationFailed, match=r"content\.product: expected a string"):
            article14.submit(s, editor, kb, case_id, "notification", at,
                             content={**VULN_NOTIFICATION, "product": 3})
        article14.submit(s, editor, kb, case_id, "notification", at, content=VULN_NOTIFICATION)
        article14.measure_available(s, editor, case_id, at)
        with pytest.raises(ValidationFailed, match="users_informed"):
            article14.submit(s, editor, kb, case_id, "final-report", at,
                             content={k: v for k, v in VULN_FINAL.items() if k not in USERS})
        article14.submit(s, editor, kb, case_id, "final-report", at, content=VULN_FINAL)
        doc, _ = article14.submitted_report(s, editor, case_id, "final-report")
    points = {i["key"]: i["point"] for i in doc["items"]}
    assert points == {"description": "Art. 14(2)(c)(i)", "severity": "Art. 14(2)(c)(i)",
                      "impact": "Art. 14(2)(c)(i)", "malicious_actor": "Art. 14(2)(c)(ii)",
                      "security_update": "Art. 14(2)(c)(iii)"}
    assert {i["point"] for i in doc["information_to_users"]} == {"Art. 14(8)"}
    assert doc["vulnerability"] == "CVE-2020-26160" and "DE" in doc["recipient"]
    incident = {k: {i.key for i in article14_reports.ITEMS[("incident", k)]}
                for k in article14.STAGES}
    assert incident["early-warning"] == {"unlawful_or_malicious_suspected", "member_states"}
    assert incident["final-report"] >= {"threat_or_root_cause", "mitigation_applied_and_ongoing"}


def test_each_submission_is_audited_with_the_reports_hash(database: Database, editor: Actor,
                                                          kb: KnowledgeBase) -> None:
    """Both backends: the audit event names who and when and holds the SHA-256 of the exact
    bytes handed out as the report's JSON form."""
    case_id = _case(database, editor, kb)
    with database.transaction() as s:
        article14.submit(s, editor, kb, case_id, "early-warning", AWARE + dt.timedelta(hours=4),
                         reference="ENISA-7", content={"member_states": ["DE", "FR"]})
    with database.transaction() as s:
        doc, sha = article14.submitted_report(s, editor, case_id, "early-warning")
        event = next(e for e in audit.history(s, editor, case_id) if e["action"] == "case.submit")
    data = article14_reports.report_bytes(doc)
    assert hashlib.sha256(data).hexdigest() == sha == event["after"]["sha256"]
    assert event["actor"] == editor.email and event["after"]["submitted_by"] == editor.email
    assert event["after"]["submitted_at"] == "2026-09-12T12:00:00Z"
    assert json.loads(data)["items"][0]["value"] == ["DE", "FR"]


def test_every_member_state_can_open_a_case_and_none_is_assumed(database: Database,
                                                               editor: Actor,
                                                               kb: KnowledgeBase) -> None:
    """All 27 (TEU Art. 52), Hungary included, from the one vocabulary list: a case can be
    opened for each. An EU-wide product's early warning names none of them (review h16r m2):
    "EU" does not say where the product has been made available (Art. 14(2)(a))."""
    states = sorted(kb.vocabulary.market_groups["EU"])
    assert len(states) == 27 and "HU" in states
    pid = _product(database, editor, kb)
    with database.transaction() as s:
        for code in states:
            assert article14.member_state(s, editor, code.lower()) == code
        case = article14.open_case(s, editor, pid, "vulnerability", "t", AWARE,
                                   vulnerability="CVE-2020-26160", member_state_code="HU")
        known = article14._known(s, editor, case, products.get_product(s, editor, pid))
    assert known["member_states"] == []


@SQLITE_ONLY
def test_lateness_submission_times_and_frozen_measure(database: Database, editor: Actor,
                                                      kb: KnowledgeBase) -> None:
    """The h14 review's F7: a late stage says how late (submitted or still overdue); a
    submission time may be neither in the future nor before awareness; 'users informed at' is
    an ISO date-time; the corrective-measure date cannot move once the final report is in."""
    case_id = _case(database, editor, kb)
    with database.transaction() as s:
        with pytest.raises(ValidationFailed, match="in the future"):
            article14.submit(s, editor, kb, case_id, "early-warning",
                             dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        with pytest.raises(ValidationFailed, match="cannot precede awareness"):
            article14.submit(s, editor, kb, case_id, "early-warning",
                             AWARE - dt.timedelta(minutes=1))
        article14.submit(s, editor, kb, case_id, "early-warning",
                         AWARE + dt.timedelta(hours=53, minutes=54))  # 29.9 h after 24 h
        case = article14.get_case(s, editor, case_id)
        stages = _stages(article14.case_view(s, kb, case, AWARE + dt.timedelta(hours=80)))
    assert stages["early-warning"]["in_time"] is False
    assert stages["early-warning"]["late_hours"] == 29.9
    assert stages["notification"]["status"] == "overdue"
    assert stages["notification"]["late_hours"] == 8.0  # 72 h deadline, seen at 80 h
    at = AWARE + dt.timedelta(hours=81)
    with database.transaction() as s:
        article14.submit(s, editor, kb, case_id, "notification", at, content=VULN_NOTIFICATION)
        article14.measure_available(s, editor, case_id, at)
        for bad in ("filled users_informed_at", "2026-09-14", "2026-09-14T25:00Z"):
            with pytest.raises(ValidationFailed, match=r"content\.users_informed_at"):
                article14.submit(s, editor, kb, case_id, "final-report", at,
                                 content=VULN_FINAL | {"users_informed_at": bad})
        article14.submit(s, editor, kb, case_id, "final-report", at, content=VULN_FINAL)
    with database.transaction() as s, pytest.raises(Conflict, match="frozen"):
        article14.measure_available(s, editor, case_id, AWARE)
