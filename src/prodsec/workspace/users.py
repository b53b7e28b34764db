"""Organisations, users, roles, API tokens and passwords (argon2)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prodsec.core import limits
from prodsec.db.models import ApiToken, Invitation, Membership, Organisation, User, utcnow
from prodsec.workspace import audit, passwords
from prodsec.workspace.context import (
    ROLES,
    Actor,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    bounded,
)

TOKEN_PREFIX = "psk_"
SYSTEM = "system"


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return str(_hasher().hash("timing equaliser, never anyone's password"))


def _dummy_verify(password: str) -> None:
    """One argon2 verification that cannot succeed, at the cost a real one has: an unknown
    e-mail, or an account without a password, takes as long to refuse as a wrong password."""
    from argon2.exceptions import VerificationError

    hasher = _hasher()
    with contextlib.suppress(VerificationError):
        hasher.verify(_dummy_hash(hasher.time_cost, hasher.memory_cost, hasher.parallelism),
                      passwords.normalise(password))


def hash_password(password: str, context: Iterable[str] = ()) -> str:
    """The argon2 hash of a *new* password that meets the policy (``passwords.problem``);
    ``ValidationFailed`` on the ``password`` field otherwise. Hashes the NFKC form."""
    password = passwords.normalise(password)
    problem = passwords.problem(password, context)
    if problem:
        raise ValidationFailed("password", problem)
    return str(_hasher().hash(password))


def verify_password(user: User, password: str) -> bool:
    """Check a password against the user's hash, NFKC form first; the form as typed is tried
    too only when it differs (a hash made before passwords were normalised)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if not user.password_hash or not user.active:
        _dummy_verify(password)
        return False
    hasher = _hasher()
    for candidate in dict.fromkeys((passwords.normalise(password), password)):
        try:
            if hasher.verify(user.password_hash, candidate):
                return True
        except (VerificationError, InvalidHashError):
            continue
    return False


def get_or_create_org(session: Session, name: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        bounded("organisation", name.strip(), limits.NAME, required=True)
        org = Organisation(name=name.strip())
        session.add(org)
        session.flush()
    return org


def system_actor(org: Organisation) -> Actor:
    """The actor for changes made from the local CLI's set-up commands."""
    return Actor(user_id=SYSTEM, email=SYSTEM, org_id=org.id, role="admin")


def create_user(session: Session, org_name: str, email: str, role: str, password: str | None,
                name: str = "", actor: Actor | None = None) -> tuple[User, Membership]:
    """Create a user with a role in an organisation.

    Only the local set-up (the CLI's system actor, who holds the whole database anyway) may add
    an account that exists already to another organisation; an administrator acting through a
    face adds new accounts only (``add_member``)."""
    if role not in ROLES:
        raise ValidationFailed("role", f"expected one of {', '.join(ROLES)}, got {role!r}")
    email = normalise_email(email)
    bounded("name", name, limits.NAME)
    org = get_or_create_org(session, org_name)
    actor = actor or system_actor(org)
    if actor.org_id != org.id:
        raise NotFound(f"no organisation {org_name!r}")
    actor.require("admin")
    user = session.scalar(select(User).where(User.email == email))
    if user is not None and actor.user_id != SYSTEM:
        refuse_existing_account(email)
    if user is None:
        context = passwords.context_words(email, name, org.name)
        user = User(email=email, name=name,
                    password_hash=hash_password(password, context) if password else None)
        session.add(user)
        session.flush()
    membership = Membership(user_id=user.id, org_id=org.id, role=role)
    session.add(membership)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"{email} is already a member of {org_name}", precondition=False) from None
    audit.record(session, actor, "user.add", "user", user.id, None,
                 {"email": user.email, "role": role})
    return user, membership


