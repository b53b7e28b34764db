"""Natural order of requirement and clause ids: properties of the one sort key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from prodsec.core.ordering import natural_key, natural_sorted

ids = st.text(alphabet="ab-:.0123456789", max_size=12)


def test_numbers_compare_as_numbers() -> None:
    assert natural_sorted(["eu-cra:art-13:10", "eu-cra:art-13:2", "eu-cra:art-13:1"]) == [
        "eu-cra:art-13:1", "eu-cra:art-13:2", "eu-cra:art-13:10"]
    assert natural_sorted(["5.10", "5.9", "5.1.2"]) == ["5.1.2", "5.9", "5.10"]


@given(st.lists(ids))
def test_sorting_is_a_total_order_independent_of_input_order(items: list[str]) -> None:
    once = natural_sorted(items)
    assert natural_sorted(list(reversed(items))) == once
    assert sorted(once) == sorted(items)  # a permutation
    assert natural_sorted(once) == once


@given(ids, st.integers(0, 10**6), st.integers(0, 10**6))
def test_a_number_suffix_orders_by_value(prefix: str, a: int, b: int) -> None:
    prefix = prefix.rstrip("0123456789") + ":"
    left, right = natural_key(f"{prefix}{a}"), natural_key(f"{prefix}{b}")
    assert (left < right) == (a < b) or a == b
