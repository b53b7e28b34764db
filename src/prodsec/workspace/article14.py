"""CRA Article 14 reporting cases: the clocks, their status, the report drafts.

A case is an actively exploited vulnerability (Art. 14(1)-(2)) or a severe incident (Art.
14(3)-(4)), with the moment the manufacturer became aware. The deadlines are not written here:
they come from the knowledge base's requirement deadlines (``eu-cra:art-14:2:*`` and ``:4:*``:
hours, days or months and the event that starts each clock), so a correction to the knowledge
base corrects every case. All times are UTC. The report goes to the CSIRT designated as
coordinator of the member state of the manufacturer's main establishment (Art. 14(7)).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core import limits
from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.models import Article14Case, Article14Submission, OrgProfile, Product, utcnow
from prodsec.services.knowledge import eu_member_states
from prodsec.workspace import article14_reports as reports
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, Conflict, NotFound, ValidationFailed, bounded
from prodsec.workspace.products import _flush, get_product, writable

KINDS = ("vulnerability", "incident")
STAGES = ("early-warning", "notification", "final-report")
REQUIREMENTS = {
    "vulnerability": dict(zip(STAGES, ("eu-cra:art-14:2:a", "eu-cra:art-14:2:b",
                                       "eu-cra:art-14:2:c"), strict=True)),
    "incident": dict(zip(STAGES, ("eu-cra:art-14:4:a", "eu-cra:art-14:4:b",
                                  "eu-cra:art-14:4:c"), strict=True)),
}
# ---- clocks ---------------------------------------------------------------------------------


def deadline_rule(kb: KnowledgeBase, kind: str, stage: str) -> dict[str, Any]:
    """The knowledge base's deadline for one stage: period and starting event."""
    requirement = kb.requirement(REQUIREMENTS[kind][stage])
    deadlines = requirement.get("deadlines") or []
    if not deadlines:
        raise RuntimeError(f"{requirement['id']} has no deadline in the knowledge base")
    return {"requirement": requirement["id"], **deadlines[0]}


def _add(start: dt.datetime, rule: dict[str, Any]) -> dt.datetime:
    """Start plus the period; months and years are calendar ones, clamped to the month's last
    day (31 January + 1 month = 28/29 February), as Regulation 1182/71 counts them."""
    import calendar

    months = (rule.get("months") or 0) + 12 * (rule.get("years") or 0)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    moved = start.replace(year=year, month=month + 1, day=day)
    return moved + dt.timedelta(hours=rule.get("hours") or 0, days=rule.get("days") or 0)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; every time in a case is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def clocks(kb: KnowledgeBase, case: Article14Case, submissions: dict[str, Article14Submission],
           now: dt.datetime) -> list[dict[str, Any]]:
    """Each stage: due time (None while its starting event has not happened) and status —
    submitted (with time, and whether in time), overdue, due, pending, or withdrawn (the case
    was opened in error: no due time)."""
    starts = {"awareness": _utc(case.aware_at),
              "corrective-or-mitigating-measure-available": _utc(case.measure_available_at),
              "incident-notification-submitted": _utc(submissions["notification"].submitted_at)
              if "notification" in submissions else None}
    result = []
    for stage in STAGES:
        rule = deadline_rule(kb, case.kind, stage)
        start = starts.get(rule["from_event"])
        due = _add(start, rule) if start else None
        sent = submissions.get(stage)
        if case.withdrawn_at is not None:
            due = None  # opened in error: no clock runs
        entry = {"stage": stage, "requirement": rule["requirement"], "from_event": rule["from_event"],
                 "due": _iso(due), "submitted_at": _iso(_utc(sent.submitted_at)) if sent else None}
        if sent is not None:
            at = _utc(sent.submitted_at)
            entry["status"] = "submitted"
            entry["in_time"] = due is None or (at is not None and at <= due)
            if due is not None and at is not None and at > due:
                entry["late_hours"] = _hours(at - due)
        elif case.withdrawn_at is not None:
            entry["status"] = "withdrawn"
        elif due is None:
            entry["status"] = "pending"
        else:
            entry["status"] = "overdue" if now > due else "due"
            entry["remaining_hours"] = _hours(due - now)
            if now > due:
                entry["late_hours"] = _hours(now - due)
        result.append(entry)
    return result