def normalise_email(email: str) -> str:
    """The one form of an e-mail address every face stores and looks up.

    Surrounding whitespace is stripped, the text NFKC-normalised and lower-cased (the whole
    address: local parts are case-sensitive in RFC 5321, but no provider we know treats them
    so, and two accounts differing by case would be two lookalikes); then any whitespace,
    control or format character left inside (Unicode Zs, Zl, Zp, Cc, Cf: a space, a tab, a
    zero-width space, a bidi control) is refused, as is anything but one ``local@domain``
    whose domain neither starts nor ends with a dot nor holds two in a row. Before, the API
    stored "  editor@x.test " and "editor@x.test\u200b" as accounts of their own that showed
    as another organisation's member (pentest h11pen F5).
    """
    import unicodedata

    text = unicodedata.normalize("NFKC", email.strip()).lower()
    bounded("email", text, limits.EMAIL)
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in ("Zs", "Zl", "Zp", "Cc", "Cf"):
            raise ValidationFailed("email", f"contains U+{ord(char):04X} "
                                   f"({unicodedata.name(char, 'a control character')}) at "
                                   f"character {position}; an e-mail address has none")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "@" in local or domain.startswith(".") \
            or domain.endswith(".") or ".." in domain:
        raise ValidationFailed("email", f"expected an e-mail address (name@domain), got "
                               f"{text[:80]!r}")
    return text


def lookup_email(email: str) -> str:
    """``normalise_email`` for a lookup (sign-in, token, limiter key): an address that cannot
    be valid becomes one no account has (a space inside; a digest, so no NUL reaches the
    database), so the caller's "unknown" answer is the same either way."""
    try:
        return normalise_email(email)
    except ValidationFailed:
        digest = hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()
        return f"invalid address {digest}"


def refuse_existing_account(email: str) -> None:
    """The one answer to "add an account that exists": adding it would hand this organisation's
    admin a say over someone else's account (tokens in its name, its sign-in landing here)."""
    raise Conflict(f"a user with e-mail {email!r} exists already", precondition=False)


INVITATION_TTL = dt.timedelta(days=14)


def add_member(session: Session, actor: Actor, email: str, role: str, password: str | None,
               name: str = "", ttl: dt.timedelta = INVITATION_TTL) -> Invitation:
    """Invite an address to the actor's organisation with a role (admins only): what the API
    and the web admin page both call. The answer is the same invitation whether or not the
    address has an account, so it tells the admin nothing about other organisations:

    - no account yet: the account is created with ``password`` (the admin's choice, as before)
      and the invitation is accepted by its first sign-in;
    - an account (here unknown to the admin): nothing of it changes, ``password`` is dropped,
      and its owner accepts or declines after signing in (``accept_invitation``) — the admin
      never sets, learns or resets the password of an account of another organisation, and
      cannot issue tokens for it before it is a member.

    The password is required and checked against the policy in both cases, and hashed in both
    (the same argon2 work). An address that is a member here, or invited here already, is a
    409: the admin sees both in this organisation's lists anyway."""
    actor.require("admin")
    if role not in ROLES:
        raise ValidationFailed("role", f"expected one of {', '.join(ROLES)}, got {role!r}")
    email = normalise_email(email)
    bounded("name", name, limits.NAME)
    org_name = organisation_name(session, actor)
    if not password:
        raise ValidationFailed("password", "choose a first password for the account (it is "
                                           "used only if the address has no account yet)")
    hashed = hash_password(password, passwords.context_words(email, name, org_name))
    user = session.scalar(select(User).where(User.email == email))
    if user is not None and session.scalar(select(Membership.id).where(
            Membership.user_id == user.id, Membership.org_id == actor.org_id)) is not None:
        raise Conflict(f"{email} is already a member of this organisation", precondition=False)
    _prune_invitations(session)
    if user is not None and session.scalar(select(Invitation.id).where(
            Invitation.user_id == user.id, Invitation.org_id == actor.org_id)) is not None:
        raise Conflict(f"{email} is already invited to this organisation", precondition=False)
    new_account = user is None
    if user is None:
        user = User(email=email, name=name, password_hash=hashed)
        session.add(user)
        session.flush()
    invitation = Invitation(user_id=user.id, org_id=actor.org_id, role=role,
                            new_account=new_account, invited_by=actor.email,
                            expires_at=utcnow() + ttl)
    session.add(invitation)
    session.flush()
    audit.record(session, actor, "user.invite", "invitation", invitation.id, None,
                 {"email": email, "role": role})
    return invitation


def invitation_view(invitation: Invitation, email: str, organisation: str) -> dict[str, Any]:
    """An invitation as every face shows it (the same fields whatever the account's state)."""
    return {"id": invitation.id, "email": email, "organisation": organisation,
            "role": invitation.role, "status": "pending", "invited_by": invitation.invited_by,
            "expires_at": _aware(invitation.expires_at).isoformat()}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _prune_invitations(session: Session) -> None:
    from sqlalchemy import delete

    session.execute(delete(Invitation).where(Invitation.expires_at < utcnow()))


