"""The client address the login limiter keys on: X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prodsec.api.clients import client_address, parse_trusted_proxies

PROXIES = ("10.0.0.0/8", "192.0.2.10")


@pytest.mark.parametrize(("peer", "forwarded", "trusted", "client"), [
    ("203.0.113.7", None, (), "203.0.113.7"),
    ("203.0.113.7", "198.51.100.1", (), "203.0.113.7"),  # no proxy trusted: header ignored
    ("203.0.113.7", "198.51.100.1", PROXIES, "203.0.113.7"),  # the peer is no proxy of ours
    ("10.0.0.5", "198.51.100.1", PROXIES, "198.51.100.1"),
    ("10.0.0.5", "1.1.1.1, 198.51.100.1, 192.0.2.10", PROXIES, "198.51.100.1"),  # right to left
    ("10.0.0.5", "10.1.1.1, 10.2.2.2", PROXIES, "10.1.1.1"),  # all ours: the leftmost
    ("10.0.0.5", "nonsense, 198.51.100.1", PROXIES, "198.51.100.1"),
    ("10.0.0.5", "198.51.100.1, nonsense", PROXIES, "10.0.0.5"),  # garbage after our proxy
    ("2001:db8:1:2:3:4:5:6", None, (), "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", None, (), "203.0.113.7"),
    ("testclient", "198.51.100.1", PROXIES, "testclient"),
])
def test_client_address(peer: str, forwarded: str | None, trusted: tuple[str, ...],
                        client: str) -> None:
    assert client_address(peer, forwarded, trusted) == client


def test_trusted_proxies_from_the_environment() -> None:
    assert parse_trusted_proxies(" 10.0.0.0/8, 192.0.2.10 fd00::/8") == (
        "10.0.0.0/8", "192.0.2.10", "fd00::/8")
    assert parse_trusted_proxies("") == ()
    with pytest.raises(ValueError, match=r"'proxy\.local'"):
        parse_trusted_proxies("10.0.0.1,proxy.local")


def test_serve_refuses_a_bad_trusted_proxy(tmp_path: Path) -> None:
    env = {**os.environ, "PRODSEC_TRUSTED_PROXIES": "10.0.0.1, proxy.local",
           "PRODSEC_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "prodsec", "serve", "--db",
                             str(tmp_path / "x.db")], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "PRODSEC_TRUSTED_PROXIES" in result.stderr and "proxy.local" in result.stderr
    assert "Traceback" not in result.stderr
