"""Known-device cookies: the owner of an account signs in while strangers flood it.

The login limiter keys every attempt on the account, so a stranger who knows an e-mail address
can keep that account in back-off (at most ``longest``, 15 minutes, per failure) by failing
again after each window. OWASP's "device cookies" answer that: after a successful sign-in the
server gives the browser (or API client) a cookie that says "this device signed in to this
account before". An attempt that carries a valid one for the account it names is limited by
that device's own budget (key ``device:<id>``) instead of the account's and the client
address's, which the stranger's failures fill; a wrong password from the device backs off the
device only, so a stolen cookie buys its thief no more guesses than any one client gets.

The cookie is ``v1.<device id>.<expiry>.<mac>``: the MAC is HMAC-SHA256 with the server key
(``keys``) over the version, the device id, the expiry and the account's e-mail address, so a
cookie made up by a client, edited, expired, or issued for another account gives no bypass (the
attempt is then limited as if it carried none). A fresh cookie (a new id) is issued on every
successful sign-in, and lives ``DEVICE_TTL``. The budget lives in the limiter's
``login_throttle`` rows like every other key.

Each issued cookie is also remembered (``KnownDevice``: the SHA-256 of its device id, the
user, a label, issue and expiry times), so its user — or an admin of the user's organisation —
can list and revoke it (CLI ``prodsec user devices``, API ``/auth/devices`` and
``/users/{id}/devices``, the web account page). A cookie whose row is gone — revoked, replaced
by the next sign-in's, expired — gives no exemption: a stolen one dies with its revocation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from prodsec.db.models import KnownDevice, User, utcnow
from prodsec.workspace import audit
from prodsec.workspace.context import Actor, NotFound
from prodsec.workspace.keys import require_key, server_key

COOKIE = "prodsec_device"
DEVICE_TTL = dt.timedelta(days=90)
_VERSION = "v1"


def _message(device: str, expires: int, email: str) -> bytes:
    """What the MAC covers; the address in the one form sign-in looks it up by
    (``users.lookup_email``), so every spelling that reaches the account names the same
    cookie (a strip and lower-case of its own let an NFKC lookalike of the address sign in
    but lose its device)."""
    from prodsec.workspace.users import lookup_email

    return f"prodsec device cookie|{_VERSION}|{device}|{expires}|{lookup_email(email)}".encode()


def issue(email: str, now: dt.datetime | None = None, ttl: dt.timedelta = DEVICE_TTL) -> str:
    """A new device cookie for ``email`` (a fresh device id), valid ``ttl``."""
    now = now or dt.datetime.now(dt.UTC)
    device, expires = secrets.token_urlsafe(18), int((now + ttl).timestamp())
    mac = require_key().mac(_message(device, expires, email))
    return f"{_VERSION}.{device}.{expires}.{mac}"


def device_key(cookie: str | None, email: str, now: dt.datetime | None = None) -> str | None:
    """The limiter key of a valid device cookie for ``email``, else None (missing, malformed,
    expired, forged, or issued for another account)."""
    if not cookie or len(cookie) > 200:
        return None
    parts = cookie.split(".")
    if len(parts) != 4 or parts[0] != _VERSION or not parts[2].isdigit():
        return None
    _v, device, expires_text, mac = parts
    expires = int(expires_text)
    if expires < (now or dt.datetime.now(dt.UTC)).timestamp():
        return None
    key = server_key()
    if key is None or not hmac.compare_digest(key.mac(_message(device, expires, email)), mac):
        return None
    return f"device:{device}"


def max_age(ttl: dt.timedelta = DEVICE_TTL) -> int:
    """The cookie's Max-Age in seconds."""
    return int(ttl.total_seconds())


# ---- remembered devices: listed and revoked ------------------------------------------------


def _row_id(key: str) -> str:
    """The stored id of a limiter key ``device:<id>`` (its device id's SHA-256)."""
    return hashlib.sha256(key.removeprefix("device:").encode()).hexdigest()


def known(session: Session, key: str) -> bool:
    """Whether the device of a (MAC-checked) ``device_key`` is still remembered."""
    row = session.get(KnownDevice, _row_id(key))
    return row is not None and _aware(row.expires_at) > utcnow()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _label(user_agent: str | None) -> str:
    """What the device called itself, printable characters only (no control or bidi)."""
    return "".join(c for c in (user_agent or "") if c.isprintable())[:200]


def remember(session: Session, user: Actor, user_agent: str | None,
             previous: str | None = None, ttl: dt.timedelta = DEVICE_TTL) -> str:
    """Issue and remember a fresh cookie after ``user`` signed in; the device's ``previous``
    cookie (rotation), when valid for the account, is forgotten, as are expired ones."""
    old = device_key(previous, user.email)
    if old is not None:
        session.execute(delete(KnownDevice).where(KnownDevice.id == _row_id(old)))
    session.execute(delete(KnownDevice).where(KnownDevice.expires_at < utcnow()))
    cookie = issue(user.email, ttl=ttl)
    _v, device, expires, _mac = cookie.split(".")
    session.add(KnownDevice(id=_row_id(device), user_id=user.user_id,
                            label=_label(user_agent),
                            expires_at=dt.datetime.fromtimestamp(int(expires), dt.UTC)))
    session.flush()
    return cookie


def _whose(session: Session, actor: Actor, user_id: str | None) -> str:
    """The user whose devices are meant: one's own, or (admins) a member's."""
    if user_id is None or user_id == actor.user_id:
        return actor.user_id
    from prodsec.workspace.users import get_member

    actor.require("admin")
    return get_member(session, actor, user_id)[0].id


def list_devices(session: Session, actor: Actor, user_id: str | None = None,
                 current: str | None = None) -> list[dict[str, Any]]:
    """The remembered devices of a user, newest first; ``current`` (this request's device
    cookie) marks its own."""
    whose = _whose(session, actor, user_id)
    mine = device_key(current, actor.email) if whose == actor.user_id else None
    rows = session.scalars(select(KnownDevice).where(
        KnownDevice.user_id == whose, KnownDevice.expires_at >= utcnow())
        .order_by(KnownDevice.created_at.desc(), KnownDevice.id))
    return [{"id": row.id, "label": row.label,
             "signed_in_at": _aware(row.created_at).isoformat(timespec="seconds"),
             "expires_at": _aware(row.expires_at).isoformat(timespec="seconds"),
             "current": mine is not None and row.id == _row_id(mine)} for row in rows]


def revoke(session: Session, actor: Actor, device_id: str, user_id: str | None = None) -> None:
    """Forget one of a user's devices (one's own, or an admin a member's): its cookie no
    longer exempts sign-ins from the account's back-off. Audited."""
    whose = _whose(session, actor, user_id)
    row = session.get(KnownDevice, device_id[:64])
    if row is None or row.user_id != whose:
        raise NotFound(f"no device {device_id[:64]!r}")
    email = session.scalar(select(User.email).where(User.id == whose))
    session.delete(row)
    session.flush()
    audit.record(session, actor, "device.revoke", "user", whose,
                 {"device": row.id, "label": row.label, "email": email}, None)
