"""Notification subscriptions of an organisation, and their delivery log.

A subscription is a webhook (an https URL and the secret that signs each delivery) or an e-mail
address, for some event kinds (``outbox.KINDS``), with two thresholds: tell me when an Article
14 stage is due within ``stage_due_hours``, and when a support period ends within
``support_days``. Only admins manage them (a webhook receives the organisation's data).

Webhook URLs are checked against server-side request forgery when added and again, after a
fresh DNS lookup, at every delivery: https only, no credentials in the URL, and no address that
is loopback, private, link-local, multicast or reserved — unless the operator sets
``PRODSEC_WEBHOOK_ALLOW_PRIVATE=1`` (then http and private addresses are allowed: labs, tests on
127.0.0.1, receivers on the same private network).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.db.models import NotificationAttempt, NotificationSubscription
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.outbox import KINDS
from prodsec.workspace.scope import owned

CHANNELS = ("webhook", "email")
MAX_URL = 2000
_EMAIL = re.compile(r"[^@\s<>,;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


def allow_private() -> bool:
    """``PRODSEC_WEBHOOK_ALLOW_PRIVATE=1``: http and private addresses allowed (labs, tests)."""
    return os.environ.get("PRODSEC_WEBHOOK_ALLOW_PRIVATE", "") == "1"


def check_webhook_url(url: str) -> tuple[str, int, list[str]]:
    """The URL's host, port and resolved addresses, or ValidationFailed saying what is wrong.

    Resolved now, so a name that points inside the network is refused; the caller connects to
    one of the returned addresses (not to the name again), so a second DNS answer cannot
    redirect the request (DNS rebinding)."""
    if len(url) > MAX_URL:
        raise ValidationFailed("url", f"longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValidationFailed("url", f"not a URL: {exc}") from None
    schemes = ("https", "http") if allow_private() else ("https",)
    if parts.scheme not in schemes:
        raise ValidationFailed("url", f"scheme {parts.scheme or '(none)'!r}: expected https "
                               "(http only with PRODSEC_WEBHOOK_ALLOW_PRIVATE=1)")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed("url", "must not carry credentials (user:password@); the "
                               "deliveries are signed with the subscription's secret instead")
    if not parts.hostname:
        raise ValidationFailed("url", "has no host")
    return parts.hostname, port, _public_addresses(parts.hostname, port)


#: IPv6 ranges that carry an IPv4 address (NAT64, IPv4-compatible) or are deprecated
#: (site-local): Python's ``is_global`` calls some of them global, yet on a host with NAT64 or
#: 6to4 they reach the IPv4 inside (pentest h11pen2 F3).
_EMBEDDING = tuple(ipaddress.ip_network(n) for n in (
    "64:ff9b::/96", "64:ff9b:1::/48", "::/96", "2002::/16", "2001::/32", "fec0::/10"))


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may be sent to this address: global, not multicast, and for IPv6 no
    IPv4 inside (mapped, 6to4, Teredo, NAT64, compatible) that is not public itself."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and any(ip in net for net in _EMBEDDING[:3]):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return is_public(inner)
        if any(ip in net for net in _EMBEDDING):
            return False
    return True


def _public_addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ValidationFailed("url", f"host {host!r} does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private():
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not is_public(ip):
                raise ValidationFailed("url", f"host {host!r} resolves to {address}, a "
                                       "loopback, private, link-local or reserved address "
                                       "(allowed only with PRODSEC_WEBHOOK_ALLOW_PRIVATE=1)")
    return addresses


def check_email(address: str) -> str:
    address = address.strip()
    if len(address) > 320 or not _EMAIL.fullmatch(address):
        raise ValidationFailed("address", f"{address[:80]!r}: expected an e-mail address "
                               "like security@example.com")
    return address


def check_kinds(kinds: list[str]) -> list[str]:
    wrong = [k for k in kinds if k not in KINDS]
    if wrong or not kinds:
        raise ValidationFailed("kinds", f"{', '.join(wrong) or '(none)'}: expected one or more "
                               f"of {', '.join(KINDS)}")
    return sorted(set(kinds))


def add_subscription(session: Session, actor: Actor, channel: str, target: str,
                     kinds: list[str], *, secret: str | None = None, stage_due_hours: int = 24,
                     support_days: int = 90) -> dict[str, Any]:
    """Subscribe a webhook or an address; the view includes the webhook secret this once."""
    actor.require("admin")
    if channel not in CHANNELS:
        raise ValidationFailed("channel", f"{channel!r}: expected webhook or email")
    if channel == "webhook":
        check_webhook_url(target)
        secret = secret or secrets.token_hex(32)
        if not 16 <= len(secret) <= 200:
            raise ValidationFailed("secret", "expected 16 to 200 characters")
    else:
        target, secret = check_email(target), ""
    if not 1 <= stage_due_hours <= 24 * 30:
        raise ValidationFailed("stage_due_hours", "expected 1 to 720 hours")
    if not 1 <= support_days <= 3650:
        raise ValidationFailed("support_days", "expected 1 to 3650 days")
    row = NotificationSubscription(org_id=actor.org_id, channel=channel, target=target,
                                   secret=secret, kinds=check_kinds(kinds),
                                   stage_due_hours=stage_due_hours, support_days=support_days,
                                   active=True, created_by=actor.email)
    session.add(row)
    session.flush()
    audit.record(session, actor, "notification.subscribe", "notification_subscription", row.id,
                 None, subscription_view(row))
    return subscription_view(row) | ({"secret": secret} if channel == "webhook" else {})


def subscription_view(row: NotificationSubscription) -> dict[str, Any]:
    """A subscription without its secret (shown once, when it is added)."""
    return {"id": row.id, "channel": row.channel, "target": row.target, "kinds": row.kinds,
            "stage_due_hours": row.stage_due_hours, "support_days": row.support_days,
            "active": row.active, "created_by": row.created_by,
            "created_at": row.created_at.isoformat() if row.created_at else None}


def list_subscriptions(session: Session, actor: Actor) -> list[dict[str, Any]]:
    actor.require("admin")
    rows = session.scalars(select(NotificationSubscription).where(
        NotificationSubscription.org_id == actor.org_id)
        .order_by(NotificationSubscription.created_at, NotificationSubscription.id))
    return [subscription_view(r) for r in rows]


def remove_subscription(session: Session, actor: Actor, subscription_id: str) -> None:
    """Delete a subscription with its pending deliveries and its log."""
    actor.require("admin")
    row = owned(session, actor, NotificationSubscription, subscription_id, "subscription")
    before = subscription_view(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "notification.unsubscribe", "notification_subscription",
                 subscription_id, before, None)


def delivery_log(session: Session, actor: Actor, subscription_id: str | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
    """The latest delivery attempts, newest first: attempt number, outcome, error."""
    actor.require("admin")
    if subscription_id is not None:
        owned(session, actor, NotificationSubscription, subscription_id, "subscription")
    query = select(NotificationAttempt).where(NotificationAttempt.org_id == actor.org_id)
    if subscription_id is not None:
        query = query.where(NotificationAttempt.subscription_id == subscription_id)
    rows = session.scalars(query.order_by(NotificationAttempt.at.desc(),
                                          NotificationAttempt.id).limit(max(1, min(limit, 500))))
    return [{"subscription_id": r.subscription_id, "delivery_id": r.delivery_id,
             "attempt": r.attempt, "at": r.at.isoformat(), "ok": r.ok, "status": r.status,
             "error": r.error, "duration_ms": r.duration_ms} for r in rows]
