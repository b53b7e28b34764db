"""The web account pages that are not the password form: your remembered sign-in devices.

A device listed here exempts its sign-ins from the account's back-off while strangers guess
(``workspace.devices``); revoking one (a lost laptop) ends that. Same service as
``prodsec user devices`` and ``/api/v1/auth/devices``; the form goes through the pages' one
form-write helper (CSRF, queued writer transaction).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from prodsec.web.pages import ViewerForm, _form_write, _redirect, _render, _state, _who
from prodsec.workspace import devices
from prodsec.workspace.context import Actor

router = APIRouter()


def _page(request: Request, actor: Actor, csrf: str, error: str | None = None,
          status: int = 200) -> HTMLResponse:
    with _state(request).database.transaction() as session:
        listed = devices.list_devices(session, actor,
                                      current=request.cookies.get(devices.COOKIE))
    return _render(request, "devices.html.j2", {"devices": listed, "error": error}, status,
                   actor, csrf)


@router.get("/account/devices", response_class=HTMLResponse)
def my_devices(request: Request) -> HTMLResponse:
    """Your remembered sign-in devices, newest first, each with a revoke button."""
    actor, csrf = _who(request)
    return _page(request, actor, csrf)


@router.post("/account/devices/{device_id}/revoke", response_class=HTMLResponse)
async def revoke_device(request: Request, device_id: str, sent: ViewerForm) -> Response:
    """Forget one of your devices; back to the list."""

    def refused(exc: Exception) -> Response:
        return _page(request, sent.actor, sent.csrf, str(exc), 404)

    def done(_: Any) -> Response:
        return _redirect("/account/devices")

    return await _form_write(request, sent, lambda s: devices.revoke(s, sent.actor, device_id),
                             done, refused, missing_is_404=False)

