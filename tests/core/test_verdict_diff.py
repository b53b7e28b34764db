"""The verdict diff of a profile edit, on the engine's own verdicts and on hand-made ones."""

from __future__ import annotations

import datetime as dt

from prodsec.core.applicability import Engine
from prodsec.core.knowledge import KnowledgeBase
from prodsec.core.profile import parse_profile
from prodsec.core.verdict_diff import diff_checks


def _check(kb: KnowledgeBase, **profile: object) -> dict[str, object]:
    raw = {"name": "Cam", "markets": ["EU"], "data_connection": True, "internet": True,
           "consumer": True, "radio": ["wifi"], "functions": ["security_camera"]} | profile
    return Engine(kb).check(parse_profile(raw, kb.vocabulary), dt.date(2026, 11, 27)).to_dict()


def test_no_change_no_diff(kb: KnowledgeBase) -> None:
    assert diff_checks(_check(kb), _check(kb)) == []


def test_leaving_the_eu_drops_cra_and_red(kb: KnowledgeBase) -> None:
    changes = {c["regulation"]: c for c in diff_checks(_check(kb), _check(kb, markets=["US"]))}
    assert "eu-cra" in changes and "eu-red-da" in changes
    status = next(f for f in changes["eu-cra"]["fields"] if f["field"] == "status")
    assert status["from"] in ("required", "upcoming") and status["to"] == "not-applicable"
    assert changes["eu-cra"]["obligations"]["removed"]
    assert not changes["eu-cra"]["requirements"]["added"]


def test_fields_obligations_and_requirements_from_to() -> None:
    before = {"results": [{"regulation": "x", "title": "X", "status": "required",
                           "category": "default", "assessment": "self", "applies_from": "2027",
                           "obligations": [{"id": "o1", "title": "One"}],
                           "requirements": {"prevention": ["r1", "r2"]}}]}
    after = {"results": [{"regulation": "x", "title": "X", "status": "required",
                          "category": "important-class-1", "assessment": "self",
                          "applies_from": "2027", "obligations": [{"id": "o2", "title": "Two"}],
                          "requirements": {"prevention": ["r2"], "handling": ["r3"]}}]}
    [change] = diff_checks(before, after)
    assert change["fields"] == [{"field": "class", "from": "default", "to": "important-class-1"}]
    assert change["obligations"] == {"added": [{"id": "o2", "label": "Two"}],
                                     "removed": [{"id": "o1", "label": "One"}]}
    assert change["requirements"] == {"added": [{"id": "r3", "label": "handling"}],
                                      "removed": [{"id": "r1", "label": "prevention"}]}
