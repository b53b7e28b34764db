"""Cookie sessions for the web UI: log in (rate-limited), who am I, log out; passwords."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from prodsec.api import schemas
from prodsec.api.clients import request_client
from prodsec.api.deps import (
    SESSION_COOKIE,
    AppState,
    StateDep,
    UnitDep,
    app_state,
    authenticate,
    authorised,
)
from prodsec.api.problems import ApiError
from prodsec.core.clock import utcnow
from prodsec.errors import LoginThrottled
from prodsec.workspace import devices, sessions, users, writes
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.throttle import password_change_key

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(prefix="/auth", tags=["auth"])
T = TypeVar("T")


def _me(actor: Actor) -> dict[str, str]:
    return {"user_id": actor.user_id, "email": actor.email, "org_id": actor.org_id,
            "role": actor.role}


def _client(request: Request, state: AppState) -> str:
    return request_client(request, state.settings.trusted_proxies)


@router.post("/login", response_model=schemas.LoginOut,
             responses={401: {"model": schemas.Problem}, 429: {"model": schemas.Problem}})
def login(body: schemas.LoginIn, request: Request, response: Response,
          state: Annotated[AppState, Depends(app_state)]) -> schemas.LoginOut:
    """Check the password (argon2); set the session cookie and return its CSRF token.

    Every failure answers the same 401, whether the e-mail is unknown, the password wrong or
    the account in no organisation. Per account and per client, five failures start a
    back-off (429 with Retry-After: 1 s, doubling per further failure, at most 15 minutes),
    so guessing is slow from one place, spraying one account from many places is too, and a
    stranger cannot lock the real user out for long. A success also sets a fresh
    ``prodsec_device`` cookie: sent back with a later login for the same account, that attempt
    is limited by the device's own budget, so strangers failing on the account do not keep
    its owner out (``workspace.devices``).
    """
    # A LoginThrottled is the problem handler's 429 with Retry-After, like every tree error.
    actor = sessions.sign_in(state.database, state.limiter, body.email, body.password,
                             _client(request, state), body.organisation,
                             request.cookies.get(devices.COOKIE))
    if actor is None:
        raise ApiError(401, "wrong e-mail or password")
    with state.database.transaction() as session:
        secret, csrf = sessions.create_session(session, actor, state.settings.session_ttl)
        device = devices.remember(session, actor, request.headers.get("user-agent"),
                                  request.cookies.get(devices.COOKIE))
    expires = utcnow() + state.settings.session_ttl
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(state.settings.session_ttl
                                                              .total_seconds()),
                        httponly=True, samesite="lax", path="/",
                        secure=state.settings.secure_cookies or request.url.scheme == "https")
    response.set_cookie(devices.COOKIE, device, max_age=devices.max_age(),
                        httponly=True, samesite="strict", path="/",
                        secure=state.settings.secure_cookies or request.url.scheme == "https")
    return schemas.LoginOut.model_validate(_me(actor) | {"csrf_token": csrf,
                                                         "expires_at": expires})


def _signed_in(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Actor:
    """Who is asking, in a transaction of its own (and before the body is parsed)."""
    with state.database.transaction() as session:
        return authenticate(request, session)


@router.post("/password", status_code=204, response_class=Response,
             responses={422: {"model": schemas.Problem}, 429: {"model": schemas.Problem}})
async def change_password(actor: Annotated[Actor, Depends(_signed_in)],
                          body: schemas.PasswordChangeIn, request: Request,
                          state: Annotated[AppState, Depends(app_state)]) -> Response:
    """Change your own password, knowing the current one; your other sessions end.

    A wrong current password is a failed attempt with the sign-in's back-off, on the user's
    own key (``throttle.password_change_key``), so a stolen session cannot be used to guess
    the password behind it, and strangers failing to sign in cannot keep the owner from
    changing it. (No ``Unit`` here: the limiter commits in its own transactions, which on
    SQLite must not wait for the request's; the change itself is a queued write.)"""
    limiter = state.limiter
    keys = (password_change_key(actor.user_id),)
    wait = await run_in_threadpool(limiter.claim, *keys)
    if wait:
        raise LoginThrottled(wait)
    try:
        await writes.write(state.database, actor.org_id, lambda s: users.change_password(
            s, actor, body.current_password, body.new_password,
            request.cookies.get(SESSION_COOKIE)))
    except ValidationFailed as exc:
        wrong = exc.field == "current_password"
        await run_in_threadpool(limiter.failed if wrong else limiter.release, *keys)
        raise
    except BaseException:
        await run_in_threadpool(limiter.release, *keys)
        raise
    await run_in_threadpool(limiter.succeeded, *keys)
    return Response(status_code=204)


@router.post("/password-reset", status_code=204, response_class=Response,
             responses={422: {"model": schemas.Problem}})
async def redeem_password_reset(body: schemas.PasswordResetIn,
                                state: Annotated[AppState, Depends(app_state)]) -> Response:
    """Choose a new password with the one-time secret an admin issued (no sign-in needed:
    the secret is the proof); it is used up, and every session of the account ends. A write
    of the issuing organisation (``writes.write``)."""
    org_id = await writes.read(state.database, lambda s: users.reset_organisation(s, body.token))
    await writes.write(state.database, org_id, lambda s: users.redeem_password_reset(
        s, body.token, body.new_password))
    return Response(status_code=204)


@router.get("/invitations", response_model=list[schemas.InvitationOut])
def my_invitations(work: UnitDep) -> list[schemas.InvitationOut]:
    """Your pending invitations to organisations (accept or decline each)."""
    return [schemas.InvitationOut.model_validate(i)
            for i in users.my_invitations(work.session, work.actor.user_id)]


async def _answer(request: Request, state: AppState, invitation_id: str,
                  answer: Callable[[Session, str, str], T]) -> T:
    """Who asks (a read), the invitation's organisation (a read, 404 unless it is theirs),
    then the answer as a write of *that* organisation (its writer's turn and chain lock: the
    event is recorded there), not of the one the user is signed in to."""
    actor = await authorised(request, state, "viewer")
    org_id = await writes.read(state.database, lambda s: users.invitation_org(
        s, actor.user_id, invitation_id))
    return await writes.write(state.database, org_id, lambda s: answer(
        s, actor.user_id, invitation_id))


@router.post("/invitations/{invitation_id}/accept", response_model=schemas.Me,
             responses={404: {"model": schemas.Problem}})
async def accept_invitation(invitation_id: str, request: Request, state: StateDep) -> schemas.Me:
    """Join the inviting organisation with the invited role; sign in to it (naming it) to
    work there."""
    member = await _answer(request, state, invitation_id, users.accept_invitation)
    return schemas.Me.model_validate(_me(member))


@router.post("/invitations/{invitation_id}/decline", status_code=204, response_class=Response,
             responses={404: {"model": schemas.Problem}})
async def decline_invitation(invitation_id: str, request: Request, state: StateDep) -> Response:
    await _answer(request, state, invitation_id, users.decline_invitation)
    return Response(status_code=204)


@router.get("/me", response_model=schemas.Me)
def me(work: UnitDep) -> schemas.Me:
    return schemas.Me.model_validate(_me(work.actor))


@router.get("/devices", response_model=list[schemas.Device])
def my_devices(work: UnitDep, request: Request) -> list[schemas.Device]:
    """Your remembered sign-in devices, newest first; ``current`` is the one asking."""
    return [schemas.Device.model_validate(d) for d in devices.list_devices(
        work.session, work.actor, current=request.cookies.get(devices.COOKIE))]


@router.delete("/devices/{device_id}", status_code=204, response_class=Response)
def revoke_my_device(work: UnitDep, device_id: str) -> Response:
    """Forget one of your devices: its cookie no longer exempts sign-ins from the back-off."""
    devices.revoke(work.session, work.actor, device_id)
    return Response(status_code=204)


@router.post("/logout", status_code=204, response_class=Response)
def logout(work: UnitDep, request: Request) -> Response:
    """End the cookie session (a bearer token stays valid: revoke it under /tokens)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        sessions.end_session(work.session, cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