def list_invitations(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The organisation's pending invitations (admins only)."""
    actor.require("admin")
    org_name = organisation_name(session, actor)
    rows = session.execute(select(Invitation, User.email).join(User, User.id == Invitation.user_id)
                           .where(Invitation.org_id == actor.org_id,
                                  Invitation.expires_at >= utcnow())
                           .order_by(User.email))
    return [invitation_view(i, email, org_name) for i, email in rows]


def cancel_invitation(session: Session, actor: Actor, invitation_id: str) -> None:
    """An admin withdraws a pending invitation of their organisation (the account, if the
    invitation created it, stays without a membership; its owner can be invited again)."""
    actor.require("admin")
    invitation = session.scalar(select(Invitation).where(Invitation.id == invitation_id,
                                                         Invitation.org_id == actor.org_id))
    if invitation is None:
        raise NotFound(f"no invitation {invitation_id!r}")
    session.delete(invitation)
    session.flush()
    audit.record(session, actor, "user.invite_cancel", "invitation", invitation_id, None, None)


def my_invitations(session: Session, user_id: str) -> list[dict[str, Any]]:
    """The pending invitations of the signed-in user, to any organisation."""
    rows = session.execute(select(Invitation, User.email, Organisation.name)
                           .join(User, User.id == Invitation.user_id)
                           .join(Organisation, Organisation.id == Invitation.org_id)
                           .where(Invitation.user_id == user_id,
                                  Invitation.expires_at >= utcnow())
                           .order_by(Organisation.name))
    return [invitation_view(i, email, org) for i, email, org in rows]


def accept_invitation(session: Session, user_id: str, invitation_id: str) -> Actor:
    """The invited user accepts: a membership with the invited role; audited in the inviting
    organisation. Returns the user as a member there."""
    invitation = _own_invitation(session, user_id, invitation_id)
    return _join(session, invitation)


def decline_invitation(session: Session, user_id: str, invitation_id: str) -> None:
    invitation = _own_invitation(session, user_id, invitation_id)
    user = session.get(User, user_id)
    session.delete(invitation)
    session.flush()
    audit.record(session, Actor(user_id, user.email if user else "", invitation.org_id, "viewer"),
                 "user.invite_decline", "invitation", invitation.id, None, None)


def invitation_org(session: Session, user_id: str, invitation_id: str) -> str:
    """The organisation of the user's own pending invitation (NotFound for anyone else's):
    the answer is written to that organisation's chain, so its writer's turn is taken."""
    return _own_invitation(session, user_id, invitation_id).org_id


def _own_invitation(session: Session, user_id: str, invitation_id: str) -> Invitation:
    invitation = session.scalar(select(Invitation).where(
        Invitation.id == invitation_id, Invitation.user_id == user_id,
        Invitation.expires_at >= utcnow()))
    if invitation is None:
        raise NotFound(f"no invitation {invitation_id!r}")
    return invitation


def _join(session: Session, invitation: Invitation) -> Actor:
    user = session.get(User, invitation.user_id)
    if user is None:
        raise NotFound("no such user")
    member = Actor(user.id, user.email, invitation.org_id, invitation.role)
    session.delete(invitation)
    existing = session.scalar(select(Membership).where(Membership.user_id == user.id,
                                                       Membership.org_id == invitation.org_id))
    if existing is not None:  # made a member meanwhile (the local set-up): keep that role
        session.flush()
        return Actor(user.id, user.email, existing.org_id, existing.role)
    session.add(Membership(user_id=user.id, org_id=invitation.org_id, role=invitation.role))
    session.flush()
    audit.record(session, member, "user.join", "user", user.id, None,
                 {"email": user.email, "role": invitation.role,
                  "invited_by": invitation.invited_by})
    return member


def _first_sign_in(session: Session, user: User) -> None:
    """An account created by an invitation becomes a member when it first signs in."""
    invitation = session.scalar(select(Invitation).where(
        Invitation.user_id == user.id, Invitation.new_account.is_(True),
        Invitation.expires_at >= utcnow()))
    if invitation is not None:
        _join(session, invitation)


def memberships(session: Session, user: User) -> list[tuple[Membership, str]]:
    """The user's memberships with their organisations' names, by name."""
    rows = session.execute(select(Membership, Organisation.name)
                           .join(Organisation, Organisation.id == Membership.org_id)
                           .where(Membership.user_id == user.id).order_by(Organisation.name))
    return [(m, name) for m, name in rows]


def actor_for(session: Session, user: User, org_id: str | None = None) -> Actor:
    """The user acting in ``org_id`` (a token's or session's organisation); without one, in
    the user's only organisation. Never a guess: an account in several organisations must
    say which (see ``authenticate_password``)."""
    query = select(Membership).where(Membership.user_id == user.id)
    if org_id:
        query = query.where(Membership.org_id == org_id)
    found = list(session.scalars(query.limit(2)))
    if not found:
        raise NotFound("no membership")
    if len(found) > 1:
        raise ValidationFailed("organisation", "this account belongs to several organisations; "
                                               "choose one")
    membership = found[0]
    return Actor(user.id, user.email, membership.org_id, membership.role)


def authenticate_password(session: Session, email: str, password: str,
                          organisation: str | None = None) -> Actor | None:
    """The actor for a correct password, else None — the same None, after the same one argon2
    verification, for an unknown e-mail, a wrong password, an inactive account and an account
    without any membership, so neither the answer nor its timing tells which.

    An account in several organisations signs in to the one it names; without a name (or with
    one it does not belong to) the answer is ``ValidationFailed`` on ``organisation`` listing
    its organisations — told only to whoever knows the password."""
    user = session.scalar(select(User).where(User.email == lookup_email(email)))
    if user is None:
        _dummy_verify(password)
        return None
    if not verify_password(user, password):
        return None
    _first_sign_in(session, user)
    mine = memberships(session, user)
    if not mine:
        return None
    chosen = [m for m, name in mine if name == organisation] if organisation else []
    if not chosen and (organisation or len(mine) > 1):
        raise OrganisationChoice([name for _m, name in mine])
    membership = chosen[0] if chosen else mine[0][0]
    return Actor(user.id, user.email, membership.org_id, membership.role)


class OrganisationChoice(ValidationFailed):
    """The password is right and the account is in several organisations: name one."""

    def __init__(self, organisations: list[str]) -> None:
        super().__init__("organisation", "this account belongs to several organisations; "
                                         f"choose one of: {', '.join(organisations)}")
        self.organisations = organisations


def create_token(session: Session, actor: Actor, user_email: str, name: str,
                 days: int | None = 365) -> tuple[str, ApiToken]:
    """Issue a token for a member of the actor's organisation; the secret is shown once."""
    user = session.scalar(select(User).where(User.email == lookup_email(user_email)))
    if user is None or session.scalar(select(Membership).where(
            Membership.user_id == user.id, Membership.org_id == actor.org_id)) is None:
        raise NotFound(f"no user {user_email!r} in this organisation")
    if user.id != actor.user_id:
        actor.require("admin")
    bounded("name", name, limits.NAME)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, org_id=actor.org_id, name=name,
                     token_hash=hashlib.sha256(secret.encode()).hexdigest(), prefix=secret[:10],
                     expires_at=utcnow() + dt.timedelta(days=days) if days else None)
    session.add(token)
    session.flush()
    audit.record(session, actor, "token.create", "api_token", token.id, None,
                 {"user": user.email, "name": name, "prefix": token.prefix})
    return secret, token


