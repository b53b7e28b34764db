"""The native order keys agree with the versioning libraries: for any two versions the keys
compare exactly as the library's objects do, and the digits-only fast path gives the key the
library's parse would."""

from __future__ import annotations

import pytest
import semver
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from prodsec.vuln import versions

numbers = st.integers(0, 30) | st.integers(0, 10**12)
release = st.lists(numbers, min_size=1, max_size=5).map(lambda r: ".".join(map(str, r)))
letters = st.sampled_from(["a", "b", "rc", "alpha", "beta", "c", "pre", "preview"])
local = st.lists(st.from_regex(r"[a-z0-9]{1,4}", fullmatch=True), min_size=1, max_size=3)
pep440 = st.builds(
    lambda epoch, rel, pre, post, dev, loc: "".join((
        f"{epoch}!" if epoch is not None else "", rel,
        f"{pre[0]}{pre[1]}" if pre is not None else "",
        f".post{post}" if post is not None else "",
        f".dev{dev}" if dev is not None else "",
        "+" + ".".join(loc) if loc is not None else "")),
    st.none() | st.integers(0, 3), release, st.none() | st.tuples(letters, st.integers(0, 3)),
    st.none() | st.integers(0, 3), st.none() | st.integers(0, 3), st.none() | local)
identifiers = st.from_regex(r"(0|[1-9][0-9]{0,3}|[0-9a-zA-Z-]*[a-zA-Z-][0-9a-zA-Z-]*)", fullmatch=True)
semvers = st.builds(
    lambda core, pre, build: ".".join(map(str, core)) + (f"-{'.'.join(pre)}" if pre else "")
    + (f"+{'.'.join(build)}" if build else ""),
    st.tuples(numbers, numbers, numbers), st.lists(identifiers, max_size=3),
    st.lists(st.from_regex(r"[0-9a-zA-Z-]{1,5}", fullmatch=True), max_size=2))


def _sign(a: object, b: object) -> int:
    return (a > b) - (a < b)  # type: ignore[operator]


@settings(max_examples=400)
@given(pep440, pep440)
@example("1.0", "1.0.0")
@example("1.0.dev1", "1.0a1")
@example("1.0+abc", "1.0+1")
@example("1.0.post1", "1.0+local")
@example("1!0.1", "2.0")
def test_pep440_keys_order_like_packaging(a: str, b: str) -> None:
    try:
        va, vb = Version(a), Version(b)
    except InvalidVersion:
        return
    ka, kb = versions.pep440_key(va), versions.pep440_key(vb)
    assert _sign(ka, kb) == _sign(va, vb), (a, b)


@settings(max_examples=400)
@given(semvers, semvers)
@example("1.0.0-alpha", "1.0.0-alpha.1")
@example("1.0.0-alpha.beta", "1.0.0-beta")
@example("1.0.0-2", "1.0.0-11")
@example("1.0.0-rc.1", "1.0.0")
@example("1.0.0+build", "1.0.0")
def test_semver_keys_order_like_semver(a: str, b: str) -> None:
    va, vb = semver.Version.parse(a), semver.Version.parse(b)
    assert _sign(versions.semver_key(va), versions.semver_key(vb)) == _sign(va.compare(vb), 0), (a, b)


@settings(max_examples=300)
@given(st.sampled_from(["PyPI", "Go", "npm"]),
       st.one_of(release, semvers, semvers.map(lambda v: f"v{v}"), pep440,
                 st.text(alphabet="0123456789.v-+a ٣", max_size=12)))
@example("PyPI", "01.002.0")
@example("Go", "v01.2.3")
@example("npm", "v1.2.3")
@example("PyPI", "1.2.٣")
def test_text_keys_are_the_library_parse(ecosystem: str, text: str) -> None:
    """The digits fast path must answer exactly what the library's parse would, including
    "not a version" (None)."""
    parsed = versions.parse(ecosystem, text)
    expected = None if parsed is None else versions.order_key(ecosystem, parsed)
    assert versions.text_key(ecosystem, text) == expected


@pytest.mark.parametrize(("ecosystem", "low", "high"), [
    ("PyPI", "1.0rc1", "1.0"), ("PyPI", "1.0", "1.0.post1"), ("PyPI", "1.0.dev0", "1.0a0"),
    ("Go", "v1.2.3-pre", "v1.2.3"), ("Go", "v0.0.0-20200101000000-abcdef", "v0.0.1"),
    ("npm", "1.2.3-beta.2", "1.2.3-beta.11"),
])
def test_known_orderings(ecosystem: str, low: str, high: str) -> None:
    assert versions.text_key(ecosystem, low) < versions.text_key(ecosystem, high)
