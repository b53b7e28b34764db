"""The one shape of a verdict as every face shows it: the JSON the CLI prints, the API answers
(its OpenAPI schema is built from these types), the web renders and the documents quote.

``core.applicability`` builds these with its ``to_dict`` methods; nothing else defines a
verdict. Kept apart from the engine so that ``prodsec check`` does not import
``typing_extensions`` (pydantic needs its ``TypedDict`` on Python 3.11): the engine names these
types for the type checker only.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict


class _Reason(TypedDict):
    text: str
    citation: str | None
    holds: bool | None


class ReasonView(_Reason, total=False):
    """Why a condition came out as it did; ``decisive`` is present (false) only for a
    condition that agrees with the one that decided and is shown folded ("also checked")."""

    decisive: bool


class ObligationView(TypedDict):
    id: str
    title: str
    text: str
    applies_from: str
    until: str | None
    in_force: bool
    nature: str
    citation: str | None
    requirements: list[str]
    deadlines: list[dict[str, Any]]


class VerdictView(TypedDict):
    """One instrument's verdict for one product on one date."""

    regulation: str
    title: str
    status: str
    category: str | None
    assessment: str | None
    assessment_detail: str | None
    applies_from: str | None
    reasons: list[ReasonView]
    missing_facts: list[str]
    obligations: list[ObligationView]
    standards: list[dict[str, Any]]
    requirements: dict[str, list[str]]


class CheckView(TypedDict):
    """Every verdict for one product, and the comply-once groups."""

    product: str
    as_of: str
    law_as_of: str | None
    results: list[VerdictView]
    comply_once: list[dict[str, Any]]
