"""Notification subscriptions (admins), their delivery log, and support-period checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from prodsec.api import schemas
from prodsec.api.deps import Admin, UnitDep
from prodsec.workspace import notifications, support
from prodsec.workspace.context import ValidationFailed

router = APIRouter(tags=["notifications"])


@router.get("/notifications/subscriptions", response_model=list[schemas.Subscription])
def list_subscriptions(work: Admin) -> list[schemas.Subscription]:
    return [schemas.Subscription.model_validate(s)
            for s in notifications.list_subscriptions(work.session, work.actor)]


@router.post("/notifications/subscriptions", status_code=201,
             response_model=schemas.Subscription)
def add_subscription(work: Admin, body: schemas.SubscriptionIn) -> schemas.Subscription:
    """Subscribe; a webhook's secret (given or generated) is in this answer only."""
    target = body.url if body.channel == "webhook" else body.address
    if not target:
        field = "url" if body.channel == "webhook" else "address"
        raise ValidationFailed(field, f"required for a {body.channel} subscription")
    row = notifications.add_subscription(
        work.session, work.actor, body.channel, target, list(body.kinds), secret=body.secret,
        stage_due_hours=body.stage_due_hours, support_days=body.support_days)
    return schemas.Subscription.model_validate(row)


@router.delete("/notifications/subscriptions/{subscription_id}", status_code=204,
               response_class=Response)
def remove_subscription(work: Admin, subscription_id: str) -> Response:
    notifications.remove_subscription(work.session, work.actor, subscription_id)
    return Response(status_code=204)


@router.get("/notifications/log", response_model=list[schemas.DeliveryAttempt])
def delivery_log(work: Admin,
                 subscription: Annotated[str | None, Query(max_length=32)] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[schemas.DeliveryAttempt]:
    """The latest delivery attempts, newest first."""
    return [schemas.DeliveryAttempt.model_validate(a) for a in
            notifications.delivery_log(work.session, work.actor, subscription, limit)]


@router.get("/products/{product_id}/support", response_model=schemas.ProductSupport)
def product_support(work: UnitDep, product_id: str) -> schemas.ProductSupport:
    """Each release's support period checked against CRA Art. 13(8)."""
    return schemas.ProductSupport.model_validate(
        support.product_support(work.session, work.actor, product_id))
