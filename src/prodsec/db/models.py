"""The workspace's tables (SQLAlchemy 2, typed declarative).

Every row an organisation owns carries ``org_id``: services filter on it in every query, which
is how one organisation can neither read nor learn of another's data. Public ids are random
UUIDs (no enumeration, and a backup restores into either backend unchanged). Rows users edit
carry ``version`` as SQLAlchemy's version counter: it is the ETag, and an update whose version
is stale fails instead of overwriting (no lost updates).

No ``from __future__ import annotations`` here, unlike elsewhere: SQLAlchemy reads each
``Mapped[...]`` annotation when the class is mapped, and a string annotation it must ``eval``
(~400 of them) cost every workspace command ~15 % of this module's import. A class named
before it is defined is quoted (``Mapped[list["Release"]]``).
"""

import datetime as dt
import uuid

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from prodsec.core.clock import utcnow as utcnow  # the columns' default; faces read core.clock


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Membership(Base):
    """A user's role in an organisation: admin, editor or viewer."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "org_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    role: Mapped[str] = mapped_column(String(16))


class Invitation(Base):
    """An admin's invitation of an account to the organisation, with a role: a membership
    only once the account's owner accepts (signed in), so adding an address tells the admin
    nothing about whether it has an account (``users.add_member``). ``new_account``: the
    account was created by this invitation (with the password its admin chose), and its first
    sign-in accepts it."""

    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("user_id", "org_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    role: Mapped[str] = mapped_column(String(16))
    new_account: Mapped[bool] = mapped_column(Boolean, default=False)
    invited_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored (the token has 256 bits of entropy)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class WebSession(Base):
    """A browser session (cookie holds the secret; only its SHA-256 is stored)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class KnownDevice(Base):
    """A device cookie issued at a sign-in (``workspace.devices``): only the SHA-256 of its
    device id is kept. A cookie whose row is gone (revoked by its user or an admin, replaced
    by the next sign-in's, expired) gives no back-off exemption."""

    __tablename__ = "known_devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the device id
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """The login limiter's state for one key (an account, a client address): consecutive
    failures, attempts in flight, and until when the key is refused. ``key`` is the SHA-256 of
    the key text, so the table is no list of e-mail addresses and client addresses. Times are
    Unix seconds (plain numbers: the conditional UPDATE that claims an attempt does its
    arithmetic in SQL the same way on SQLite and PostgreSQL). Shared by every server process on
    the database; transient, so backups leave it out."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[int] = mapped_column(Integer, default=0)
    backoff: Mapped[float] = mapped_column(Float)
    blocked_until: Mapped[float] = mapped_column(Float, default=0.0)
    touched_at: Mapped[float] = mapped_column(Float, index=True)


class PasswordReset(Base):
    """An admin's password reset: the user sets a new password with the one-time secret (only
    its SHA-256 is stored) before ``expires_at``. Transient: backups leave it out."""

    __tablename__ = "password_resets"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    name: Mapped[str] = mapped_column(String(200))
    profile: Mapped[dict[str, object]] = mapped_column(JSON)
    profile_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    #: When it was archived (hidden from the portfolio, read-only until restored), or None.
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    releases: Mapped[list["Release"]] = relationship(back_populates="product",
                                                   cascade="all, delete-orphan",
                                                   order_by="Release.placed_on_market")
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy idiom)


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("product_id", "version_label"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            index=True)
    version_label: Mapped[str] = mapped_column(String(100))
    placed_on_market: Mapped[dt.date | None] = mapped_column(Date)
    support_end: Mapped[dt.date | None] = mapped_column(Date)
    support_rationale: Mapped[str] = mapped_column(Text, default="")
    #: CRA Art. 13(8): the expected use time, recorded when the support period is shorter than
    #: five years (it must then correspond to it); None otherwise.
    expected_use_months: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    product: Mapped[Product] = relationship(back_populates="releases")
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy idiom)


class Assessment(Base):
    """A product × instrument verdict as of a date, kept with the inputs it came from.

    When the product's profile or the knowledge base changes, the assessment is marked
    ``stale`` (never silently rewritten); ``prodsec assess`` derives a new one.
    """

    __tablename__ = "assessments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            index=True)
    regulation_id: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(32))
    route: Mapped[str | None] = mapped_column(String(32))
    applies_from: Mapped[dt.date | None] = mapped_column(Date)
    verdict: Mapped[dict[str, object]] = mapped_column(JSON)
    kb_version: Mapped[str] = mapped_column(String(32))
    profile_hash: Mapped[str] = mapped_column(String(64))
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RequirementStatus(Base):
    """Where a product stands on one requirement of one assessment."""

    __tablename__ = "requirement_statuses"
    __table_args__ = (UniqueConstraint("assessment_id", "requirement_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"),
                                               index=True)
    requirement_id: Mapped[str] = mapped_column(String(128), index=True)
    category: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="not-started")
    justification: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(320))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy idiom)


class Control(Base):
    """A measure the organisation implements; it can satisfy requirements of many regimes."""

    __tablename__ = "controls"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    requirements: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy idiom)


class Evidence(Base):
    """A file (stored by SHA-256, never modified) or a URL that proves something."""

    __tablename__ = "evidence"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    title: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    filename: Mapped[str | None] = mapped_column(String(300))
    media_type: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(2000))
    version_label: Mapped[str] = mapped_column(String(100), default="1")
    owner: Mapped[str] = mapped_column(String(200), default="")
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvidenceLink(Base):
    """Evidence attached to a requirement status or a control."""

    __tablename__ = "evidence_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"),
                                             index=True)
    status_id: Mapped[str | None] = mapped_column(
        ForeignKey("requirement_statuses.id", ondelete="CASCADE"), index=True)
    control_id: Mapped[str | None] = mapped_column(ForeignKey("controls.id", ondelete="CASCADE"),
                                                   index=True)


class AuditEvent(Base):
    """One change: who, when, what, before → after; hash-chained per organisation.

    ``hash`` = HMAC-SHA256 (server key ``key_id``) of the previous event's hash and this event's
    canonical JSON, so any edit or deletion in history breaks the chain (``prodsec audit
    verify``). Database triggers refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("org_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC, part of the hashed content
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    after: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # id of the server key the HMAC was made with; NULL: unkeyed SHA-256 (before 0005)
    key_id: Mapped[str | None] = mapped_column(String(16))


# ---- documents (issue 6) --------------------------------------------------------------------


class OrgProfile(Base):
    """The manufacturer's details that declarations, user information and security.txt state.

    One row per organisation; every field is optional here because documents check what they
    need and name what is missing, rather than the database refusing a partial profile.
    """

    __tablename__ = "org_profiles"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        unique=True)
    legal_name: Mapped[str] = mapped_column(String(300), default="")
    trade_name: Mapped[str] = mapped_column(String(300), default="")
    postal_address: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    website: Mapped[str] = mapped_column(String(2000), default="")
    security_contact: Mapped[str] = mapped_column(String(2000), default="")
    vdp_url: Mapped[str] = mapped_column(String(2000), default="")
    security_txt_url: Mapped[str] = mapped_column(String(2000), default="")
    csaf_url: Mapped[str] = mapped_column(String(2000), default="")
    encryption_url: Mapped[str] = mapped_column(String(2000), default="")
    preferred_languages: Mapped[str] = mapped_column(String(200), default="")
    csirt_member_state: Mapped[str] = mapped_column(String(2), default="")
    authorised_representative: Mapped[str] = mapped_column(Text, default="")
    signatory_name: Mapped[str] = mapped_column(String(200), default="")
    signatory_function: Mapped[str] = mapped_column(String(200), default="")
    place_of_issue: Mapped[str] = mapped_column(String(200), default="")
    ack_days: Mapped[int | None] = mapped_column(Integer)
    status_update_days: Mapped[int | None] = mapped_column(Integer)
    disclosure_days: Mapped[int | None] = mapped_column(Integer)
    safe_harbour: Mapped[bool | None] = mapped_column(Boolean)
    pledge_signed_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy idiom)