def _hours(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


def _iso(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


# ---- cases ----------------------------------------------------------------------------------


def member_state(session: Session, actor: Actor, explicit: str | None) -> str:
    """The member state of the main establishment: given, else the organisation profile's."""
    value = (explicit or "").strip().upper()
    if not value:
        profile = session.scalar(select(OrgProfile).where(OrgProfile.org_id == actor.org_id))
        value = (profile.csirt_member_state if profile else "").upper()
    if value and value not in eu_member_states():
        raise ValidationFailed("member_state", f"{value!r}: expected an EU member state code "
                               "(the manufacturer's main establishment), e.g. DE")
    return value


def open_case(session: Session, actor: Actor, product_ref: str, kind: str, title: str,
              aware_at: dt.datetime, *, vulnerability: str | None = None,
              member_state_code: str | None = None, description: str = "",
              kb: KnowledgeBase | None = None) -> Article14Case:
    """Record an actively exploited vulnerability or a severe incident; the clocks start at
    ``aware_at`` (which may be in the past: awareness is when it happened, not when typed).
    Refused where Article 14 does not bind the product on that day (``require_reporting``);
    ``kb`` defaults to the shipped knowledge base."""
    from prodsec.services.knowledge import knowledge_base

    actor.require("editor")
    if kind not in KINDS:
        raise ValidationFailed("kind", f"{kind!r}: expected vulnerability or incident")
    if kind == "vulnerability" and not vulnerability:
        raise ValidationFailed("vulnerability", "an actively exploited vulnerability needs its id")
    bounded("title", title.strip(), limits.REPORT_TITLE, required=True)
    bounded("description", description, limits.TEXT)
    bounded("vulnerability", vulnerability or "", limits.VULNERABILITY_ID)
    aware = _utc(aware_at)
    assert aware is not None
    if aware > utcnow() + dt.timedelta(minutes=5):
        raise ValidationFailed("aware_at", "is in the future")
    product = writable(get_product(session, actor, product_ref))
    require_reporting(kb or knowledge_base(), product, aware)
    case = Article14Case(org_id=actor.org_id, product_id=product.id, kind=kind, title=title.strip(),
                         vulnerability=vulnerability, aware_at=aware,
                         member_state=member_state(session, actor, member_state_code),
                         description=description)
    session.add(case)
    session.flush()
    audit.record(session, actor, "case.open", "article14-case", case.id, None, _facts(case))
    return case


def require_reporting(kb: KnowledgeBase, product: Product, aware: dt.datetime) -> None:
    """Refuse a case Article 14 cannot ask for: awareness before the reporting obligation
    applies (the knowledge base's ``reporting`` obligation date, 2026-09-11), or a product
    whose CRA verdict on the day of awareness is ``not-applicable`` — the same verdict the
    product page shows, with its decisive reasons and their articles."""
    from prodsec.workspace.products import verdicts_on

    reg = kb.regulation("eu-cra")
    reporting = next(ob for ob in reg["applicability"]["obligations"] if ob["id"] == "reporting")
    day = aware.date()
    start = dt.date.fromisoformat(str(reporting["applies_from"]))
    if day < start:
        raise ValidationFailed("aware_at", (
            f"awareness on {day} precedes {start}, when the CRA's reporting obligations apply "
            f"({kb.cite(reporting['citation'], reg)}): no Article 14 case before then"))
    verdict = verdicts_on(kb, product, day).get("eu-cra")
    if verdict is None or verdict.status != "not-applicable":
        return
    why = "; ".join(f"{r.text} ({r.citation})" if r.citation else r.text
                    for r in verdict.reasons if r.holds is not None and r.decisive)
    raise ValidationFailed("product", (
        f"the CRA does not apply to {product.name!r} on {day} (its eu-cra verdict is "
        f"not-applicable: {why or 'out of scope'}), so Article 14 asks for no report and no "
        "case can be opened"))


def _facts(case: Article14Case) -> dict[str, Any]:
    return {"kind": case.kind, "title": case.title, "product_id": case.product_id,
            "vulnerability": case.vulnerability, "aware_at": _iso(_utc(case.aware_at)),
            "measure_available_at": _iso(_utc(case.measure_available_at)),
            "member_state": case.member_state, "csaf_document_id": case.csaf_document_id,
            "vex_reference": case.vex_reference, "closed_at": _iso(_utc(case.closed_at)),
            "withdrawn_at": _iso(_utc(case.withdrawn_at)), "withdrawn_by": case.withdrawn_by,
            "withdrawal_reason": case.withdrawal_reason}


def get_case(session: Session, actor: Actor, case_id: str) -> Article14Case:
    """A case by id (or a unique id prefix of 8+ characters), organisation-scoped."""
    query = select(Article14Case).where(Article14Case.org_id == actor.org_id)
    rows = list(session.scalars(query.where(Article14Case.id == case_id)))
    if not rows and len(case_id) >= 8:
        rows = list(session.scalars(query.where(Article14Case.id.startswith(case_id))))
    if len(rows) != 1:
        raise NotFound(f"no case {case_id!r}")
    return rows[0]


def submissions_of(session: Session, case: Article14Case) -> dict[str, Article14Submission]:
    """The case's submitted reports by stage."""
    return {s.stage: s for s in session.scalars(select(Article14Submission).where(
        Article14Submission.org_id == case.org_id, Article14Submission.case_id == case.id))}


def measure_available(session: Session, actor: Actor, case_id: str, at: dt.datetime) -> Article14Case:
    """A corrective or mitigating measure is available: starts the vulnerability final-report
    clock (14 days in the knowledge base)."""
    actor.require("editor")
    case = get_case(session, actor, case_id)
    _refuse_if_withdrawn(case)
    if "final-report" in submissions_of(session, case):
        raise Conflict("the final report is submitted: the corrective-measure date its "
                       "deadline ran from is frozen (Art. 14(2)(c))", precondition=False)
    before = _facts(case)
    case.measure_available_at = _utc(at)
    _flush(session, case)
    audit.record(session, actor, "case.measure", "article14-case", case.id, before, _facts(case))
    return case


def submit(session: Session, actor: Actor, kb: KnowledgeBase, case_id: str, stage: str,
           at: dt.datetime | None = None, reference: str = "",
           content: dict[str, Any] | None = None,
           includes: tuple[str, ...] = ()) -> Article14Submission:
    """Submit a stage's report (at ``at``, default now): refused out of order (``Conflict``,
    with the reason) or with a required item empty (``ValidationFailed``). ``includes`` names
    neighbouring stages whose items this report also gives, the one skip the Article allows
    ("unless the relevant information has already been provided", Art. 14(2)(b)-(c) and
    (4)(b)-(c)): each covered stage is recorded as submitted with the same report. The report's
    JSON form is stored, and the audit trail records who, when and its SHA-256."""
    actor.require("editor")
    stages = _covered(stage, includes)
    case = get_case(session, actor, case_id)
    _refuse_if_withdrawn(case)
    when = _utc(at) or utcnow()
    if when < (_utc(case.aware_at) or when):
        raise ValidationFailed("at", "a report cannot precede awareness")
    if when > utcnow():
        raise ValidationFailed("at", f"{_iso(when)} is in the future: give the time the report "
                               "was actually submitted")
    problem = order_problem(case, submissions_of(session, case), stages, when)
    if problem:
        raise Conflict(problem, precondition=False)
    fields = reports.check_fields(case.kind, stages, content if content is not None
                                  else draft(session, actor, kb, case.id, stage)["content"])
    empty = reports.missing(case.kind, stages, fields)
    if empty:
        raise reports.ItemsMissing(empty)
    doc = reports.report(_header(session, actor, case, when), case.kind, stages, fields)
    digest = reports.sha256(doc)
    row = None
    for covered in stages:
        row = Article14Submission(org_id=actor.org_id, case_id=case.id, stage=covered,
                                  submitted_at=when, content=doc, reference=reference,
                                  submitted_by=actor.email)
        session.add(row)
    session.flush()
    audit.record(session, actor, "case.submit", "article14-case", case.id, None,
                 {"stage": stage, "stages": stages, "submitted_at": _iso(when),
                  "submitted_by": actor.email, "reference": reference, "sha256": digest})
    assert row is not None
    return row


def _covered(stage: str, includes: tuple[str, ...]) -> list[str]:
    for name in (stage, *includes):
        if name not in STAGES:
            raise ValidationFailed("stage", f"{name!r}: expected one of {', '.join(STAGES)}")
    covered = sorted({stage, *includes}, key=STAGES.index)
    positions = [STAGES.index(s) for s in covered]
    if positions != list(range(positions[0], positions[-1] + 1)):
        raise ValidationFailed("includes", "a report can only include the stages next to it "
                               f"(got {', '.join(covered)})")
    return covered


def order_problem(case: Article14Case, done: dict[str, Article14Submission],
                  stages: list[str], when: dt.datetime) -> str | None:
    """Why these stages cannot be submitted now, or None. Stages go in the Article's order
    (early warning, notification, final report); one may only be left out when a later report
    includes its items. A vulnerability's final report follows a corrective or mitigating
    measure (Art. 14(2)(c): it details the update, and its 14 days run from it)."""
    again = [s for s in stages if s in done]
    if again:
        return f"the {again[0]} of this case was submitted already"
    first = STAGES.index(stages[0])
    before = [s for s in STAGES[:first] if s not in done]
    if before:
        return (f"out of order: the {before[0]} of this case has not been submitted; submit it "
                f"first, or include its items in this report (includes: {', '.join(before)})")
    if case.kind == "vulnerability" and "final-report" in stages:
        measure = _utc(case.measure_available_at)
        if measure is None:
            return ("the final report follows a corrective or mitigating measure (Art. 14(2)(c)): "
                    "record when one became available first (prodsec case measure)")
        if when < measure:
            return "the final report cannot precede the corrective or mitigating measure"
    return None


def _header(session: Session, actor: Actor, case: Article14Case,
            when: dt.datetime | None) -> dict[str, Any]:
    """Who reports what to whom: the fixed part of every report of the case."""
    from prodsec.workspace.csaf_author import publisher_name

    product = session.get(Product, case.product_id)
    return {"case": case.id, "title": case.title, "vulnerability": case.vulnerability,
            "manufacturer": publisher_name(session, actor),
            "manufacturer_member_state": case.member_state,
            "product_name": product.name if product else "", "aware_at": _iso(_utc(case.aware_at)),
            "submitted_at": _iso(when), "recipient": _csirt(case.member_state)}


def submitted_report(session: Session, actor: Actor, case_id: str,
                     stage: str) -> tuple[dict[str, Any], str]:
    """A stage's report exactly as submitted, with the SHA-256 the audit trail holds."""
    case = get_case(session, actor, case_id)
    sent = submissions_of(session, case).get(stage)
    if sent is None:
        raise NotFound(f"the {stage} of this case has not been submitted")
    return sent.content, reports.sha256(sent.content)


def close(session: Session, actor: Actor, case_id: str, csaf_ref: str | None,
          vex_reference: str = "") -> Article14Case:
    """Close a case once its final report is in, linking the advisory and VEX that close it."""
    from prodsec.workspace.csaf_author import get_document

    actor.require("editor")
    case = get_case(session, actor, case_id)
    _refuse_if_withdrawn(case)
    if "final-report" not in submissions_of(session, case):
        raise Conflict("submit the final report before closing the case", precondition=False)
    before = _facts(case)
    if csaf_ref:
        case.csaf_document_id = get_document(session, actor, csaf_ref).id
    case.vex_reference, case.closed_at = vex_reference, utcnow()
    _flush(session, case)
    audit.record(session, actor, "case.close", "article14-case", case.id, before, _facts(case))
    return case


def withdraw(session: Session, actor: Actor, case_id: str, reason: str) -> Article14Case:
    """Withdraw a case opened in error (the wrong product, no exploitation after all): refused
    once any report is submitted, for that report is the record of a legal obligation. The
    case stays, with who withdrew it, when and why, in the audit trail too; its clocks stop
    (``closed_at``), so it is never overdue and notifies nobody."""
    actor.require("editor")
    text = reason.strip()
    bounded("reason", text, limits.TEXT, required=True)
    case = get_case(session, actor, case_id)
    refusal = _withdrawal_refused(session, case)
    if refusal:
        raise Conflict(refusal, precondition=False)
    before = _facts(case)
    now = utcnow()
    case.withdrawn_at, case.withdrawn_by, case.withdrawal_reason = now, actor.email, text
    case.closed_at = now
    _flush(session, case)
    audit.record(session, actor, "case.withdraw", "article14-case", case.id, before, _facts(case))
    return case


def _withdrawal_refused(session: Session, case: Article14Case) -> str | None:
    if case.withdrawn_at is not None:
        return (f"the case was withdrawn by {case.withdrawn_by} at "
                f"{_iso(_utc(case.withdrawn_at))} already")
    sent = submissions_of(session, case)
    if sent:
        return (f"its {', '.join(s for s in STAGES if s in sent)} was submitted: a submitted "
                "report is the record of a legal obligation, so the case cannot be withdrawn")
    if case.closed_at is not None:
        return "the case is closed"
    return None


def _refuse_if_withdrawn(case: Article14Case) -> None:
    """A withdrawn case takes no report, measure or closing: it was opened in error."""
    if case.withdrawn_at is not None:
        raise Conflict(f"the case was withdrawn at {_iso(_utc(case.withdrawn_at))} "
                       f"({case.withdrawal_reason})", precondition=False)


# ---- views and drafts -----------------------------------------------------------------------


def case_view(session: Session, kb: KnowledgeBase, case: Article14Case,
              now: dt.datetime | None = None) -> dict[str, Any]:
    """A case with its clocks (UTC) and the next deadline."""
    sent = submissions_of(session, case)
    stages = clocks(kb, case, sent, _utc(now) or utcnow())
    product = session.get(Product, case.product_id)
    open_due = [s for s in stages if s["status"] in ("due", "overdue")]
    return {"id": case.id, **_facts(case), "product": product.name if product else None,
            "csirt": _csirt(case.member_state), "stages": stages,
            "next_due": open_due[0] if open_due else None,
            "overdue": any(s["status"] == "overdue" for s in stages),
            "status": _status(case),
            "submissions": [{"stage": s.stage, "submitted_at": _iso(_utc(s.submitted_at)),
                             "reference": s.reference, "submitted_by": s.submitted_by,
                             "sha256": reports.sha256(s.content)}
                            for s in sent.values()]}


def _status(case: Article14Case) -> str:
    """open, closed (its final report in) or withdrawn (opened in error)."""
    if case.withdrawn_at is not None:
        return "withdrawn"
    return "open" if case.closed_at is None else "closed"


def _csirt(code: str) -> str:
    if not code:
        return ("unknown: set the member state of the manufacturer's main establishment "
                "(organisation profile csirt_member_state, or --member-state)")
    return f"the CSIRT designated as coordinator by {code}, via ENISA's single reporting platform"


def list_cases(session: Session, actor: Actor, kb: KnowledgeBase, open_only: bool = False,
               now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every case of the organisation, overdue first, then by awareness."""
    query = select(Article14Case).where(Article14Case.org_id == actor.org_id)
    if open_only:
        query = query.where(Article14Case.closed_at.is_(None))
    views = [case_view(session, kb, c, now) for c in session.scalars(query.order_by(Article14Case.aware_at))]
    return sorted(views, key=lambda v: not v["overdue"])


def draft(session: Session, actor: Actor, kb: KnowledgeBase, case_id: str, stage: str,
          includes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The report a stage requires, its items pre-filled from the workspace: ``content`` is
    the editable fields (submit them back, completed), ``to_complete`` the required ones still
    empty, ``report`` the JSON form as it would be sent, ``blocked`` why it cannot be sent yet
    (out of order), or None."""
    stages = _covered(stage, includes)
    case = get_case(session, actor, case_id)
    product = session.get(Product, case.product_id)
    requirement = kb.requirement(REQUIREMENTS[case.kind][stage])
    known = _known(session, actor, case, product)
    content = {i.key: known.get(i.key, [] if i.kind == "list" else None if i.kind == "bool"
                                else "")
               for i in reports.items_of(case.kind, stages)}
    return {"stage": stage, "stages": stages, "requirement": requirement["id"],
            "obligation": requirement["text"], "recipient": _csirt(case.member_state),
            "content": content, "to_complete": reports.missing(case.kind, stages, content),
            "blocked": order_problem(case, submissions_of(session, case), stages, utcnow()),
            "report": reports.report(_header(session, actor, case, None), case.kind, stages,
                                     content)}


def _known(session: Session, actor: Actor, case: Article14Case,
           product: Product | None) -> dict[str, Any]:
    """Draft fields the workspace can answer: markets, product, severity and fixes. Only the
    Member States the profile names one by one are pre-filled: "EU" says the product is sold
    in the Union, not where it has been made available (Art. 14(2)(a) asks for what the
    manufacturer knows), so the person states them."""
    profile: dict[str, Any] = product.profile if product else {}
    states = sorted(set(profile.get("markets") or ()) & eu_member_states())
    known: dict[str, Any] = {"member_states": states,
                             "product": product.name if product else "",
                             "description": case.description}
    if case.kind == "vulnerability" and product is not None:
        known |= _from_findings(session, actor, product, case.vulnerability or "")
    return known


def _severity(finding: dict[str, Any]) -> str:
    """"9.8 CRITICAL (CVSS 3.1, vector)" when the advisory's vector scores, else its own word."""
    cvss = finding.get("cvss")
    if cvss:
        return (f"{cvss['base_score']:.1f} {cvss['base_severity']} "
                f"(CVSS {cvss['version']}, {cvss['vector']})")
    return str(finding["severity"] or "")


def _from_findings(session: Session, actor: Actor, product: Product, vid: str) -> dict[str, Any]:
    from prodsec.workspace.vulnerabilities import list_findings

    hits = [f for f in list_findings(session, actor, product.id)
            if vid == f["vulnerability"] or vid in f["aliases"]]
    if not hits:
        return {}
    fixed = sorted({v for f in hits for v in f["fixed"]})
    return {"nature_of_vulnerability": hits[0]["summary"] or "",
            "severity": _severity(hits[0]),
            "affected_components": sorted({f"{f['component']} ({f['release']})" for f in hits}),
            "security_update": f"fixed in {', '.join(fixed)}" if fixed else ""}
