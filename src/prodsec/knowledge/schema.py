"""The knowledge-file format: pydantic models for the YAML files under ``knowledge/data``.

These models are the *file format*, used when the knowledge base is (re)built from its YAML
sources and to export the JSON Schema that authors validate against. They are not imported on
the fast paths: once validated, the knowledge base is cached as plain data (see ``loader``) and
the pure core (``prodsec.core``) works on that.

Conventions an author must follow (checked here or in ``loader.check_references``):

* ids are lowercase, colon-separated, start with the document id and follow the text of the
  law (``eu-cra:annex-i:part-i:2:a``), never a legislative stage;
* every fact carries a ``citation`` (an article, annex, clause or section, and a URL where the
  source is public); ``verified: false`` marks a fact we could not check in the primary text;
* requirement texts are our own paraphrases; copyrighted standard text is never pasted.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9.\-]*(:[a-z0-9][a-z0-9.\-_()]*)*$"
DOC_ID_PATTERN = r"^[a-z0-9][a-z0-9\-]*$"

Id = Annotated[str, Field(pattern=ID_PATTERN, description="Stable, law-faithful id.")]
DocId = Annotated[str, Field(pattern=DOC_ID_PATTERN, description="Document id, e.g. eu-cra.")]


class Strict(BaseModel):
    """Base: unknown keys are errors, so a typo in a knowledge file never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Citation(Strict):
    """Where a fact comes from: an article/annex/clause of an instrument, and a URL if public.

    In YAML a bare string is accepted as shorthand for ``{ref: STRING}``; the instrument then
    defaults to the document the citation stands in.
    """

    ref: str = Field(min_length=1, description="Article, annex, clause or section, e.g. 'Art. 14(2)(a)'.")
    instrument: str | None = Field(
        default=None, description="Cited instrument when it is not the document itself."
    )
    url: str | None = Field(default=None, pattern=r"^https?://")
    verified: bool = Field(default=True, description="False: not checked against the primary text.")
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"ref": value} if isinstance(value, str) else value


class Category(StrEnum):
    """The three requirement families every regime shares."""

    prevention = "prevention"  # secure by design: prevent incidents
    readiness = "readiness"  # limit the impact: updates, backups, fail-safes
    handling = "handling"  # vulnerability handling, advisories, reporting


class Role(StrEnum):
    manufacturer = "manufacturer"
    importer = "importer"
    distributor = "distributor"
    authorised_representative = "authorised-representative"
    steward = "steward"
    operator = "operator"
    vehicle_manufacturer = "vehicle-manufacturer"
    notified_body = "notified-body"
    signatory = "signatory"
    applicant = "applicant"


class Kind(StrEnum):
    regulation = "regulation"
    directive = "directive"
    delegated_act = "delegated-act"
    act = "act"
    un_regulation = "un-regulation"
    label = "label"
    pledge = "pledge"


class Binding(StrEnum):
    mandatory = "mandatory"
    voluntary = "voluntary"


class Route(StrEnum):
    """How conformity is demonstrated, ordered by rigor."""

    none = "none"  # a pledge: public self-reporting at most
    self = "self"  # self-declaration
    self_if_harmonised = "self-if-harmonised"  # self only if hENs/common specs applied in full
    third_party = "third-party"  # notified body, test lab, approval authority
    certification = "certification"  # a certification scheme / type approval certificate


class Strategy(StrEnum):
    matter_of_course = "matter-of-course"
    competitive_advantage = "competitive-advantage"


class DateKind(StrEnum):
    adopted = "adopted"
    published = "published"
    entry_into_force = "entry-into-force"
    application = "application"
    transition_end = "transition-end"
    amendment = "amendment"
    repeal = "repeal"
    closure = "closure"
    review = "review"
    other = "other"


class Relation(StrEnum):
    """How the ``source`` end of a mapping relates to its ``target`` end (set semantics)."""

    equal = "equal"
    subset = "subset"  # source asks for less than (is contained in) target
    superset = "superset"  # source asks for more than (contains) target
    intersects = "intersects"


