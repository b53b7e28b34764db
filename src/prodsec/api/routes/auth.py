"""Cookie sessions for the web UI: log in (rate-limited), who am I, log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from prodsec.api import schemas
from prodsec.api.deps import SESSION_COOKIE, AppState, UnitDep, app_state
from prodsec.api.problems import ApiError
from prodsec.db.models import utcnow
from prodsec.workspace import sessions, users
from prodsec.workspace.context import Actor

router = APIRouter(prefix="/auth", tags=["auth"])


def _me(actor: Actor) -> dict[str, str]:
    return {"user_id": actor.user_id, "email": actor.email, "org_id": actor.org_id,
            "role": actor.role}


def _client(request: Request) -> str:
    return f"ip:{request.client.host if request.client else 'unknown'}"


@router.post("/login", response_model=schemas.LoginOut,
             responses={401: {"model": schemas.Problem}, 429: {"model": schemas.Problem}})
def login(body: schemas.LoginIn, request: Request, response: Response,
          state: Annotated[AppState, Depends(app_state)]) -> schemas.LoginOut:
    """Check the password (argon2); set the session cookie and return its CSRF token.

    Five failures per e-mail or per client address within 15 minutes lock that key out
    (429 with Retry-After), whichever comes first, so guessing is slow from one place and
    spraying one account from many places is too.
    """
    keys = (f"email:{body.email.lower()}", _client(request))
    wait = state.limiter.retry_after(*keys)
    if wait:
        raise ApiError(429, "too many failed logins; try again later", {"Retry-After": str(wait)})
    with state.database.transaction() as session:
        actor = users.authenticate_password(session, body.email, body.password,
                                             body.organisation)
        if actor is None:
            state.limiter.failed(*keys)
            raise ApiError(401, "wrong e-mail or password")
        state.limiter.succeeded(keys[0])
        secret, csrf = sessions.create_session(session, actor, state.settings.session_ttl)
    expires = utcnow() + state.settings.session_ttl
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(state.settings.session_ttl
                                                              .total_seconds()),
                        httponly=True, samesite="lax", path="/",
                        secure=state.settings.secure_cookies or request.url.scheme == "https")
    return schemas.LoginOut.model_validate(_me(actor) | {"csrf_token": csrf,
                                                         "expires_at": expires})


@router.get("/me", response_model=schemas.Me)
def me(work: UnitDep) -> schemas.Me:
    return schemas.Me.model_validate(_me(work.actor))


@router.post("/logout", status_code=204, response_class=Response)
def logout(work: UnitDep, request: Request) -> Response:
    """End the cookie session (a bearer token stays valid: revoke it under /tokens)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        sessions.end_session(work.session, cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
