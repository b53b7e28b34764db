"""The notifications page: an admin's subscriptions (webhook or e-mail, kinds, thresholds), the
form to add one, removal, and the latest delivery attempts — the same services as
``prodsec notifications`` and ``/api/v1/notifications``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from prodsec.web.pages.common import (
    AdminForm,
    form_write,
    permit,
    redirect,
    render,
    signed_in,
    status_of,
    web_state,
)
from prodsec.workspace import notifications
from prodsec.workspace.outbox import KINDS

router = APIRouter(include_in_schema=False)


def _page(request: Request, actor: Any, csrf: str, form: dict[str, Any] | None = None,
          error: str = "", added: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    permit(actor, "admin")
    with web_state(request).database.transaction() as session:
        subscriptions = notifications.list_subscriptions(session, actor)
        log = notifications.delivery_log(session, actor, limit=50)
    return render(request, "notifications.html.j2", {
        "subscriptions": subscriptions, "log": log, "kinds": KINDS, "form": form or {},
        "error": error, "added": added}, status=status, actor=actor, csrf=csrf)


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(request: Request) -> HTMLResponse:
    actor, csrf = signed_in(request)
    return _page(request, actor, csrf)


def _number(form: Any, name: str, default: int) -> int:
    from prodsec.workspace.context import ValidationFailed

    raw = str(form.get(name) or default)
    if not raw.isdigit() or len(raw) > 6:
        raise ValidationFailed(name, f"{raw[:20]!r}: expected a whole number")
    return int(raw)


@router.post("/notifications", response_class=HTMLResponse)
async def add(request: Request, sent: AdminForm) -> Response:
    form = sent.form
    values = {k: str(form.get(k) or "") for k in ("channel", "target", "stage_due_hours",
                                                  "support_days")}
    kinds = [str(k) for k in form.getlist("kinds")]

    def work(session: Any) -> dict[str, Any]:
        return notifications.add_subscription(
            session, sent.actor, values["channel"], values["target"].strip(), kinds,
            stage_due_hours=_number(form, "stage_due_hours", 24),
            support_days=_number(form, "support_days", 90))

    def done(row: dict[str, Any]) -> Response:
        return _page(request, sent.actor, sent.csrf, added=row, status=201)

    def refused(exc: Exception) -> Response:
        return _page(request, sent.actor, sent.csrf, values | {"kinds": kinds}, str(exc),
                     status=status_of(exc))

    return await form_write(request, sent, work, done, refused)


@router.post("/notifications/{subscription_id}/remove", response_class=HTMLResponse)
async def remove(request: Request, subscription_id: str, sent: AdminForm) -> Response:
    return await form_write(
        request, sent, lambda s: notifications.remove_subscription(s, sent.actor, subscription_id),
        lambda _r: redirect("/notifications"),
        lambda exc: _page(request, sent.actor, sent.csrf, error=str(exc),
                          status=status_of(exc)))
