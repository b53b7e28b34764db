"""Hostile profiles on the command line: exit 2 with the file and line, no traceback, no hang
(issue 11: the 357-byte alias bomb made ``prodsec check`` run > 30 s in > 1 GB)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_untrusted import ALIAS_BOMB


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prodsec", "check", str(path), "--format", "json"],
                          capture_output=True, text=True, timeout=20,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.mark.parametrize(("content", "message"), [
    (ALIAS_BOMB, "line 3 column 4: an anchor (&a): anchors and aliases are not allowed"),
    (b"name: x\nmarkets: [EU]\nvehicle: {automated_driving_level: 0x" + b"f" * 2000 + b"}\n",
     "a number of 8000 bits"),
    (b"name: \"\\ud800\"\nmarkets: [EU]\n", "invalid YAML"),
    (b"name: x\nmarkets: [EU]\nvehicle: {category: [M1]}\n", "vehicle.category: expected a text"),
])
def test_hostile_profile_exits_2_naming_the_file(tmp_path: Path, content: bytes,
                                                 message: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content)
    started = time.perf_counter()
    result = check(path)
    assert time.perf_counter() - started < 20
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}: invalid product profile" in result.stderr
    assert message in result.stderr