class ProductDocumentation(Base):
    """What the team wrote about a product that no profile fact captures: the risk assessment,
    design description, user instructions, standards applied, notified body, pledge progress."""

    __tablename__ = "product_documentation"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            unique=True)
    fields: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy idiom)


class GeneratedDocument(Base):
    """One generated document: what went in (versions and a digest of the facts), the
    knowledge-base version and the SHA-256 of the bytes that came out. A record whose digest no
    longer matches the workspace is shown as stale."""

    __tablename__ = "generated_documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    product_id: Mapped[str | None] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True)
    release_label: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    fmt: Mapped[str] = mapped_column(String(16))
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    inputs: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    inputs_digest: Mapped[str] = mapped_column(String(64))
    kb_version: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FactAcknowledgement(Base):
    """A person's confirmation that a fact the knowledge base marks unverified holds for the
    organisation's documents (checked against the primary text, or accepted with a reason).
    ``key`` hashes the fact's citation, so a changed fact needs a new confirmation."""

    __tablename__ = "fact_acknowledgements"
    __table_args__ = (UniqueConstraint("org_id", "key", name="uq_fact_ack_org_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    key: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    document_kind: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---- vulnerability handling (issue 7) -------------------------------------------------------


class SbomRecord(Base):
    """The SBOM of one release, assembled from its parts (``SbomPart``), with the quality report
    of the whole.

    With one part, the fields describe that file (``sha256`` is of the file as imported, so the
    SBOM handed to an authority can be proven to be the one the findings were computed from);
    with several, ``format`` is "assembled" and ``sha256`` hashes the parts' hashes in name
    order, so any change to any part changes it.
    """

    __tablename__ = "sboms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"),
                                            unique=True)
    format: Mapped[str] = mapped_column(String(32))
    spec_version: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300), default="")
    filename: Mapped[str] = mapped_column(String(300), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    quality: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SbomPart(Base):
    """One SBOM a release's SBOM is assembled from — firmware, application, cloud service,
    hardware BOM — kept as imported (file name, hash, format, its own quality report); importing
    a part of the same name replaces that part only."""

    __tablename__ = "sbom_parts"
    __table_args__ = (UniqueConstraint("sbom_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    sbom_id: Mapped[str] = mapped_column(ForeignKey("sboms.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32), default="application")
    format: Mapped[str] = mapped_column(String(32))
    spec_version: Mapped[str] = mapped_column(String(16))
    document_name: Mapped[str] = mapped_column(String(300), default="")
    filename: Mapped[str] = mapped_column(String(300), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    quality: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SbomComponent(Base):
    """One component of an imported SBOM; ``ecosystem``/``package`` are its OSV match key and
    ``csaf_product_id`` its stable identity in exported CSAF (bom-ref ↔ purl/CPE ↔ CSAF).

    ``part_id`` names the ``SbomPart`` it came from. It has no foreign key: adding one to an
    existing SQLite table means rebuilding it, and dropping the old table would cascade-delete
    its rows; the part's rows are deleted with it by ``vulnerabilities.remove_sbom_part``."""

    __tablename__ = "components"
    __table_args__ = (Index("ix_components_match", "org_id", "ecosystem", "package"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    sbom_id: Mapped[str] = mapped_column(ForeignKey("sboms.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[str | None] = mapped_column(String(32), index=True)
    ref: Mapped[str] = mapped_column(String(1000))
    name: Mapped[str] = mapped_column(String(1000))
    version: Mapped[str | None] = mapped_column(String(200))
    purl: Mapped[str | None] = mapped_column(String(2000))
    cpe: Mapped[str | None] = mapped_column(String(2000))
    supplier: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[str | None] = mapped_column(String(64))
    hashes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    licenses: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Each licence's kind (SPDX id, name, expression) and acknowledgement, and the component's
    # external references, so the merged CycloneDX export writes them back as they came in.
    licence_choices: Mapped[list[dict[str, str | None]]] = mapped_column(JSON, default=list)
    external_references: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    ecosystem: Mapped[str | None] = mapped_column(String(32))
    package: Mapped[str | None] = mapped_column(String(500))
    csaf_product_id: Mapped[str] = mapped_column(String(64))


class DependencyEdge(Base):
    """``source`` depends on ``target`` (component refs within one SBOM)."""

    __tablename__ = "dependency_edges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    sbom_id: Mapped[str] = mapped_column(ForeignKey("sboms.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[str | None] = mapped_column(String(32), index=True)
    source_ref: Mapped[str] = mapped_column(String(1000))
    target_ref: Mapped[str] = mapped_column(String(1000))


class AdvisoryRecord(Base):
    """One OSV advisory in the organisation's offline database; ``content_hash`` makes a
    re-import incremental (unchanged advisories are not touched)."""

    __tablename__ = "advisories"
    __table_args__ = (UniqueConstraint("org_id", "osv_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    osv_id: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(200))
    modified: Mapped[str | None] = mapped_column(String(64))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdvisoryAlias(Base):
    """CVE, GHSA, PYSEC, GO ids of an advisory (and its own id), for lookups by any name."""

    __tablename__ = "advisory_aliases"
    __table_args__ = (Index("ix_advisory_aliases_alias", "org_id", "alias"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    advisory_id: Mapped[str] = mapped_column(ForeignKey("advisories.id", ondelete="CASCADE"),
                                             index=True)
    alias: Mapped[str] = mapped_column(String(128))


class AffectedPackage(Base):
    """An advisory's affected ranges for one (ecosystem, normalised package name)."""

    __tablename__ = "affected_packages"
    __table_args__ = (Index("ix_affected_packages_match", "org_id", "ecosystem", "package"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    advisory_id: Mapped[str] = mapped_column(ForeignKey("advisories.id", ondelete="CASCADE"),
                                             index=True)
    ecosystem: Mapped[str] = mapped_column(String(32))
    package: Mapped[str] = mapped_column(String(500))
    ranges: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    versions: Mapped[list[str]] = mapped_column(JSON, default=list)


class KevEntry(Base):
    """A CVE in a known-exploited catalogue (e.g. CISA KEV) the organisation imported."""

    __tablename__ = "kev_entries"
    __table_args__ = (UniqueConstraint("org_id", "cve"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    cve: Mapped[str] = mapped_column(String(64))
    date_added: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(300), default="")


class FindingRecord(Base):
    """A release's component in an advisory's affected versions. Recomputed (kept, added or
    removed, never rewritten) when the SBOM or the advisories change; ``first_seen`` stays."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("component_id", "advisory_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"),
                                            index=True)
    component_id: Mapped[str] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"),
                                              index=True)
    advisory_id: Mapped[str] = mapped_column(ForeignKey("advisories.id", ondelete="CASCADE"),
                                             index=True)
    affected: Mapped[str] = mapped_column(Text, default="")
    fixed: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VexStatement(Base):
    """A triage decision in the CycloneDX VEX vocabulary, for one vulnerability in a product
    (one release, or all when ``release_id`` is null; one component purl, or all). Kept apart
    from findings so that recomputing findings never loses a decision."""

    __tablename__ = "vex_statements"
    __table_args__ = (UniqueConstraint("product_id", "release_key", "vulnerability",
                                       "component_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            index=True)
    release_key: Mapped[str] = mapped_column(String(32), default="")  # release id, "" = all
    vulnerability: Mapped[str] = mapped_column(String(128))
    component_key: Mapped[str] = mapped_column(String(2000), default="")  # purl, "" = all
    state: Mapped[str] = mapped_column(String(32))
    justification: Mapped[str | None] = mapped_column(String(64))
    responses: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(300), default="manual")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy idiom)


class CsafDocument(Base):
    """A CSAF 2.0 document the organisation authored (advisory or VEX), as exported."""

    __tablename__ = "csaf_documents"
    __table_args__ = (UniqueConstraint("org_id", "tracking_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            index=True)
    tracking_id: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    document: Mapped[dict[str, object]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # draft | interim | final: the latest revision's /document/tracking/status. A draft is
    # edited in place; interim and final revisions are kept unchanged in csaf_revisions.
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="final")


class CsafRevision(Base):
    """One published (interim or final) revision of a CSAF document, exactly as published:
    never updated; a change is a new revision (CSAF 2.0 section 3.2.1.12 tracking)."""

    __tablename__ = "csaf_revisions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("csaf_documents.id", ondelete="CASCADE"),
                                             index=True)
    version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    document: Mapped[dict[str, object]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_by: Mapped[str] = mapped_column(String(320))


class ReleaseVexRevision(Base):
    """One version of a release's CSAF VEX at its stable location (``workspace.vex_location``):
    the SHA-256 of what the document says (not when it was made) and when that content was
    first handed out. A consumer treats the same tracking id and version as the same document,
    so changed content gets the next version; the same content keeps its version and date."""

    __tablename__ = "release_vex_revisions"
    __table_args__ = (UniqueConstraint("release_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"),
                                            index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IngestedCsaf(Base):
    """One supplier CSAF document as ingested (``workspace.csaf_ingest``): the publisher
    namespace, tracking id and version that identify it (CSAF 2.0 3.2.1.8, 3.2.1.12.4,
    3.2.1.12.8), the SHA-256 of its bytes, so the same version with other bytes is refused, and
    its TLP label (3.2.1.5), so what it said stays out of exports labelled less strictly."""

    __tablename__ = "ingested_csaf"
    __table_args__ = (UniqueConstraint("org_id", "namespace", "tracking_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    namespace: Mapped[str] = mapped_column(String(500))
    tracking_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    tlp: Mapped[str | None] = mapped_column(String(10), nullable=True)
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CsafPublisherKey(Base):
    """The OpenPGP key a supplier's CSAF documents were first found signed with, per publisher
    namespace (trust on first use): a document signed by another key is refused unless the
    admin names the key explicitly (``--key``), which re-pins it."""

    __tablename__ = "csaf_publisher_keys"
    __table_args__ = (UniqueConstraint("org_id", "namespace"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    namespace: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    pinned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Article14Case(Base):
    """A CRA Article 14 reporting case: an actively exploited vulnerability or a severe
    incident, with the moment of awareness that starts the clocks (UTC)."""

    __tablename__ = "article14_cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            index=True)
    kind: Mapped[str] = mapped_column(String(16))  # vulnerability | incident
    title: Mapped[str] = mapped_column(String(500))
    vulnerability: Mapped[str | None] = mapped_column(String(128))
    aware_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    measure_available_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    member_state: Mapped[str] = mapped_column(String(2), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    csaf_document_id: Mapped[str | None] = mapped_column(
        ForeignKey("csaf_documents.id", ondelete="SET NULL"))
    vex_reference: Mapped[str] = mapped_column(String(2000), default="")
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # a case opened in error, before any report: withdrawn (closed_at set too), never deleted
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str | None] = mapped_column(String(320))
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy idiom)


class Article14Submission(Base):
    """One report of a case as submitted: stage, when, what was sent, the platform's reference."""

    __tablename__ = "article14_submissions"
    __table_args__ = (UniqueConstraint("case_id", "stage"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("article14_cases.id", ondelete="CASCADE"),
                                         index=True)
    stage: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    content: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    reference: Mapped[str] = mapped_column(String(300), default="")
    submitted_by: Mapped[str] = mapped_column(String(320))


class JobReport(Base):
    """What procrastinate does not keep about a job: its progress while it runs and the error of
    its last failed attempt. ``job_id`` is ``procrastinate_jobs.id`` (no foreign key: that table
    is the queue's, and exists on PostgreSQL only); ``org_id`` is None for system jobs."""

    __tablename__ = "job_reports"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedImport(Base):
    """One imported feed file (CISA KEV, FIRST EPSS, ENISA EUVD): what changed, from which file.
    The unique content hash refuses a file imported before, even by two imports at once."""

    __tablename__ = "feed_imports"
    __table_args__ = (UniqueConstraint("org_id", "sha256", name="uq_feed_imports_org_sha256"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    kind: Mapped[str] = mapped_column(String(16))  # kev | epss | euvd
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    feed_date: Mapped[str | None] = mapped_column(String(64))  # the file's own date/version
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    #: imported, or refused (a watched folder's file that could not be imported: not retried)
    status: Mapped[str] = mapped_column(String(16), default="imported")
    error: Mapped[str] = mapped_column(Text, default="")
    imported_by: Mapped[str] = mapped_column(String(320))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EpssScore(Base):
    """FIRST EPSS: the probability that a CVE is exploited in the next 30 days, as of a date."""

    __tablename__ = "epss_scores"
    __table_args__ = (UniqueConstraint("org_id", "cve", name="uq_epss_scores_org_cve"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    cve: Mapped[str] = mapped_column(String(64))
    epss: Mapped[float] = mapped_column(Float)
    percentile: Mapped[float] = mapped_column(Float)
    score_date: Mapped[str | None] = mapped_column(String(64))


class EuvdEntry(Base):
    """An ENISA EUVD record: its EUVD id is an alias of the CVE it names; ``exploited_since``
    is EUVD's exploited flag (set on the records of its exploited-vulnerabilities list)."""

    __tablename__ = "euvd_entries"
    __table_args__ = (UniqueConstraint("org_id", "euvd_id", name="uq_euvd_entries_org_id"),
                      Index("ix_euvd_entries_cve", "org_id", "cve"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    euvd_id: Mapped[str] = mapped_column(String(64))
    cve: Mapped[str | None] = mapped_column(String(64))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    exploited_since: Mapped[str | None] = mapped_column(String(32))  # ISO date-time (UTC)
    base_score: Mapped[float | None] = mapped_column(Float)
    content_hash: Mapped[str] = mapped_column(String(64))


class CaseProposal(Base):
    """An Article 14 case the exploitation signals propose for a product: one per product and
    vulnerability, ever (the unique constraint makes concurrent imports propose it once). A
    person confirms it (with the awareness time they state, which starts the clocks) or
    dismisses it with a reason."""

    __tablename__ = "case_proposals"
    __table_args__ = (UniqueConstraint("product_id", "vulnerability",
                                       name="uq_case_proposals_product_vuln"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            index=True)
    vulnerability: Mapped[str] = mapped_column(String(128))  # the CVE
    releases: Mapped[list[str]] = mapped_column(JSON, default=list)  # labels when proposed
    signal: Mapped[str] = mapped_column(String(16))  # kev | euvd
    signal_date: Mapped[str | None] = mapped_column(String(32))
    proposed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="proposed")  # confirmed | dismissed
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[str | None] = mapped_column(
        ForeignKey("article14_cases.id", ondelete="SET NULL"))


class NotificationSubscription(Base):
    """Where an organisation wants to be told, and about what: a webhook (URL and the secret
    that signs each delivery) or an e-mail address, for some event kinds, with thresholds."""

    __tablename__ = "notification_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email
    target: Mapped[str] = mapped_column(String(2000))  # URL or address
    secret: Mapped[str] = mapped_column(String(200), default="")  # webhooks: HMAC key
    kinds: Mapped[list[str]] = mapped_column(JSON)
    stage_due_hours: Mapped[int] = mapped_column(Integer, default=24)
    support_days: Mapped[int] = mapped_column(Integer, default=90)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NotificationEvent(Base):
    """The outbox: one row per thing to tell, written in the transaction of the change that
    caused it. ``(org_id, dedupe_key)`` is unique, so the same event is emitted once however
    often a scan or a retried job finds it again."""

    __tablename__ = "notification_events"
    __table_args__ = (UniqueConstraint("org_id", "dedupe_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NotificationDelivery(Base):
    """One event for one subscription: pending until delivered, retried with backoff, failed
    after the last attempt. ``claimed_until`` keeps two workers from sending it at once."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "subscription_id"),
                      Index("ix_notification_deliveries_due", "status", "next_attempt_at"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    event_id: Mapped[str] = mapped_column(
        ForeignKey("notification_events.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("notification_subscriptions.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")


class NotificationAttempt(Base):
    """The delivery log: each attempt with its outcome (HTTP status or SMTP reply, or error)."""

    __tablename__ = "notification_attempts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                        index=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("notification_deliveries.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("notification_subscriptions.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
