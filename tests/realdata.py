"""Where the tests' real-world data lives.

``DATA`` (tests/data/) ships with the project: a small slice of real SBOMs, advisories, CSAF and
conformance files, enough for every assertion of the suite (its README names sources and
licences). ``SHARED`` is the optional larger set beside the clone (../shared/data, or
``PRODSEC_SHARED_DATA``): the full databases, used by the benchmarks and by the few tests marked
``extended``, which rerun a check over all of it. Without it those are deselected, and the test
run says why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SHARED = Path(os.environ.get("PRODSEC_SHARED_DATA") or ROOT.parent / "shared" / "data")

#: a test over the larger set: runs only where ../shared/data is present
extended = pytest.mark.extended