def authenticate_token(session: Session, secret: str) -> Actor | None:
    """The actor of a valid bearer token, else None (unknown, revoked, expired, or its user
    deactivated). One query for the token, its user and their membership of the token's
    organisation: every API request runs it (it was three round trips)."""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    row = session.execute(
        select(ApiToken.revoked, ApiToken.expires_at, ApiToken.org_id, User.id, User.email,
               User.active, Membership.role)
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(Membership, (Membership.user_id == ApiToken.user_id)
                   & (Membership.org_id == ApiToken.org_id))
        .where(ApiToken.token_hash == digest)).first()
    if row is None:
        return None
    revoked, expires, org_id, user_id, email, active, role = row
    if revoked or not active:
        return None
    if expires is not None:
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        if expires < utcnow():
            return None
    if role is None:
        raise NotFound("no membership")
    return Actor(user_id, email, org_id, role)


# ---- members and tokens of the actor's organisation (admin only) --------------------------


def organisation_name(session: Session, actor: Actor) -> str:
    org = session.get(Organisation, actor.org_id)
    if org is None:
        raise NotFound("no organisation")
    return org.name


def member_view(user: User, membership: Membership) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "role": membership.role,
            "active": user.active, "created_at": user.created_at.isoformat()}


def list_members(session: Session, actor: Actor, limit: int = 50, offset: int = 0
                 ) -> tuple[list[tuple[User, Membership]], int]:
    actor.require("admin")
    from sqlalchemy import func

    query = (select(User, Membership).join(Membership, Membership.user_id == User.id)
             .where(Membership.org_id == actor.org_id))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(User.email).limit(limit).offset(offset)).all()
    return [(u, m) for u, m in rows], int(total)


