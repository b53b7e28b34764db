"""Property tests: range membership agrees with the versioning library; parsers never crash."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from prodsec.core.advisory import Event, Range
from prodsec.errors import InputError
from prodsec.formats import csaf, cyclonedx, osv, spdx
from prodsec.vuln.index import intervals_of

versions = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30)).map(lambda t: f"{t[0]}.{t[1]}.{t[2]}")


@given(versions, versions, versions)
def test_pypi_membership_is_introduced_le_v_lt_fixed(low, high, probe) -> None:
    lo, hi = sorted((low, high), key=Version)
    rng = Range("ECOSYSTEM", (Event("fixed", hi), Event("introduced", lo)))  # order must not matter
    inside = any(i.contains(Version(probe)) for i in intervals_of("PyPI", rng))
    assert inside == (Version(lo) <= Version(probe) < Version(hi))


@given(versions, versions)
def test_go_last_affected_is_inclusive(bound, probe) -> None:
    import semver

    rng = Range("SEMVER", (Event("introduced", "0"), Event("last_affected", bound)))
    inside = any(i.contains(semver.Version.parse(probe)) for i in intervals_of("Go", rng))
    assert inside == (semver.Version.parse(probe) <= semver.Version.parse(bound))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
cyclonedx_like = st.fixed_dictionaries(
    {"bomFormat": st.just("CycloneDX"), "specVersion": st.sampled_from(["1.4", "1.6", "2.0"])},
    optional={"components": json_values, "dependencies": json_values, "metadata": json_values},
)


def _never_crashes(fn, data: bytes, name: str) -> None:
    with contextlib.suppress(InputError):
        fn(data, name)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                 cyclonedx_like.map(lambda v: json.dumps(v).encode())))
def test_sbom_parsers_raise_only_input_errors(data) -> None:
    for fn in (cyclonedx.validate, cyclonedx.parse, spdx.parse):
        _never_crashes(fn, data, "fuzz.json")


@settings(max_examples=60, deadline=None)
@given(json_values.map(lambda v: json.dumps({"document": {"csaf_version": "2.0"}, "x": v}).encode())
       | st.binary(max_size=100))
def test_csaf_validator_raises_only_input_errors(data) -> None:
    _never_crashes(csaf.validate, data, "fuzz.json")


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({"id": st.text(min_size=1, max_size=10)}, optional={
    "affected": json_values, "aliases": json_values, "withdrawn": json_values}).map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=100))
def test_osv_parser_raises_only_input_errors(data) -> None:
    _never_crashes(osv.parse, data, "fuzz.json")
    _never_crashes(osv.parse, data, "fuzz.yaml")
