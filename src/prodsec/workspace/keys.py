"""The server's secret key: what keys the audit chain (HMAC-SHA256) and signs exports.

Where it comes from, first match wins:

1. ``PRODSEC_SECRET_KEY`` — the key itself (at least 32 characters; e.g. ``openssl rand -hex 32``);
2. ``PRODSEC_SECRET_KEY_FILE`` — a file holding it (a container secret, say);
3. ``<data dir>/secret.key`` — next to the default database; created with mode 0600 by the first
   write that needs it (never when a module is imported, never inside the source tree).

A key is never stored in the database: someone who can edit the database (or hand over an
export) without the key cannot produce events or signatures that verify. Each keyed event and
signature records the key's *id* (a one-way fingerprint), so a check made with another key says
"wrong key" instead of "edited".
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from prodsec.errors import SecretKeyError as SecretKeyError

KEY_ENV = "PRODSEC_SECRET_KEY"
KEY_FILE_ENV = "PRODSEC_SECRET_KEY_FILE"
KEY_FILE_NAME = "secret.key"
MIN_KEY_CHARS = 32
ALGORITHM = "hmac-sha256"


@dataclass(frozen=True)
class SecretKey:
    material: bytes
    source: str  # where it was read from, for messages (never the key itself)

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key without revealing it (16 hex digits)."""
        return hmac.new(self.material, b"prodsec key id v1", hashlib.sha256).hexdigest()[:16]

    def mac(self, data: bytes) -> str:
        return hmac.new(self.material, data, hashlib.sha256).hexdigest()

    def verify(self, data: bytes, mac: str) -> bool:
        return hmac.compare_digest(self.mac(data), mac)

    def __repr__(self) -> str:  # keep the material out of logs and tracebacks
        return f"SecretKey(key_id={self.key_id!r}, source={self.source!r})"


def default_key_file() -> Path:
    from prodsec.db.engine import data_dir

    return data_dir() / KEY_FILE_NAME


def server_key(create: bool = False) -> SecretKey | None:
    """This server's key, or None when there is none yet and ``create`` is false.

    ``create=True`` (used by writes) makes the default key file if no key is configured.
    """
    explicit = os.environ.get(KEY_ENV)
    if explicit:
        return _checked(explicit.strip().encode("utf-8"), f"${KEY_ENV}")
    named = os.environ.get(KEY_FILE_ENV)
    if named:
        return load_key_file(Path(named), f"${KEY_FILE_ENV}")
    path = default_key_file()
    if not path.exists():
        if not create:
            return None
        _create_key_file(path)
    return load_key_file(path, str(path))


def require_key() -> SecretKey:
    key = server_key(create=True)
    assert key is not None  # create=True makes one
    return key


def load_key_file(path: Path, source: str | None = None) -> SecretKey:
    return _read_file(path.expanduser().resolve(), source or str(path))


@functools.lru_cache(maxsize=8)
def _read_file(path: Path, source: str) -> SecretKey:
    try:
        material = path.read_bytes().strip()
    except OSError as exc:
        raise SecretKeyError(f"{source}: cannot read the secret key file {path}: "
                        f"{exc.strerror}") from None
    return _checked(material, source)


def _checked(material: bytes, source: str) -> SecretKey:
    if len(material) < MIN_KEY_CHARS:
        raise SecretKeyError(f"{source}: the secret key is shorter than {MIN_KEY_CHARS} characters; "
                        "generate one with: openssl rand -hex 32")
    return SecretKey(material, source)


def _create_key_file(path: Path) -> None:
    """Write a fresh random key with mode 0600; if another process won the race, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32) + "\n")
        out.flush()
        os.fsync(out.fileno())
