"""Who is acting: a user in one organisation with one role, and what that role may do."""

from __future__ import annotations

from dataclasses import dataclass

# The workspace's kinds of error live in the one tree; imported from here too.
from prodsec.errors import Conflict as Conflict
from prodsec.errors import EvidenceTooLarge as EvidenceTooLarge
from prodsec.errors import NotFound as NotFound
from prodsec.errors import PermissionDenied as PermissionDenied
from prodsec.errors import ValidationFailed as ValidationFailed

ROLES = ("admin", "editor", "viewer")


@dataclass(frozen=True)
class Actor:
    user_id: str
    email: str
    org_id: str
    role: str

    def require(self, role: str) -> None:
        """Editors and admins write; only admins manage users and tokens."""
        allowed = {"viewer": ROLES, "editor": ("admin", "editor"), "admin": ("admin",)}[role]
        if self.role not in allowed:
            raise PermissionDenied(f"{self.email} is {self.role} here; this needs {role}")


def check_page(limit: int, offset: int = 0) -> None:
    """Refuse a page of more than ``core.limits.PAGE_SIZE`` rows (or none, or a negative
    offset) here, for every face: the API's query bound alone left the services unbounded."""
    from prodsec.core.limits import PAGE_SIZE

    if not 1 <= limit <= PAGE_SIZE:
        raise ValidationFailed("limit", f"must be between 1 and {PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise ValidationFailed("offset", f"must not be negative, got {offset}")


def bounded(field: str, value: str, limit: int, *, required: bool = False) -> str:
    """``value`` when it fits ``limit`` (see ``prodsec.core.limits``), else ValidationFailed."""
    from prodsec.core.limits import problem

    wrong = problem(value, limit, required=required)
    if wrong:
        raise ValidationFailed(field, wrong)
    return value
