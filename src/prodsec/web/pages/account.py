"""Signing in and out, the signed-in user's invitations and password, choosing a password with a reset secret."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages.common import (
    COOKIE,
    LOGIN_COOKIE,
    PageError,
    ViewerForm,
    error_page,
    form_write,
    page_error,
    redirect,
    render,
    signed_in,
    status_of,
    web_state,
)
from prodsec.workspace.context import Actor, NotFound, ValidationFailed

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return _login_form(request, _safe_next(next))


def _safe_next(target: str) -> str:
    """Only local paths: never redirect to another site after sign-in."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _login_form(request: Request, target: str, email: str = "", error: str | None = None,
                status: int = 200, organisations: list[str] | None = None) -> HTMLResponse:
    """The sign-in page with a fresh pre-session CSRF token, in the form and in a cookie only
    this site can set: a cross-site form cannot sign a victim in to the attacker's account."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html.j2", {
        "next": target, "email": email, "error": error, "login_csrf": token,
        "organisations": organisations or []}, status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=web_state(request).secure_cookies or request.url.scheme == "https",
                        max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
          csrf_token: Annotated[str, Form()] = "",
          organisation: Annotated[str, Form()] = "") -> Response:
    from prodsec.workspace import devices
    from prodsec.workspace.sessions import LoginThrottled, create_session, csrf_matches, sign_in
    from prodsec.workspace.users import OrganisationChoice

    email, target = email.strip().lower(), _safe_next(next[:2048])
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not csrf_matches(expected, csrf_token):
        return _login_form(request, target, email, "This sign-in form has expired or did not "
                           "come from this site; please sign in again.", 403)
    if len(email) > 320 or len(password) > 1024 or len(organisation) > 200:
        return _login_form(request, target, email[:320], "E-mail or password is wrong.", 401)
    state = web_state(request)
    try:
        actor = sign_in(state.database, state.limiter, email, password, _client(request),
                        organisation or None, request.cookies.get(devices.COOKIE))
    except LoginThrottled as exc:
        return _login_form(request, target, email, "Too many failed sign-ins. Try again in "
                           f"{_wait_text(exc.retry_after)}.", status_of(exc))
    except OrganisationChoice as exc:
        return _login_form(request, target, email, "This account belongs to several "
                           "organisations: choose one and enter the password again.",
                           organisations=exc.organisations)
    if actor is None:
        return _login_form(request, target, email, "E-mail or password is wrong.", 401)
    with state.database.transaction() as session:
        secret, _csrf = create_session(session, actor)
        device = devices.remember(session, actor, request.headers.get("user-agent"),
                                  request.cookies.get(devices.COOKIE))
    response = redirect(target)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="lax", path="/",
                        secure=state.secure_cookies or request.url.scheme == "https",
                        max_age=12 * 3600)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    set_device_cookie(response, device, state.secure_cookies or request.url.scheme == "https")
    return response


def set_device_cookie(response: Response, cookie: str, secure: bool) -> None:
    """The fresh known-device cookie (``devices.remember``) for the account just signed in to:
    HttpOnly, SameSite=Strict, sent with sign-in attempts only."""
    from prodsec.workspace import devices

    response.set_cookie(devices.COOKIE, cookie, max_age=devices.max_age(),
                        httponly=True, samesite="strict", path="/", secure=secure)


def _client(request: Request) -> str:
    """The client's address for the limiter: proxy-aware with the API's trusted proxies."""
    from prodsec.api.clients import request_client

    api = getattr(request.app.state, "prodsec", None)
    return request_client(request, api.settings.trusted_proxies if api else ())


def _wait_text(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60 + 1} minutes"


@router.post("/logout")
async def logout(request: Request, sent: ViewerForm) -> Response:
    from prodsec.workspace.sessions import end_session

    def signed_out(_result: None) -> Response:
        response = redirect("/login")
        response.delete_cookie(COOKIE, path="/")
        return response

    return await form_write(request, sent, lambda s: end_session(
        s, request.cookies.get(COOKIE, "")), signed_out, error_page)


@router.get("/account/invitations", response_class=HTMLResponse)
def invitations_page(request: Request) -> HTMLResponse:
    actor, csrf = signed_in(request)
    return _invitations(request, actor, csrf)


def _invitations(request: Request, actor: Actor, csrf: str, joined: str | None = None
                 ) -> HTMLResponse:
    from prodsec.workspace.users import my_invitations

    with web_state(request).database.transaction() as session:
        mine = my_invitations(session, actor.user_id)
    return render(request, "invitations.html.j2", {"invitations": mine, "joined": joined},
                   actor=actor, csrf=csrf)


@router.post("/account/invitations/{iid}/{answer}", response_class=HTMLResponse)
async def answer_invitation(request: Request, iid: str, answer: str, sent: ViewerForm
                            ) -> Response:
    """Accept (a membership with the invited role) or decline an invitation of one's own."""
    from prodsec.workspace import writes
    from prodsec.workspace.users import (
        accept_invitation,
        decline_invitation,
        invitation_org,
        organisation_name,
    )

    actor = sent.actor
    if answer not in ("accept", "decline"):
        raise PageError(404, "There is no such page.")
    try:  # the answer is written to the inviting organisation's chain: take its turn
        org_id = await writes.read(web_state(request).database,
                                   lambda s: invitation_org(s, actor.user_id, iid))
    except NotFound as exc:
        raise page_error(exc) from None

    def work(session: Any) -> str | None:
        if answer == "decline":
            decline_invitation(session, actor.user_id, iid)
            return None
        return organisation_name(session, accept_invitation(session, actor.user_id, iid))

    return await form_write(request, sent, work,
                             lambda joined: _invitations(request, actor, sent.csrf, joined),
                             error_page, org_id=org_id)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request) -> HTMLResponse:
    actor, csrf = signed_in(request)
    return render(request, "password.html.j2", {"error": None, "done": False},
                   actor=actor, csrf=csrf)


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request, sent: ViewerForm) -> Response:
    """``users.change_password`` under the login limiter (a wrong current password is a
    failed attempt on ``throttle.password_change_key``); the other sessions of the user end,
    this one stays."""
    from prodsec.errors import LoginThrottled
    from prodsec.workspace.throttle import password_change_key
    from prodsec.workspace.users import change_password

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    limiter = web_state(request).limiter
    keys = (password_change_key(actor.user_id),)
    wait = await run_in_threadpool(limiter.claim, *keys)
    if wait:
        throttled = LoginThrottled(wait)
        page = await run_in_threadpool(render, request, "password.html.j2", {
            "error": {"field": "current_password",
                      "text": f"Too many wrong passwords. Try again in {_wait_text(wait)}."},
            "done": False}, status_of(throttled), actor, csrf)
        page.headers.update(throttled.headers)
        return page

    settled = []  # the claim is given back exactly once: failed, succeeded or released

    def refused(exc: Exception) -> Response:
        wrong = isinstance(exc, ValidationFailed) and exc.field == "current_password"
        settled.append((limiter.failed if wrong else limiter.release)(*keys))
        return render(request, "password.html.j2", {"error": {
            "field": getattr(exc, "field", "current_password"),
            "text": getattr(exc, "detail", str(exc))}, "done": False}, status_of(exc), actor, csrf)

    def done(_ended: int) -> Response:
        settled.append(limiter.succeeded(*keys))
        return render(request, "password.html.j2", {"error": None, "done": True},
                       actor=actor, csrf=csrf)

    try:
        return await form_write(request, sent, lambda s: change_password(
            s, actor, str(form.get("current_password") or ""),
            str(form.get("new_password") or ""), request.cookies.get(COOKIE)), done, refused,
            missing_is_404=False)
    except BaseException:
        if not settled:
            await run_in_threadpool(limiter.release, *keys)
        raise


