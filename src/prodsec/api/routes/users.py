"""Members of the organisation and their roles, and API tokens: admins only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Response

from prodsec.api import schemas
from prodsec.api.deps import Admin, PagingDep
from prodsec.workspace import users

if TYPE_CHECKING:
    from prodsec.db.models import Membership, User

router = APIRouter(tags=["users"])


def _member(pair: tuple[User, Membership]) -> schemas.Member:
    return schemas.Member.model_validate(users.member_view(*pair))


@router.get("/users", response_model=schemas.Page[schemas.Member])
def list_users(work: Admin, page: PagingDep) -> schemas.Page[schemas.Member]:
    rows, total = users.list_members(work.session, work.actor, page.limit, page.offset)
    return schemas.Page[schemas.Member](items=[_member(r) for r in rows], total=total,
                                        limit=page.limit, offset=page.offset)


@router.post("/users", status_code=201, response_model=schemas.InvitationOut,
             responses={409: {"model": schemas.Problem}, 422: {"model": schemas.Problem}})
def add_user(work: Admin, body: schemas.MemberIn) -> schemas.InvitationOut:
    """Invite an address with a role: the same answer (an invitation) whether or not it has an
    account anywhere on this server (see ``users.add_member``). A new address gets an account
    with ``password``, which becomes a member at its first sign-in; an existing account's
    owner accepts at ``POST /auth/invitations/{id}/accept``. 409 only for a member of, or an
    invitation to, this organisation."""
    invitation = users.add_member(work.session, work.actor, body.email, body.role,
                                  body.password, body.name)
    return schemas.InvitationOut.model_validate(users.invitation_view(
        invitation, users.normalise_email(body.email),
        users.organisation_name(work.session, work.actor)))


@router.get("/invitations", response_model=list[schemas.InvitationOut])
def list_invitations(work: Admin) -> list[schemas.InvitationOut]:
    """This organisation's pending invitations."""
    return [schemas.InvitationOut.model_validate(i)
            for i in users.list_invitations(work.session, work.actor)]


@router.delete("/invitations/{invitation_id}", status_code=204, response_class=Response)
def cancel_invitation(work: Admin, invitation_id: str) -> Response:
    users.cancel_invitation(work.session, work.actor, invitation_id)
    return Response(status_code=204)


@router.get("/users/{user_id}", response_model=schemas.Member)
def get_user(work: Admin, user_id: str) -> schemas.Member:
    return _member(users.get_member(work.session, work.actor, user_id))


@router.patch("/users/{user_id}", response_model=schemas.Member)
def set_role(work: Admin, user_id: str, body: schemas.RoleIn) -> schemas.Member:
    return _member(users.set_role(work.session, work.actor, user_id, body.role))


@router.post("/users/{user_id}/password-reset", status_code=201,
             response_model=schemas.PasswordResetOut)
def reset_password(work: Admin, user_id: str) -> schemas.PasswordResetOut:
    """Reset a member's password: the old one stops working and their sessions end; the
    one-time secret in this response (valid 24 h) lets them choose a new one at
    ``POST /auth/password-reset``. Only for members of this organisation alone."""
    secret, expires = users.issue_password_reset(work.session, work.actor, user_id)
    return schemas.PasswordResetOut(token=secret, expires_at=expires)


@router.get("/users/{user_id}/devices", response_model=list[schemas.Device])
def member_devices(work: Admin, user_id: str) -> list[schemas.Device]:
    """A member's remembered sign-in devices."""
    from prodsec.workspace import devices

    return [schemas.Device.model_validate(d)
            for d in devices.list_devices(work.session, work.actor, user_id)]


@router.delete("/users/{user_id}/devices/{device_id}", status_code=204,
               response_class=Response)
def revoke_member_device(work: Admin, user_id: str, device_id: str) -> Response:
    """Forget a member's device (a lost laptop): its cookie no longer exempts sign-ins."""
    from prodsec.workspace import devices

    devices.revoke(work.session, work.actor, device_id, user_id)
    return Response(status_code=204)


@router.delete("/users/{user_id}", status_code=204, response_class=Response)
def remove_user(work: Admin, user_id: str) -> Response:
    """Remove the user from this organisation and revoke their tokens for it."""
    users.remove_member(work.session, work.actor, user_id)
    return Response(status_code=204)


@router.get("/tokens", response_model=schemas.Page[schemas.Token])
def list_tokens(work: Admin, page: PagingDep) -> schemas.Page[schemas.Token]:
    rows, total = users.list_tokens(work.session, work.actor, page.limit, page.offset)
    return schemas.Page[schemas.Token](
        items=[schemas.Token.model_validate(users.token_view(t, e)) for t, e in rows],
        total=total, limit=page.limit, offset=page.offset)


@router.post("/tokens", status_code=201, response_model=schemas.TokenCreated)
def create_token(work: Admin, body: schemas.TokenIn) -> schemas.TokenCreated:
    """Issue a token for a member; the secret is in this response only."""
    secret, token = users.create_token(work.session, work.actor, body.email, body.name, body.days)
    view = users.token_view(token, users.lookup_email(body.email))
    return schemas.TokenCreated.model_validate(view | {"token": secret})


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
def revoke_token(work: Admin, token_id: str) -> Response:
    users.revoke_token(work.session, work.actor, token_id)
    return Response(status_code=204)
