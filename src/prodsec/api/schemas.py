"""The API's request and response models.

Response models mirror the service view dicts (``product_view``, ``status_view``, the gap
analysis …) field for field, so the CLI's JSON, the API and the web UI show the same content:
a route builds the view with the service function and validates it into one of these. Deeply
nested knowledge-base structures (citations, conformity routes) stay ``dict[str, Any]``: they
are data, documented in docs/knowledge-authoring.md, not an API contract of their own.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from prodsec.core import limits
from prodsec.core.verdict_view import VerdictView

T = TypeVar("T")
Text = Annotated[str, StringConstraints(max_length=limits.TEXT)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=limits.NAME)]
StatusName = Literal["not-started", "in-progress", "met", "not-met", "not-applicable"]
Role = Literal["admin", "editor", "viewer"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` from ``offset``, ``total`` over all pages."""

    items: list[T]
    total: int
    limit: int
    offset: int


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` names each invalid field (422)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = Field(default=None, description=(
        "What went wrong, as a stable name (prodsec.errors: e.g. not-found, conflict, "
        "precondition-failed, validation-failed, too-large, permission-denied)."))
    errors: list[FieldError] | None = None


class FieldError(BaseModel):
    field: str
    message: str


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


# ---- auth ---------------------------------------------------------------------------------


class LoginIn(Model):
    email: Annotated[str, StringConstraints(min_length=3, max_length=limits.EMAIL)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    organisation: Annotated[str | None, StringConstraints(max_length=200)] = Field(
        default=None, description="For an account in several organisations: which one.")


class Me(BaseModel):
    user_id: str
    email: str
    org_id: str
    role: Role


class LoginOut(Me):
    csrf_token: str
    expires_at: dt.datetime


Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class PasswordChangeIn(Model):
    """The policy (15+ characters, not a common password, …) is checked by the service."""

    current_password: Password
    new_password: Password


class PasswordResetIn(Model):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    new_password: Password


class PasswordResetOut(BaseModel):
    """The one-time secret the member sets a new password with; shown only here."""

    token: str
    expires_at: dt.datetime


# ---- products and releases ----------------------------------------------------------------


class Release(BaseModel):
    id: str
    product_id: str
    version_label: str
    placed_on_market: dt.date | None
    support_end: dt.date | None
    support_rationale: str
    expected_use_months: int | None = None
    version: int


class Product(BaseModel):
    id: str
    name: str
    profile: dict[str, Any]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    archived_at: dt.datetime | None = Field(
        None, description="When archived (hidden from the portfolio, read-only); null if not.")
    releases: list[Release]


class ProductPage(Page[Product]):
    """A page of products; ``next_after`` is the cursor of the next page (None on the last)."""

    next_after: str | None = None


class ProductIn(Model):
    """A product is its v1 profile (see ``prodsec schema profile``)."""

    profile: dict[str, Any]


class ReleaseIn(Model):
    version_label: Annotated[str, StringConstraints(min_length=1, max_length=limits.VERSION)]
    placed_on_market: dt.date | None = None
    support_end: dt.date | None = None
    support_rationale: Text = ""
    #: CRA Art. 13(8): needed (with the rationale) when the support period is under five years
    expected_use_months: Annotated[int, Field(ge=1, le=1200)] | None = None


class ReleasePatch(Model):
    version_label: Annotated[str, StringConstraints(min_length=1, max_length=limits.VERSION)] | None = None
    placed_on_market: dt.date | None = None
    support_end: dt.date | None = None
    support_rationale: Text | None = None
    expected_use_months: Annotated[int, Field(ge=1, le=1200)] | None = None


# ---- assessments and statuses -------------------------------------------------------------


class RequirementStatus(BaseModel):
    id: str
    requirement: str
    category: str
    status: StatusName
    justification: str
    version: int
    updated_at: dt.datetime
    updated_by: str | None


class Assessment(BaseModel):
    id: str
    product_id: str
    regulation: str
    as_of: dt.date
    status: str
    category: str | None
    assessment: str | None
    applies_from: dt.date | None
    stale: bool
    kb_version: str
    created_at: dt.datetime
    reasons: list[dict[str, Any]]
    requirements: list[RequirementStatus] | None = None


class AssessIn(Model):
    as_of: dt.date | None = Field(None, description="Assess as of this date (default: today).")


class StatusPatch(Model):
    status: StatusName
    justification: Text | None = Field(
        None, description="Required (here or already stored) for not-applicable.")


class EvidenceLinkIn(Model):
    evidence_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


# ---- evidence and controls ----------------------------------------------------------------


class Evidence(BaseModel):
    id: str
    title: str
    kind: Literal["file", "url"]
    sha256: str | None
    filename: str | None
    media_type: str | None
    size: int | None
    url: str | None
    version_label: str
    owner: str
    expires_on: dt.date | None
    created_at: dt.datetime


class EvidenceUrlIn(Model):
    title: Annotated[str, StringConstraints(min_length=1, max_length=limits.TITLE)]
    url: Annotated[str, StringConstraints(min_length=8, max_length=limits.URL)]
    owner: Annotated[str, StringConstraints(max_length=limits.NAME)] = ""
    version_label: Annotated[str, StringConstraints(min_length=1, max_length=limits.VERSION)] = "1"
    expires_on: dt.date | None = None


class EvidenceUpdate(Model):
    expires_on: dt.date | None = Field(description="The new expiry date, or null for none.")


class Control(BaseModel):
    id: str
    name: str
    description: str
    owner: str
    requirements: list[str]
    version: int


class ControlIn(Model):
    name: Name
    requirements: list[Annotated[str, StringConstraints(max_length=limits.REQUIREMENT_ID)]] = Field(max_length=500)
    description: Text = ""
    owner: Annotated[str, StringConstraints(max_length=limits.NAME)] = ""


class ControlPatch(Model):
    name: Name | None = None
    requirements: list[Annotated[str, StringConstraints(max_length=limits.REQUIREMENT_ID)]] | None = Field(
        None, max_length=500)
    description: Text | None = None
    owner: Annotated[str, StringConstraints(max_length=limits.NAME)] | None = None


# ---- gaps ---------------------------------------------------------------------------------


class ReleaseDue(BaseModel):
    release: str
    placed_on_market: dt.date
    due: Literal["overdue", "upcoming", "not-reached"]
    due_from: dt.date | None = Field(description=(
        "When the requirement became (or becomes) due for this release: the later of its "
        "placing on the market and the obligation's date; null when not reached."))


class MissingRequirement(BaseModel):
    requirement: str
    category: str
    status: str
    title: str
    applies_from: dt.date | None = Field(
        default=None, description="The date the requirement's own obligation applies from.")
    due: Literal["overdue", "upcoming", "unplaced", "not-reached", "standing",
                 "for-label"] | None = Field(
        default=None, description=(
            "Measured per release (``releases``). overdue: a mandatory duty that applies to a "
            "release already placed on the market and is open (a missed date); upcoming: it "
            "does not apply yet, or only to releases placed later; unplaced: in force, but no "
            "release has a placing date; not-reached: its obligation ended before every "
            "release was first placed; standing: an event-triggered duty in force (CRA Art. "
            "14), nothing late until an event; for-label: only a condition of a voluntary "
            "label, never missed."))
    due_from: dt.date | None = Field(default=None, description=(
        "overdue: the date it became due for the first placed release; upcoming: when it "
        "becomes due."))
    releases: list[ReleaseDue] = Field(default_factory=list)


class KnowledgeChange(BaseModel):
    id: str
    date: dt.date
    act: str
    summary: str


class KnowledgeChangeEntry(BaseModel):
    id: str
    date: dt.date
    act: str
    summary: str
    instruments: list[str]
    facts: list[str]
    functions: list[str]
    encoded: dt.date
    citation: str | None


class KnowledgeChanges(BaseModel):
    law_as_of: dt.date | None
    since: dt.date | None = Field(
        default=None, description="Filter: the law changed (took effect) on or after this date.")
    recorded_since: dt.date | None = Field(
        default=None, description="Filter: recorded in the knowledge base on or after this date.")
    changes: list[KnowledgeChangeEntry]


class InstrumentGaps(BaseModel):
    regulation: str
    status: str
    category: str | None
    applies_from: dt.date | None
    stale: bool
    total: int
    done: int
    percent_met: float
    by_status: dict[str, int]
    by_category: dict[str, dict[str, int]]
    missing: list[MissingRequirement]
    overdue: int = 0
    upcoming: int = 0
    standing: int = Field(default=0, description="Open event-triggered duties in force (Art. 14).")
    for_label: int = Field(default=0, description="Open conditions of a voluntary label.")
    unplaced: int = Field(default=0, description="Open duties in force, no release placed yet.")
    not_reached: int = Field(default=0, description="Open duties that reach no release.")
    does_not_reach: str | None = Field(default=None, description=(
        "Why the instrument reaches none of the product's releases (its obligations ended "
        "before they were placed on the market), with the citation; null otherwise."))
    overdue_since: dt.date | None = None
    next_date: dt.date | None = None
    changes: list[KnowledgeChange] = Field(
        default_factory=list, description="Knowledge changes since a stale assessment that touch it.")
    status_was: str | None = None
    status_now: str | None = None


class ExpiringEvidence(BaseModel):
    evidence: str
    title: str
    expires_on: dt.date
    expired: bool
    status_id: str | None


class Placing(BaseModel):
    release: str
    placed: dt.date | None = Field(description="Placed on the market (null: not recorded).")


class ProductGaps(BaseModel):
    product: str
    product_id: str
    as_of: dt.date
    releases: list[Placing] = Field(default_factory=list, description=(
        "The releases every date is measured against."))
    law_as_of: dt.date | None = None
    instruments: list[InstrumentGaps]
    expiring_evidence: list[ExpiringEvidence]


class InstrumentSummary(BaseModel):
    regulation: str
    status: str
    percent_met: float
    total: int
    done: int
    stale: bool


class ProductSummary(BaseModel):
    product: str
    instruments: list[InstrumentSummary]
    expiring_evidence: int


class ControlValue(BaseModel):
    control: str
    closes: int
    product_requirements: int
    regimes: list[str]
    requirements: list[str]


class MissedDate(BaseModel):
    product: str
    product_id: str | None = None
    regulation: str
    applies_from: dt.date | None
    open: int


class PortfolioGaps(BaseModel):
    as_of: dt.date
    products: list[ProductSummary]
    controls: list[ControlValue]
    missed_dates: list[MissedDate] = Field(
        description=("Instruments with open requirements of releases placed on the market "
                     "by as_of, past the date they became due (``due: overdue``)."))
    upcoming_dates: list[MissedDate] = Field(
        default_factory=list,
        description="Open requirements that do not apply yet, with the next date they do.")
    law_as_of: dt.date | None = Field(default=None, description="The knowledge base's law-as-of date.")


# ---- audit --------------------------------------------------------------------------------


class AuditEvent(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    before: Any
    after: Any
    hash: str


class ChainReport(BaseModel):
    org_id: str
    events: int
    ok: bool
    problems: list[str]
    unkeyed: int = 0  # events from before the chain was keyed (plain SHA-256)
    wrong_key: bool = False  # keyed with another secret key than the server's
    authenticated: bool = True  # ok, and no event unkeyed or before an unverified restore
    unauthenticated: int = 0  # events unkeyed or older than an unverified restore
    restored_unverified_at: int | None = None  # seq of the last unverified restore's event


# ---- users and tokens ---------------------------------------------------------------------


class Member(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    active: bool
    created_at: dt.datetime


class MemberIn(Model):
    """An invitation: ``password`` is the account's first password if the address has no
    account yet (required, and checked against the policy, either way)."""

    email: Annotated[str, StringConstraints(min_length=3, max_length=limits.EMAIL)]
    role: Role = "editor"
    name: Annotated[str, StringConstraints(max_length=limits.NAME)] = ""
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None


class InvitationOut(BaseModel):
    """A pending invitation; the same fields whether or not the address has an account."""

    id: str
    email: str
    organisation: str
    role: Role
    status: str
    invited_by: str
    expires_at: dt.datetime


class RoleIn(Model):
    role: Role


class Device(BaseModel):
    """A remembered sign-in device (``workspace.devices``): while remembered, its cookie
    exempts its sign-ins from the account's back-off; revoke it if it is lost."""

    id: str
    label: str
    signed_in_at: dt.datetime
    expires_at: dt.datetime
    current: bool


class Token(BaseModel):
    id: str
    name: str
    prefix: str
    user: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked: bool


class TokenIn(Model):
    email: Annotated[str, StringConstraints(min_length=3, max_length=limits.EMAIL)]
    name: Name = "api"
    days: int = Field(365, ge=1, le=3650)


class TokenCreated(Token):
    token: str = Field(description="The secret: shown once, stored only as a hash.")


# ---- knowledge and check ------------------------------------------------------------------


class RegulationSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    short_name: str | None
    legal_reference: str | None
    jurisdiction: str | None
    markets: list[str]
    kind: str
    binding: str
    product_level: bool | None
    rigor: int | None
    strategy: str | None
    conformity: list[dict[str, Any]]
    scope: dict[str, Any] | None
    dates: list[dict[str, Any]]
    standards: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    verified: bool | None
    requirement_counts: dict[str, int]


class Requirement(BaseModel):
    id: str
    document: str
    title: str
    text: str
    category: str
    kind: str
    role: str | None
    status: str | None
    condition: Any
    params: dict[str, Any]
    deadlines: list[Any]
    citation: str
    url: str | None
    verified: bool


class Regulation(RegulationSummary):
    requirements: dict[str, list[Requirement]]
    lists: Any
    applicability: Any


class RelatedRequirement(BaseModel):
    requirement: str
    relation: str
    hops: int
    via: list[str]
    confidence: str | None
    document: str
    title: str
    category: str
    citation: str
    mapping_citations: list[str]


class Mappings(BaseModel):
    requirement: Requirement
    related: list[RelatedRequirement]


class StandardReference(BaseModel):
    regulation: str
    relation: str


class Standard(BaseModel):
    id: str
    title: str
    short_name: str | None
    publisher: str | None
    version: str | None
    status: str | None
    published: Any
    url: str | None
    text: str | None
    verified: bool | None
    provisions: int
    referenced_by: list[StandardReference]
    oj_listings: list[dict[str, Any]] = []


class CheckResult(BaseModel):
    product: str
    as_of: dt.date
    law_as_of: dt.date | None = None
    results: list[VerdictView] = Field(description="One verdict per instrument: the one verdict "
                                       "type of every face (core.verdict_view).")
    comply_once: list[dict[str, Any]]


class CheckIn(Model):
    profile: dict[str, Any]
    as_of: dt.date | None = None


Problem.model_rebuild()


# ---- comparison ------------------------------------------------------------------------------


class ComparisonCell(BaseModel):
    value: str | int | float | bool | None = Field(description='The fact; "not recorded" or "—" '
                                                    "when the workspace holds none.")
    source: str = Field(description="Where the value comes from.")
    note: str | None = None


class ComparisonRow(BaseModel):
    key: str
    label: str
    cells: list[ComparisonCell] = Field(description="One cell per product, in product order.")


class ComparisonAspect(BaseModel):
    aspect: str
    title: str
    rows: list[ComparisonRow]


class ComparedProduct(BaseModel):
    id: str
    name: str


class Comparison(BaseModel):
    as_of: dt.date
    kb_version: str
    products: list[ComparedProduct]
    aspects: list[ComparisonAspect]


class JobProgress(BaseModel):
    """How far a running job is, as its task reports it."""

    done: int
    total: int | None
    note: str


class JobEvent(BaseModel):
    type: str
    at: str


class Job(BaseModel):
    """A queued job of the organisation: ``status`` is todo, doing, succeeded, failed,
    cancelled, aborting or aborted; ``error`` is the last failed attempt's."""

    id: int
    task: str
    status: str
    attempts: int
    lock: str | None
    args: dict[str, Any]
    by: str | None
    queued_at: str | None
    started_at: str | None
    finished_at: str | None
    scheduled_at: str | None
    progress: JobProgress | None
    error: str | None
    events: list[JobEvent] | None = None


class JobList(BaseModel):
    """Newest first; pass ``next_before`` as ``before`` for the next page. ``queue`` is
    ``in-process`` on SQLite, where jobs run when their change commits and none are queued."""

    queue: str
    jobs: list[Job]
    next_before: int | None


# ---- notifications and support periods ------------------------------------------------------


EventKind = Literal["finding.exploited", "article14.stage_due", "article14.stage_overdue",
                    "support.ending", "assessment.stale"]


class SubscriptionIn(Model):
    """A webhook (``url``, optional ``secret``) or an e-mail ``address``, for event kinds."""

    channel: Literal["webhook", "email"]
    url: Annotated[str, StringConstraints(max_length=2000)] | None = None
    address: Annotated[str, StringConstraints(max_length=320)] | None = None
    secret: Annotated[str, StringConstraints(min_length=16, max_length=200)] | None = None
    kinds: Annotated[list[EventKind], Field(min_length=1, max_length=5)]
    stage_due_hours: Annotated[int, Field(ge=1, le=720)] = 24
    support_days: Annotated[int, Field(ge=1, le=3650)] = 90


class Subscription(BaseModel):
    id: str
    channel: str
    target: str
    kinds: list[str]
    stage_due_hours: int
    support_days: int
    active: bool
    created_by: str
    created_at: str | None
    #: the webhook secret, in the answer to the POST only
    secret: str | None = None


class DeliveryAttempt(BaseModel):
    subscription_id: str
    delivery_id: str
    attempt: int
    at: str
    ok: bool
    status: str
    error: str
    duration_ms: int


class SupportCheck(BaseModel):
    status: str
    ok: bool
    months: int | None
    message: str
    requirement: str
    citation: str
    url: str


class ReleaseSupport(BaseModel):
    release_id: str
    release: str
    placed_on_market: str | None
    support_end: str | None
    expected_use_months: int | None
    justification: str
    check: SupportCheck


class ProductSupport(BaseModel):
    product: str
    product_id: str
    releases: list[ReleaseSupport]
