"""OpenPGP detached signatures (RFC 4880) for CSAF documents (CSAF 2.0 7.1.19), through GnuPG.

``python-gnupg`` drives the ``gpg`` binary: GnuPG is the OpenPGP implementation CSAF providers
and consumers use (the OASIS tooling checks with it too), it is maintained, packaged by every
distribution, and keeps the key handling out of our code. Every operation runs in a throwaway
home directory of its own, so the admin's keyring is never read or changed and nothing of the
key stays on disk after the ``with`` block (the gpg-agent it started is stopped).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodsec.errors import OpenPgpError


@dataclass
class Signer:
    """Signs with one secret key; ``public_key`` is its armored public part (7.1.20)."""

    gpg: Any
    fingerprint: str
    public_key: str
    passphrase: str | None

    def sign(self, data: bytes) -> bytes:
        """An ASCII-armored detached signature of ``data``."""
        result = self.gpg.sign(data, keyid=self.fingerprint, detach=True, binary=False,
                               passphrase=self.passphrase)
        if not result.data:
            raise OpenPgpError(f"signing key {self.fingerprint}: gpg did not sign "
                               f"({result.status or 'no status'}; wrong passphrase?)")
        return bytes(result.data)


@dataclass
class Verifier:
    """Checks detached signatures against the public keys it was given."""

    gpg: Any
    fingerprints: tuple[str, ...]

    def verify(self, data: bytes, signature: bytes) -> str:
        """The fingerprint of the key that made a good signature, or why it is not one."""
        home = Path(self.gpg.gnupghome)
        sig = home / "document.asc"
        sig.write_bytes(signature)
        result = self.gpg.verify_data(str(sig), data)
        # a signing subkey's signature names the subkey; the key the provider lists is the primary
        signer = getattr(result, "pubkey_fingerprint", None) or result.fingerprint
        if result.valid and signer in self.fingerprints:
            return str(signer)
        if result.valid:
            return f"error: signed by {signer}, not by a key the provider names"
        return "error: " + (result.status or "not an OpenPGP signature")


@contextmanager
def _home() -> Iterator[Any]:
    import gnupg  # type: ignore[import-untyped]

    if shutil.which("gpg") is None:
        raise OpenPgpError("gpg (GnuPG) is not installed: OpenPGP signing and checking need it "
                           "(Debian: apt-get install gnupg)")
    home = tempfile.mkdtemp(prefix="prodsec-gpg-")
    try:
        yield gnupg.GPG(gnupghome=home)
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False,
                       capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def signer(secret_key: bytes, passphrase: str | None, source: str) -> Iterator[Signer]:
    """A signer over the one secret key in ``secret_key`` (armored or binary)."""
    with _home() as gpg:
        result = gpg.import_keys(secret_key)
        secrets = gpg.list_keys(secret=True)
        if not secrets:
            raise OpenPgpError(f"{source}: no OpenPGP secret key found (expected an exported "
                               "secret key: gpg --export-secret-keys --armor FINGERPRINT)")
        if len(secrets) > 1:
            raise OpenPgpError(f"{source}: {len(secrets)} secret keys; give exactly one")
        fingerprint = str(secrets[0]["fingerprint"])
        del result
        yield Signer(gpg, fingerprint, str(gpg.export_keys(fingerprint)), passphrase)


@contextmanager
def verifier(public_keys: list[bytes], allowed: set[str] | None = None) -> Iterator[Verifier]:
    """A verifier trusting these public keys (armored or binary) — only those whose fingerprint
    is in ``allowed`` when it is given (a key file in a tree must be the key its metadata
    names)."""
    with _home() as gpg:
        for key in public_keys:
            gpg.import_keys(key)
        found = tuple(str(k["fingerprint"]) for k in gpg.list_keys()
                      if allowed is None or str(k["fingerprint"]).upper() in allowed)
        yield Verifier(gpg, found)


def fingerprints(public_key: bytes) -> list[str]:
    """The fingerprints of the keys in a public key file."""
    with verifier([public_key]) as v:
        return list(v.fingerprints)