def member_by_email(session: Session, actor: Actor, email: str) -> User:
    """The member of the actor's organisation with this address: how the command line names
    a user. Tenancy here, once: an account of another organisation is "no user", as unknown
    as one that does not exist (the faces ran their own ``select(User)`` before)."""
    user = session.scalar(select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.org_id == actor.org_id, User.email == lookup_email(email)))
    if user is None:
        raise NotFound(f"no user {email!r} in this organisation")
    return user


def get_member(session: Session, actor: Actor, user_id: str) -> tuple[User, Membership]:
    actor.require("admin")
    row = session.execute(select(User, Membership).join(Membership, Membership.user_id == User.id)
                          .where(Membership.org_id == actor.org_id, User.id == user_id)).first()
    if row is None:
        raise NotFound(f"no user {user_id!r} in this organisation")
    return row[0], row[1]


def set_role(session: Session, actor: Actor, user_id: str, role: str) -> tuple[User, Membership]:
    user, membership = get_member(session, actor, user_id)
    if role not in ROLES:
        raise ValidationFailed("role", f"expected one of {', '.join(ROLES)}, got {role!r}")
    if user.id == actor.user_id and role != "admin":
        raise ValidationFailed("role", "you cannot demote yourself; ask another admin")
    before = membership.role
    membership.role = role
    session.flush()
    audit.record(session, actor, "user.role", "user", user.id, {"role": before}, {"role": role})
    return user, membership


def remove_member(session: Session, actor: Actor, user_id: str) -> None:
    """Take a user out of the organisation, with the tokens they held for it."""
    user, membership = get_member(session, actor, user_id)
    if user.id == actor.user_id:
        raise ValidationFailed("user", "you cannot remove yourself; ask another admin")
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                        ApiToken.org_id == actor.org_id)):
        token.revoked = True
    session.delete(membership)
    session.flush()
    audit.record(session, actor, "user.remove", "user", user.id,
                 {"email": user.email, "role": membership.role}, None)


def token_view(token: ApiToken, email: str) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "prefix": token.prefix, "user": email,
            "created_at": token.created_at.isoformat(),
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            "revoked": token.revoked}


def list_tokens(session: Session, actor: Actor, limit: int = 50, offset: int = 0
                ) -> tuple[list[tuple[ApiToken, str]], int]:
    actor.require("admin")
    from sqlalchemy import func

    query = (select(ApiToken, User.email).join(User, User.id == ApiToken.user_id)
             .where(ApiToken.org_id == actor.org_id))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(ApiToken.created_at, ApiToken.id)
                           .limit(limit).offset(offset)).all()
    return [(t, e) for t, e in rows], int(total)


def revoke_token(session: Session, actor: Actor, token_id: str) -> ApiToken:
    actor.require("admin")
    token = session.scalar(select(ApiToken).where(ApiToken.org_id == actor.org_id,
                                                  ApiToken.id == token_id))
    if token is None:
        raise NotFound(f"no token {token_id!r}")
    token.revoked = True
    session.flush()
    audit.record(session, actor, "token.revoke", "api_token", token.id, None,
                 {"prefix": token.prefix})
    return token


def email_registered(session: Session, email: str) -> bool:
    return session.scalar(select(User.id).where(User.email == lookup_email(email))) is not None


# ---- passwords: change, admin reset --------------------------------------------------------

RESET_PREFIX = "psr_"
RESET_TTL = dt.timedelta(hours=24)


def end_sessions(session: Session, user_id: str, keep_secret: str | None = None) -> int:
    """End every browser session of the user but the one whose cookie secret is
    ``keep_secret``: a session opened with an old password must not outlive it."""
    from sqlalchemy import delete

    from prodsec.db.models import WebSession

    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_secret:
        query = query.where(WebSession.id != hashlib.sha256(keep_secret.encode()).hexdigest())
    return int(getattr(session.execute(query), "rowcount", 0) or 0)