@router.get("/password-reset", response_class=HTMLResponse)
def reset_page(request: Request) -> HTMLResponse:
    return render(request, "password_reset.html.j2", {"error": None})


@router.post("/password-reset", response_class=HTMLResponse)
async def redeem_reset(request: Request, token: Annotated[str, Form(max_length=200)] = "",
                       new_password: Annotated[str, Form(max_length=1024)] = "") -> Response:
    """Choose a new password with an admin's one-time secret, then sign in with it. (No
    CSRF token: there is no session to ride, and the secret itself is the credential.) A
    queued write of the organisation whose admin issued the secret, as the API's."""
    from prodsec.workspace import writes
    from prodsec.workspace.users import redeem_password_reset, reset_organisation

    database = web_state(request).database
    try:
        org_id = await writes.read(database, lambda s: reset_organisation(s, token))
        await writes.write(database, org_id, lambda s: redeem_password_reset(
            s, token, new_password))
    except ValidationFailed as exc:
        return await run_in_threadpool(render, request, "password_reset.html.j2", {
            "error": {"field": exc.field, "text": exc.detail}}, status_of(exc))
    return redirect("/login")



# ---- your sign-in devices -----------------------------------------------------------------
# A device listed here exempts its sign-ins from the account's back-off while strangers guess
# (``workspace.devices``); revoking one (a lost laptop) ends that. Same service as ``prodsec
# user devices`` and ``/api/v1/auth/devices``.


def _devices_page(request: Request, actor: Actor, csrf: str, error: str | None = None,
                  status: int = 200) -> HTMLResponse:
    from prodsec.workspace import devices

    with web_state(request).database.transaction() as session:
        listed = devices.list_devices(session, actor,
                                      current=request.cookies.get(devices.COOKIE))
    return render(request, "devices.html.j2", {"devices": listed, "error": error}, status,
                  actor, csrf)


@router.get("/account/devices", response_class=HTMLResponse)
def my_devices(request: Request) -> HTMLResponse:
    """Your remembered sign-in devices, newest first, each with a revoke button."""
    actor, csrf = signed_in(request)
    return _devices_page(request, actor, csrf)


@router.post("/account/devices/{device_id}/revoke", response_class=HTMLResponse)
async def revoke_device(request: Request, device_id: str, sent: ViewerForm) -> Response:
    """Forget one of your devices; back to the list."""
    from prodsec.workspace import devices

    def refused(exc: Exception) -> Response:
        return _devices_page(request, sent.actor, sent.csrf, str(exc), status_of(exc))

    def done(_: Any) -> Response:
        return redirect("/account/devices")

    return await form_write(request, sent, lambda s: devices.revoke(s, sent.actor, device_id),
                            done, refused, missing_is_404=False)
