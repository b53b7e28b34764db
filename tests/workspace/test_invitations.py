"""Adding a member is an invitation (issue 11): one answer for every address, on SQLite and
PostgreSQL; a new account joins at its first sign-in, an existing one only when its owner
accepts; nothing of another organisation's account changes before that."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from prodsec.db.engine import Database
from prodsec.db.models import Invitation, Membership, User
from prodsec.workspace import users
from prodsec.workspace.context import Actor, Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.workspace.conftest import make_actor

PASSWORD = "amber lantern over quiet fjords"
TYPED = "the admin's choice of password"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(1, 8, 1))


@pytest.fixture
def admin(database: Database) -> Actor:
    return make_actor(database, "Acme", "admin")


def invite(database: Database, actor: Actor, email: str, password: str = TYPED,
           role: str = "editor") -> dict[str, object]:
    with database.transaction() as session:
        invitation = users.add_member(session, actor, email, role, password)
        return users.invitation_view(invitation, email, users.organisation_name(session, actor))


def sign_in(database: Database, email: str, password: str = PASSWORD,
            organisation: str | None = None) -> Actor | None:
    with database.transaction() as session:
        return users.authenticate_password(session, email, password, organisation)


def test_an_account_elsewhere_and_a_new_address_get_the_same_answer(
        database: Database, admin: Actor, outsider: Actor) -> None:
    answers = [invite(database, admin, email) for email in (outsider.email, "new@acme.example")]
    masked = [{k: v for k, v in a.items() if k not in ("id", "email", "expires_at")}
              for a in answers]
    assert masked[0] == masked[1] and set(answers[0]) == set(answers[1])
    with database.transaction() as session:  # the outsider's account is untouched
        user = session.scalar(select(User).where(User.email == outsider.email))
        assert user is not None and users.verify_password(user, PASSWORD)
        assert not users.verify_password(user, TYPED)
        orgs = set(session.scalars(select(Membership.org_id).where(Membership.user_id == user.id)))
    assert orgs == {outsider.org_id}
    for email in (outsider.email, "another@acme.example"):  # the policy, either way
        with pytest.raises(ValidationFailed, match="password"):
            invite(database, admin, email, "short")
        with pytest.raises(ValidationFailed, match="password"):
            invite(database, admin, email, "")


def test_a_new_account_joins_at_its_first_sign_in(database: Database, admin: Actor) -> None:
    invite(database, admin, "New@Acme.example", role="viewer")
    actor = sign_in(database, "new@acme.example", TYPED)
    assert actor is not None and (actor.org_id, actor.role) == (admin.org_id, "viewer")
    with database.transaction() as session:
        assert users.list_invitations(session, admin) == []
        assert session.scalar(select(Invitation.id)) is None


def test_an_existing_account_joins_only_when_its_owner_accepts(
        database: Database, admin: Actor, outsider: Actor) -> None:
    invite(database, admin, outsider.email, role="viewer")
    signed = sign_in(database, outsider.email)
    assert signed is not None and signed.org_id == outsider.org_id  # not joined by signing in
    with database.transaction() as session:
        mine = users.my_invitations(session, outsider.user_id)
        assert [(i["organisation"], i["role"]) for i in mine] == [("Acme", "viewer")]
        with pytest.raises(NotFound):  # someone else's invitation is no invitation
            users.accept_invitation(session, admin.user_id, str(mine[0]["id"]))
        member = users.accept_invitation(session, outsider.user_id, str(mine[0]["id"]))
    assert (member.org_id, member.role) == (admin.org_id, "viewer")
    assert sign_in(database, outsider.email, organisation="Acme") is not None
    with database.transaction() as session:  # in two organisations now: not Acme's to reset
        with pytest.raises(PermissionDenied):
            users.issue_password_reset(session, admin, outsider.user_id)
        with pytest.raises(Conflict, match="already a member"):
            users.add_member(session, admin, outsider.email, "viewer", TYPED)


def test_declined_withdrawn_and_expired_invitations(database: Database, admin: Actor,
                                                    outsider: Actor) -> None:
    first = invite(database, admin, outsider.email)
    with database.transaction() as session, pytest.raises(Conflict, match="already invited"):
        users.add_member(session, admin, outsider.email, "viewer", TYPED)
    with database.transaction() as session:
        users.decline_invitation(session, outsider.user_id, str(first["id"]))
    second = invite(database, admin, outsider.email)
    with database.transaction() as session:
        with pytest.raises(NotFound):  # another organisation's admin cannot withdraw it
            users.cancel_invitation(session, outsider, str(second["id"]))
        users.cancel_invitation(session, admin, str(second["id"]))
        assert users.my_invitations(session, outsider.user_id) == []
    invite(database, admin, "late@acme.example")
    with database.transaction() as session:
        row = session.scalar(select(Invitation))
        assert row is not None
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert sign_in(database, "late@acme.example", TYPED) is None  # expired: no membership


def test_only_admins_invite(database: Database, editor: Actor) -> None:
    with database.transaction() as session, pytest.raises(PermissionDenied):
        users.add_member(session, editor, "new@acme.example", "viewer", TYPED)