class Confidence(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class ScopeTag(StrEnum):
    all_digital = "all-products-with-digital-elements"
    software = "software"
    consumer_iot = "consumer-iot"
    radio_equipment = "radio-equipment"
    vehicles = "vehicles"
    ot = "ot"
    enterprise_software = "enterprise-software"
    entities = "entities"


# ---- rule trees -------------------------------------------------------------------------

Op = Literal["is", "in", "contains_any", "contains_all", "ge", "le", "empty", "present"]


class Fact(Strict):
    """A leaf: compares one profile fact with a value.

    ``fact`` is a dotted profile path (``vehicle.category``). Ops: ``is`` (equality), ``in``
    (value is one of a list), ``contains_any``/``contains_all`` (list fact shares any/all of
    the values), ``ge``/``le`` (numbers), ``empty`` (list fact is empty: value true/false),
    ``present`` (the fact is given).
    A missing fact makes the leaf *unknown*, never false.
    """

    fact: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)?$")
    op: Op = "is"
    value: Any = None
    text: str | None = Field(default=None, description="Reason shown when this node decides.")
    citation: Citation | None = None


class InList(Strict):
    """A leaf: the profile's ``functions`` match an item of a knowledge ``list`` (Annex III...).

    Items declare the functions they cover; the trace names the matching item and cites it.
    """

    list: Id
    fact: Literal["functions"] = "functions"
    text: str | None = None
    citation: Citation | None = None


class All(Strict):
    all: list[Rule] = Field(min_length=1)
    text: str | None = None
    citation: Citation | None = None


class AnyOf(Strict):
    any: list[Rule] = Field(min_length=1)
    text: str | None = None
    citation: Citation | None = None


class Not(Strict):
    not_: Rule = Field(alias="not")
    text: str | None = None
    citation: Citation | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Rule = All | AnyOf | Not | InList | Fact
All.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


# ---- document parts ---------------------------------------------------------------------


