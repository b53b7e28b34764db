"""Golden files: the verdicts for the example products, as of a fixed date.

Regenerate after a deliberate change with ``PRODSEC_REGENERATE=1 pytest tests/test_examples.py``
and review the diff: it is the change in what prodsec tells users.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from prodsec.core.applicability import Engine
from prodsec.core.knowledge import KnowledgeBase
from prodsec.services.check import load_profile

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "products"
GOLDEN = ROOT / "examples" / "golden"
AS_OF = dt.date(2026, 11, 27)
PROFILES = sorted(EXAMPLES.glob("*.yaml"))


def test_at_least_twelve_examples() -> None:
    assert len(PROFILES) >= 12


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_golden(kb: KnowledgeBase, engine: Engine, profile: Path) -> None:
    data = engine.check(load_profile(profile, kb), AS_OF).to_dict()
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    golden = GOLDEN / f"{profile.stem}.json"
    if os.environ.get("PRODSEC_REGENERATE"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden file for {profile.name}; run with PRODSEC_REGENERATE=1"
    assert text == golden.read_text()
    for result in data["results"]:
        assert result["reasons"], (profile.stem, result["regulation"])
