"""Who is acting: a user in one organisation with one role, and what that role may do."""

from __future__ import annotations

from dataclasses import dataclass

from prodsec.errors import InputError, ProdsecError

ROLES = ("admin", "editor", "viewer")


class PermissionDenied(ProdsecError):
    """The actor's role does not allow this action (HTTP 403)."""

    exit_code = 2


class NotFound(InputError):
    """No such object *in the actor's organisation* (HTTP 404: existence is never revealed)."""


class Conflict(InputError):
    """The object changed since it was read (HTTP 412), or a uniqueness rule was broken (409)."""

    def __init__(self, message: str, current: object = None, precondition: bool = True) -> None:
        super().__init__(message)
        self.current = current
        self.precondition = precondition


class ValidationFailed(InputError):
    """A field is invalid (HTTP 422); ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message


class EvidenceTooLarge(ValidationFailed):
    """An upload over the size limit (HTTP 413)."""


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


def bounded(field: str, value: str, limit: int, *, required: bool = False) -> str:
    """``value`` when it fits ``limit`` (see ``prodsec.core.limits``), else ValidationFailed."""
    from prodsec.core.limits import problem

    wrong = problem(value, limit, required=required)
    if wrong:
        raise ValidationFailed(field, wrong)
    return value
