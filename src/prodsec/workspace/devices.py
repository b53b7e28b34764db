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
successful sign-in, and lives ``DEVICE_TTL``. Nothing is stored: the budget lives in the
limiter's ``login_throttle`` rows like every other key.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

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
