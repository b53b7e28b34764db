"""Every parser, fuzzed for a bounded time: only its declared error types may escape.

One test per target (``targets.py``): hypothesis draws byte mutations of the real seed files and
structure-aware rebuilds (a hypothesis-generated JSON value put anywhere in a seed). Examples per
target scale with its cost so the module stays within ~60 s (16 s on a quiet machine); the run is derandomised so CI sees
the same inputs each time, while ``scripts/fuzz.py`` explores ≥ 10⁶ random ones.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import targets as fuzz

TARGETS = fuzz.targets()
BUDGET = 300  # examples for a target of cost 1

LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2 ** 63),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["\ud800", "x\udfff", "", "0", "../x", "pkg:pypi/a@1", "2026-02-30",
                     "CVE-2024-0001", "\x00", "\u202e"]),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=16,
)


@pytest.fixture(autouse=True)
def quiet_logs() -> Any:
    logging.disable(logging.CRITICAL)  # alembic's migration log on the first export input
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_seeds_are_read_without_error(target: fuzz.Target) -> None:
    """The corpus is real, valid files: each must pass (else the fuzzer mutates garbage)."""
    for seed in target.seeds():
        target.run(seed)


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_only_declared_errors_escape(target: fuzz.Target) -> None:
    @settings(max_examples=max(8, BUDGET // target.cost), deadline=None, database=None,
              derandomize=True, suppress_health_check=list(HealthCheck))
    @given(rng=st.randoms(use_true_random=False), value=VALUES, structural=st.booleans())
    def fuzz_target(rng: Any, value: Any, structural: bool) -> None:
        if structural and target.syntax in ("json", "yaml"):
            seed = rng.choice(target.seeds())
            data = fuzz.mutate_structure(rng, seed, target.syntax, value=lambda _rng: value)
        else:
            data = fuzz.make_input(rng, target)
        fuzz.check(target, data)

    fuzz_target()
