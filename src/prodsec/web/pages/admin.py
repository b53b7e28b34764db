"""Administration: members, invitations, API tokens, password resets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages.common import (
    AdminForm,
    Submitted,
    error_page,
    form_values,
    form_write,
    permit,
    redirect,
    render,
    signed_in,
    status_of,
    web_state,
)
from prodsec.workspace.context import Actor

router = APIRouter(include_in_schema=False)


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request) -> HTMLResponse:
    actor, csrf = signed_in(request)
    permit(actor, "admin")
    return render(request, "admin.html.j2", _admin_data(request, actor) | {
        "error": None, "form": {}, "secret": None}, actor=actor, csrf=csrf)


def _admin_data(request: Request, actor: Actor) -> dict[str, Any]:
    """The organisation's members and tokens, through the same service calls as the API."""
    from prodsec.workspace import users

    with web_state(request).database.transaction() as session:
        members, _n = users.list_members(session, actor, limit=500)
        tokens, _n = users.list_tokens(session, actor, limit=500)
        return {"members": [users.member_view(u, m) for u, m in members],
                "tokens": [users.token_view(t, email) for t, email in reversed(tokens)],
                "invitations": users.list_invitations(session, actor), "invited": None}


@router.post("/admin/users", response_class=HTMLResponse)
async def admin_add_user(request: Request, sent: AdminForm) -> Response:
    """Invite an address: ``users.add_member``, the rule the API applies (the same answer,
    an invitation, whether or not the address has an account anywhere)."""
    from prodsec.workspace.users import add_member

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    email = str(form.get("email") or "").strip()
    return await form_write(request, sent, lambda s: add_member(
        s, actor, email, str(form.get("role") or ""), str(form.get("password") or ""),
        str(form.get("name") or "")),
        lambda _r: render(request, "admin.html.j2", _admin_data(request, actor) | {
            "error": None, "form": {}, "secret": None, "invited": email}, actor=actor, csrf=csrf),
        lambda exc: _admin_error(request, sent, exc, "email"), missing_is_404=False)


@router.post("/admin/invitations/{iid}/cancel", response_class=HTMLResponse)
async def admin_cancel_invitation(request: Request, iid: str, sent: AdminForm) -> Response:
    from prodsec.workspace.users import cancel_invitation

    return await form_write(request, sent, lambda s: cancel_invitation(s, sent.actor, iid),
                             lambda _r: redirect("/admin"), error_page)


def _admin_error(request: Request, sent: Submitted, exc: Exception, field: str) -> Response:
    """The admin page again, with the error under ``field`` and the values entered."""
    return render(request, "admin.html.j2", _admin_data(request, sent.actor) | {
        "error": {"field": getattr(exc, "field", field), "text": str(exc)},
        "form": form_values(sent.form), "secret": None}, status_of(exc), sent.actor, sent.csrf)


@router.post("/admin/tokens", response_class=HTMLResponse)
async def admin_add_token(request: Request, sent: AdminForm) -> Response:
    from prodsec.workspace.users import create_token

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    return await form_write(request, sent, lambda s: create_token(
        s, actor, str(form.get("user") or ""), str(form.get("name") or "token"), 365)[0],
        lambda secret: render(request, "admin.html.j2", _admin_data(request, actor) | {
            "error": None, "form": {}, "secret": secret}, actor=actor, csrf=csrf),
        lambda exc: _admin_error(request, sent, exc, "user"), missing_is_404=False)


@router.post("/admin/users/{uid}/password-reset", response_class=HTMLResponse)
async def admin_reset_password(request: Request, uid: str, sent: AdminForm) -> Response:
    """An admin resets a member's password; the one-time secret is shown once, here."""
    from prodsec.workspace.users import issue_password_reset

    actor, csrf = sent.actor, sent.csrf

    def refused(exc: Exception) -> Response:
        return render(request, "admin.html.j2", _admin_data(request, actor) | {
            "error": {"field": "user", "text": str(exc)}, "form": {}, "secret": None},
            status_of(exc), actor, csrf)

    return await form_write(request, sent, lambda s: issue_password_reset(s, actor, uid)[0],
                             lambda secret: render(request, "admin.html.j2", _admin_data(
                                 request, actor) | {"error": None, "form": {}, "secret": None,
                                                    "reset_secret": secret},
                                 actor=actor, csrf=csrf), refused, missing_is_404=False)