class Deadline(Strict):
    """A reporting or action clock, counted from ``from_event``."""

    id: str = Field(pattern=r"^[a-z0-9\-]+$")
    text: str
    hours: int | None = Field(default=None, ge=0)
    days: int | None = Field(default=None, ge=0)
    months: int | None = Field(default=None, ge=0)
    years: int | None = Field(default=None, ge=0)
    from_event: str = Field(description="What starts the clock, e.g. 'awareness'.")
    citation: Citation

    @model_validator(mode="after")
    def _one_period(self) -> Deadline:
        given = [p for p in (self.hours, self.days, self.months, self.years) if p is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of hours, days, months, years")
        return self


class Requirement(Strict):
    """A requirement of a regulation, or a provision of a standard.

    ``kind: obligation`` marks a duty of an economic operator (CRA Art. 13/14) as opposed to a
    property of the product (``requirement``); standards use ``provision``.
    """

    id: Id
    title: str = Field(min_length=1)
    text: str = Field(min_length=1, description="Our paraphrase, never the copyrighted text.")
    category: Category
    kind: Literal["requirement", "obligation", "provision", "process", "goal"] = "requirement"
    role: Role = Role.manufacturer
    status: str | None = Field(
        default=None, description="Standards: M, R, M C(n), R C(n) and the like."
    )
    condition: str | None = Field(default=None, description="When it applies, in words.")
    when: Rule | None = Field(default=None, description="When it applies, as a rule on the profile.")
    parent: Id | None = None
    params: dict[str, int | float | str | bool] = Field(default_factory=dict)
    deadlines: list[Deadline] = Field(default_factory=list)
    citation: Citation


class ListItem(Strict):
    id: Id
    text: str = Field(min_length=1)
    functions: list[str] = Field(default_factory=list, description="Profile functions it covers.")
    citation: Citation | None = None


class ContentList(Strict):
    """An enumerated list in the law: Annex III classes, Annex V contents, PSTI exceptions..."""

    id: Id
    title: str
    kind: Literal["category", "contents", "exceptions", "other"] = "contents"
    citation: Citation
    items: list[ListItem] = Field(min_length=1)


class KeyDate(Strict):
    id: str = Field(pattern=r"^[a-z0-9\-]+$")
    kind: DateKind
    date: dt.date
    text: str
    citation: Citation

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(f"expected an ISO 8601 date YYYY-MM-DD, got {value!r}")
        return value


class Conformity(Strict):
    """One way of demonstrating conformity, for the products it applies to."""

    route: Route
    applies_to: str = Field(description="Which products, in words ('default category', 'all').")
    text: str
    citation: Citation


class StandardRef(Strict):
    standard: DocId
    relation: Literal[
        "harmonised", "referenced", "basis", "deemed-compliance", "supporting", "requested"
    ]
    text: str | None = None
    restriction: str | None = Field(default=None, description="E.g. an OJ citation's restriction.")
    citation: Citation


class Fact_(Strict):
    """A cited statement: a goal, the authority, a penalty."""

    text: str
    citation: Citation


class Scope(Strict):
    tags: list[ScopeTag] = Field(min_length=1)
    text: str
    citation: Citation


class Source(Strict):
    title: str
    url: str = Field(pattern=r"^https?://")
    accessed: dt.date | None = None
    note: str | None = None


class Exclusion(Strict):
    id: str = Field(pattern=r"^[a-z0-9\-]+$")
    text: str
    when: Rule
    applies_from: dt.date | None = Field(
        default=None, description="An exclusion made by a later act counts from its date.")
    citation: Citation


class TerritoryEntry(Strict):
    """Markets where whether the instrument applies is not settled (or not modelled)."""

    markets: list[str] = Field(min_length=1)
    text: str
    citation: Citation


class Territory(Strict):
    """Where the instrument applies; a market outside it that is not declared outside is
    ``undetermined`` (never a silent not-applicable) when ``open`` is true."""

    applies: list[str] = Field(min_length=1, description="Markets or groups where it applies.")
    text: str
    citation: Citation
    undetermined: list[TerritoryEntry] = Field(default_factory=list)
    open: bool = Field(
        default=False,
        description="True: the list is not exhaustive (e.g. 1958 Agreement parties); any other "
                    "market not in 'outside' is undetermined.")
    outside: list[str] = Field(default_factory=list, description="Markets known to be outside.")
    outside_text: str | None = None


class StatusPeriod(Strict):
    """A voluntary programme's state from a date: open to new products, paused or closed."""

    since: dt.date
    status: Literal["open", "paused", "closed"]
    text: str
    meanwhile: str | None = Field(default=None, description="What a user can do meanwhile.")
    citation: Citation


class ProductClass(Strict):
    """A product class (CRA category, label level) chosen by the first matching rule."""

    id: str = Field(pattern=r"^[a-z0-9\-]+$")
    title: str
    when: Rule | None = Field(default=None, description="None: the default class.")
    assessment: Route
    text: str
    citation: Citation


class Obligation(Strict):
    """A group of duties with its own application date (CRA Art. 14 from 2026-09-11...)."""

    id: str = Field(pattern=r"^[a-z0-9\-]+$")
    title: str
    text: str
    applies_from: dt.date
    until: dt.date | None = None
    nature: Literal["mandatory", "on-event", "voluntary"] | None = Field(
        default=None,
        description=(
            "How it binds. mandatory: due from applies_from, open after it is missed; on-event: "
            "a standing duty from applies_from that an event triggers (CRA Art. 14 reporting), "
            "never missed before one; voluntary: a condition of a voluntary label, to do for the "
            "label, never missed. Left out: mandatory in a mandatory instrument, voluntary in a "
            "voluntary one. A mandatory obligation of a voluntary scheme binds only a product "
            "the scheme's mandatory_when makes it mandatory for."))
    requirements: list[Id] = Field(default_factory=list)
    requirement_prefixes: list[Id] = Field(
        default_factory=list, description="All requirements whose id starts with one of these."
    )
    when: Rule | None = None
    citation: Citation


class Applicability(Strict):
    """The rule data the applicability engine evaluates for this instrument."""

    scope: Rule = Field(description="In scope when true.")
    exclusions: list[Exclusion] = Field(default_factory=list)
    mandatory_when: Rule | None = Field(
        default=None, description="Voluntary schemes that are mandatory for some products."
    )
    closed: Fact_ | None = Field(
        default=None,
        description="A scheme closed to new products even where no closure date is known.")
    territory: Territory | None = None
    status_history: list[StatusPeriod] = Field(
        default_factory=list, description="Dated open/paused/closed states of a voluntary scheme.")
    classes: list[ProductClass] = Field(default_factory=list)
    assessment: Route | None = Field(default=None, description="Route when there are no classes.")
    obligations: list[Obligation] = Field(min_length=1)


class Regulation(Strict):
    """A regulation, directive, delegated act, UN regulation, label scheme or pledge."""

    id: DocId
    title: str
    short_name: str
    legal_reference: str
    jurisdiction: str
    markets: list[str] = Field(min_length=1, description="Market codes or groups, e.g. EU, GB, SG.")
    kind: Kind
    binding: Binding
    binding_note: str | None = None
    product_level: bool = True
    rigor: int = Field(ge=0, le=5, description="0 pledge ... 5 European certification.")
    rigor_note: str
    conformity: list[Conformity] = Field(min_length=1)
    strategy: Strategy
    strategy_note: str | None = None
    scope: Scope
    goals: list[Fact_] = Field(min_length=1)
    dates: list[KeyDate] = Field(min_length=1)
    standards: list[StandardRef] = Field(default_factory=list)
    authority: Fact_
    penalties: list[Fact_] = Field(default_factory=list)
    sources: list[Source] = Field(min_length=1)
    verified: bool
    verified_note: str | None = None
    requirements: list[Requirement] = Field(min_length=1)
    lists: list[ContentList] = Field(default_factory=list)
    applicability: Applicability | None = None

    @model_validator(mode="after")
    def _product_level_needs_rules(self) -> Regulation:
        if self.product_level and self.applicability is None:
            raise ValueError("a product-level instrument needs an 'applicability' block")
        return self


class OjRestriction(Strict):
    """One restriction an OJ listing puts on a standard's presumption of conformity.

    Kept as data (not prose in ``text``) so a declaration can say, for a given product, whether
    the restriction bites: ``applies_when`` is a rule over the product profile (absent: it bites
    whenever the named clauses are applied), ``design_condition`` states in words the design
    choice a profile cannot express (e.g. a user may skip setting a password).
    """

    id: str = Field(pattern=r"^[a-z0-9\-]+$")
    text: str = Field(min_length=1, description="Our paraphrase of the restriction.")
    effect: Literal["no-presumption", "informative-only"] = Field(
        description="no-presumption: the listed parts give no presumption of conformity under the "
        "condition; informative-only: the named parts never give a presumption.")
    essential_requirements: list[Id] = Field(
        default_factory=list, description="Requirement ids of the act whose presumption is lost.")
    clauses: list[str] = Field(default_factory=list, description="Clauses of the standard named.")
    requirements: list[Id] = Field(
        default_factory=list, description="The standard's own requirement ids the clauses hold.")
    applies_when: Rule | None = Field(
        default=None, description="Profile rule: the restriction concerns such products.")
    design_condition: str | None = Field(
        default=None, description="The design choice that triggers it, in words.")
    consequence: str | None = Field(
        default=None, description="What the manufacturer must do then (e.g. a notified body).")
    citation: Citation


class OjListing(Strict):
    """Whether a standard's reference is published in the OJ under one act, and on what terms.

    ``status``: ``listed`` (presumption of conformity, Regulation (EU) No 1025/2012 Art. 10(6)),
    ``listed-with-restrictions`` (with ``restrictions``), ``not-listed`` (no presumption under
    that act as of ``as_of``), ``withdrawn`` (a reference published and later withdrawn).
    """

    act: DocId = Field(description="Knowledge id of the act, e.g. eu-red-da, eu-cra.")
    status: Literal["listed", "listed-with-restrictions", "not-listed", "withdrawn"]
    as_of: dt.date = Field(description="The date up to which the listing status was checked.")
    reference: str | None = Field(
        default=None, description="The publishing act, e.g. 'Commission Implementing Decision "
        "(EU) 2025/138'.")
    amends: str | None = Field(default=None, description="The list it amends, and where.")
    date: dt.date | None = Field(default=None, description="Adoption date of the publishing act.")
    published: dt.date | None = Field(default=None, description="Its OJ publication date.")
    oj: str | None = Field(default=None, description="OJ reference, e.g. 'OJ L, 2025/138, 30.1.2025'.")
    url: str | None = Field(default=None, pattern=r"^https?://")
    essential_requirements: list[Id] = Field(
        default_factory=list, description="Requirement ids of the act the listing covers.")
    restrictions: list[OjRestriction] = Field(default_factory=list)
    amendments: list[str] = Field(
        default_factory=list, description="Later acts touching this listing (empty: none found).")
    text: str = Field(min_length=1)
    citation: Citation

    @field_validator("as_of", "date", "published", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(f"expected an ISO 8601 date YYYY-MM-DD, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OjListing:
        listed = self.status in ("listed", "listed-with-restrictions", "withdrawn")
        if listed:
            missing = [k for k in ("reference", "date", "url") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a {self.status} entry needs {', '.join(missing)}")
        elif self.reference or self.restrictions:
            raise ValueError("a not-listed entry has no reference and no restrictions")
        if (self.status == "listed-with-restrictions") != bool(self.restrictions):
            raise ValueError("restrictions are given exactly when status is listed-with-restrictions")
        ids = [r.id for r in self.restrictions]
        if len(ids) != len(set(ids)):
            raise ValueError("restriction ids must be unique within a listing")
        return self


class Standard(Strict):
    """A standard or standardisation deliverable; its ``requirements`` are its provisions."""

    id: DocId
    title: str
    short_name: str
    publisher: str
    version: str
    status: Literal["published", "draft", "withdrawn", "requested"] = "published"
    published: str | None = Field(default=None, description="YYYY or YYYY-MM or YYYY-MM-DD.")
    url: str | None = Field(default=None, pattern=r"^https?://")
    copyright_note: str = Field(
        default="Identifiers and our own paraphrases only; the standard's text is copyrighted."
    )
    text: str
    sources: list[Source] = Field(min_length=1)
    verified: bool
    verified_note: str | None = None
    requirements: list[Requirement] = Field(default_factory=list)
    lists: list[ContentList] = Field(default_factory=list)
    oj_listings: list[OjListing] = Field(
        default_factory=list,
        description="Per act: is the reference published in the OJ (presumption of conformity)?")

    @model_validator(mode="after")
    def _one_listing_per_act(self) -> Standard:
        acts = [o.act for o in self.oj_listings]
        dup = sorted({a for a in acts if acts.count(a) > 1})
        if dup:
            raise ValueError(f"oj_listings: more than one entry for {', '.join(dup)}")
        return self


class Mapping(Strict):
    source: Id
    target: Id
    relation: Relation
    confidence: Confidence
    note: str | None = None
    citation: Citation


class MappingSet(Strict):
    id: DocId
    title: str
    text: str
    sources: list[Source] = Field(min_length=1)
    mappings: list[Mapping] = Field(min_length=1)


class Function(Strict):
    id: str = Field(pattern=r"^[a-z_0-9]+$")
    text: str
    implies: list[str] = Field(default_factory=list)


class Vocabulary(Strict):
    """Closed vocabularies of the product profile and the implications between them."""

    version: str
    functions: list[Function]
    radio: list[str]
    sector_law: list[Function]
    vehicle_categories: list[str]
    vehicle_category_aliases: dict[str, str] = Field(
        default_factory=dict, description="Other spellings (EU L3e) → a vehicle category (L3).")
    retired_functions: dict[str, str] = Field(
        default_factory=dict,
        description="Function ids no longer accepted → the message that names their successors.")
    market_groups: dict[str, list[str]]
    market_aliases: dict[str, str]
    countries: dict[str, str] = Field(description="ISO 3166-1 alpha-2 code → English name.")
    subdivisions: dict[str, str] = Field(
        default_factory=dict,
        description="ISO 3166-2 codes accepted as markets (GB-NIR Northern Ireland) → name.")


class Change(Strict):
    """One change of the law (or of our reading of it) that can change a verdict."""

    id: str = Field(pattern=r"^[a-z0-9\-]+$")
    date: dt.date = Field(description="When the change takes effect in law (or was encoded).")
    act: str = Field(description="The act that changed the law, e.g. 'Delegated Regulation (EU) 2025/1535'.")
    summary: str = Field(description="What changed, in a sentence or two.")
    instruments: list[DocId] = Field(min_length=1, description="Knowledge documents touched.")
    facts: list[str] = Field(default_factory=list, description="Profile facts whose verdicts it touches.")
    functions: list[str] = Field(default_factory=list, description="Functions it touches (empty: all).")
    encoded: dt.date = Field(description="When prodsec's knowledge base took it in.")
    citation: Citation


class ChangeLog(Strict):
    """The knowledge base's history: what changed in the law and which verdicts it touches."""

    law_as_of: dt.date = Field(description="The date up to which the law has been reviewed.")
    changes: list[Change] = Field(min_length=1)
