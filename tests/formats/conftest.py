"""Paths to the real shared data (read-only)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

if not SHARED.is_dir():
    pytest.skip("shared/data is not present", allow_module_level=True)