def _set_password(session: Session, user: User, org_id: str, new_password: str) -> None:
    org = session.get(Organisation, org_id)
    context = passwords.context_words(user.email, user.name, org.name if org else "")
    user.password_hash = hash_password(new_password, context)


def change_password(session: Session, actor: Actor, current_password: str, new_password: str,
                    keep_session: str | None = None) -> int:
    """The signed-in user changes their own password, knowing the current one; every other
    session of theirs ends (the one with cookie secret ``keep_session`` stays). Audited in the
    actor's organisation. Returns how many sessions ended."""
    user = session.get(User, actor.user_id)
    if user is None:
        raise NotFound("no such user")
    if not verify_password(user, current_password):
        raise ValidationFailed("current_password", "is not your current password")
    _set_password(session, user, actor.org_id, new_password)
    session.execute(delete_resets(user.id))
    ended = end_sessions(session, user.id, keep_session)
    session.flush()
    audit.record(session, actor, "user.password_change", "user", user.id, None,
                 {"sessions_ended": ended})
    return ended


def delete_resets(user_id: str) -> Any:
    from sqlalchemy import delete

    from prodsec.db.models import PasswordReset

    return delete(PasswordReset).where(PasswordReset.user_id == user_id)


def issue_password_reset(session: Session, actor: Actor, user_id: str,
                         ttl: dt.timedelta = RESET_TTL) -> tuple[str, dt.datetime]:
    """An admin resets a member's password: the old one stops working at once, their sessions
    end, and a one-time secret (shown once, valid ``ttl``) lets the member choose a new one.

    Only for accounts that belong to the admin's organisation alone: an account that is also
    a member elsewhere is its owner's to manage, or this admin could take over its access to
    the other organisation. An admin changes their own password with the current one.
    """
    from prodsec.db.models import PasswordReset

    user, _membership = get_member(session, actor, user_id)
    if user.id == actor.user_id:
        raise ValidationFailed("user", "change your own password with your current one")
    elsewhere = session.scalar(select(Membership.id).where(
        Membership.user_id == user.id, Membership.org_id != actor.org_id).limit(1))
    if elsewhere is not None:
        raise PermissionDenied(f"{user.email} also belongs to other organisations; only its "
                               "owner can change its password")
    secret = RESET_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + ttl
    session.execute(delete_resets(user.id))
    session.add(PasswordReset(token_hash=hashlib.sha256(secret.encode()).hexdigest(),
                              user_id=user.id, org_id=actor.org_id, expires_at=expires))
    user.password_hash = None
    ended = end_sessions(session, user.id)
    session.flush()
    audit.record(session, actor, "user.password_reset", "user", user.id, None,
                 {"email": user.email, "expires_at": expires.isoformat(),
                  "sessions_ended": ended})
    return secret, expires


def reset_organisation(session: Session, secret: str) -> str:
    """The organisation whose admin issued the reset secret (the redemption is audited there,
    so its writer's turn is taken); the same ``ValidationFailed`` as ``redeem`` if unknown."""
    from prodsec.db.models import PasswordReset

    reset = session.get(PasswordReset, hashlib.sha256(secret.strip().encode()).hexdigest())
    if reset is None:
        raise ValidationFailed("token", "is unknown, used or expired; ask your admin for another")
    return reset.org_id


def redeem_password_reset(session: Session, secret: str, new_password: str) -> User:
    """Set a new password with an admin's reset secret (once, before it expires); audited in
    the organisation whose admin issued it. Every session of the user ends."""
    from prodsec.db.models import PasswordReset

    reset = session.get(PasswordReset, hashlib.sha256(secret.strip().encode()).hexdigest())
    expires = reset.expires_at if reset else None
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    user = session.get(User, reset.user_id) if reset else None
    if reset is None or user is None or expires is None or expires < utcnow():
        raise ValidationFailed("token", "is unknown, used or expired; ask your admin for another")
    _set_password(session, user, reset.org_id, new_password)
    session.execute(delete_resets(user.id))
    ended = end_sessions(session, user.id)
    role = session.scalar(select(Membership.role).where(
        Membership.user_id == user.id, Membership.org_id == reset.org_id)) or "viewer"
    session.flush()
    audit.record(session, Actor(user.id, user.email, reset.org_id, role),
                 "user.password_set", "user", user.id, None, {"sessions_ended": ended})
    return user
