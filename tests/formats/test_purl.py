"""The purl fast path (a regular expression) reads every purl it accepts exactly as the
packageurl library does, and OSV names are normalised per ecosystem."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prodsec.formats.purl import (
    _library_key,
    _plain_key,
    canonical_cpe,
    canonical_purl,
    parse_key,
)

segment = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._~+-]{0,8}", fullmatch=True)
purls = st.builds(
    lambda kind, path, version, qualifiers, subpath: (
        f"pkg:{kind}/{'/'.join(path)}@{version}"
        + (f"?{qualifiers}" if qualifiers else "") + (f"#{subpath}" if subpath else "")),
    st.sampled_from(["pypi", "golang", "npm", "maven", "composer", "cargo", "gem", "nuget",
                     "hex", "pub", "deb", "generic"]),
    st.lists(segment, min_size=1, max_size=4), segment,
    st.none() | st.from_regex(r"[a-z]{1,6}=[a-z0-9.]{1,6}(&[a-z]{1,6}=[a-z0-9]{1,4})?", fullmatch=True),
    st.none() | segment)


@settings(max_examples=500)
@given(purls | st.text(max_size=40))
@example("pkg:pypi/Django_Rest.Framework@3.0")
@example("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar")
@example("pkg:golang/github.com/Azure/go-autorest@v14.2.0+incompatible")
def test_fast_path_reads_purls_like_the_library(purl: str) -> None:
    fast = _plain_key(purl)
    if fast is not None:
        assert fast == _library_key(purl), purl
    assert parse_key(purl) == (fast if fast is not None else _library_key(purl))


@pytest.mark.parametrize(("purl", "key"), [
    ("pkg:pypi/Django@4.2", ("PyPI", "django", "4.2")),
    ("pkg:pypi/zope.interface@5.0", ("PyPI", "zope-interface", "5.0")),
    ("pkg:golang/golang.org/x/net@v0.17.0", ("Go", "golang.org/x/net", "v0.17.0")),
    ("pkg:npm/%40angular/core@1.0.0", ("npm", "@angular/core", "1.0.0")),
    ("pkg:maven/org.keycloak/keycloak-core@10.0.2?type=jar", ("Maven", "org.keycloak:keycloak-core", "10.0.2")),
    ("pkg:composer/laravel/framework@v7.12.0", ("Packagist", "laravel/framework", "v7.12.0")),
    ("pkg:pypi/django", None), ("pkg:deb/debian/curl@7.0", None), ("not a purl", None),
])
def test_known_purls(purl: str, key: tuple[str, str, str] | None) -> None:
    assert parse_key(purl) == key


# ---- canonical forms for comparing identities (CSAF asset matching) --------------------------

qualifier_pairs = st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True),
                                  st.from_regex(r"[a-z0-9.]{0,5}", fullmatch=True), max_size=4)


def _with_qualifiers(base: str, pairs: list[tuple[str, str]]) -> str:
    return base + ("?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else "")


@settings(max_examples=300)
@given(purls, qualifier_pairs, st.randoms(use_true_random=False))
def test_canonical_purl_ignores_qualifier_order_and_empty_values(
        base: str, qualifiers: dict[str, str], rnd: object) -> None:
    """Qualifiers in any order, with or without empty values, are one purl; canonicalising
    twice changes nothing."""
    core = base.partition("?")[0].partition("#")[0]
    pairs = list(qualifiers.items())
    shuffled = pairs[:]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    one = canonical_purl(_with_qualifiers(core, pairs))
    other = canonical_purl(_with_qualifiers(core, shuffled))
    kept = canonical_purl(_with_qualifiers(core, [(k, v) for k, v in pairs if v]))
    assert one == other == kept
    assert one is None or canonical_purl(one) == one
    assert canonical_purl(_with_qualifiers(core, pairs), qualifiers=False) == canonical_purl(core)


@settings(max_examples=300)
@given(st.sampled_from(["npm", "pypi", "github", "gitlab", "bitbucket"]),
       st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}", fullmatch=True),
       st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}", fullmatch=True),
       st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True))
def test_case_insensitive_types_compare_in_any_case(kind: str, namespace: str, name: str,
                                                     version: str) -> None:
    """npm, PyPI and the code hosts name a package case-insensitively (purl spec): every
    spelling of the case is one canonical purl."""
    scope = f"%40{namespace}/" if kind == "npm" else (f"{namespace}/" if kind != "pypi" else "")
    purl = f"pkg:{kind}/{scope}{name}@{version}"
    assert canonical_purl(purl.upper().replace("PKG:", "pkg:")) \
        == canonical_purl(purl.lower()) == canonical_purl(purl)


@pytest.mark.parametrize(("one", "other", "same"), [
    ("pkg:npm/Lodash@4.17.21", "pkg:npm/lodash@4.17.21", True),
    ("pkg:NPM/%40Babel/Core@7.0.0", "pkg:npm/%40babel/core@7.0.0", True),
    ("pkg:pypi/Django_Rest@3.0?b=&a=1", "pkg:pypi/django-rest@3.0?a=1", True),
    ("pkg:maven/Org.A/B@1", "pkg:maven/org.a/b@1", False),  # Maven names are case-sensitive
    ("pkg:golang/github.com/Foo/bar@v1", "pkg:golang/github.com/foo/bar@v1", False),
])
def test_canonical_purl_follows_each_types_case_rules(one: str, other: str, same: bool) -> None:
    assert (canonical_purl(one) == canonical_purl(other)) is same


def test_canonical_purl_refuses_what_is_not_a_purl() -> None:
    assert canonical_purl("lodash 4.17.21") is None
    assert canonical_purl("pkg:") is None


cpe_field = st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True)


@settings(max_examples=300)
@given(st.sampled_from(["a", "o", "h"]), st.lists(cpe_field, min_size=2, max_size=5))
def test_canonical_cpe_reads_22_and_23_alike_in_any_case(part: str, fields: list[str]) -> None:
    """A CPE 2.2 URI and a CPE 2.3 formatted string naming the same thing, in any case and
    with the trailing ANY fields left out or written, are one canonical CPE of eleven fields."""
    uri = "cpe:/" + ":".join([part, *fields])
    formatted = "cpe:2.3:" + ":".join([part, *fields, *["*"] * (10 - len(fields))])
    short = "cpe:2.3:" + ":".join([part, *fields])
    canonical = canonical_cpe(formatted)
    assert canonical is not None and len(canonical.split(":")) == 13
    assert canonical == canonical_cpe(uri.upper().replace("CPE:/", "cpe:/")) \
        == canonical_cpe(short.swapcase().replace("CPE:2.3:", "cpe:2.3:")) \
        == canonical_cpe(canonical)


def test_canonical_cpe_keeps_escaped_colons_and_refuses_others() -> None:
    assert canonical_cpe(r"cpe:2.3:a:acme:a\:b:1.0") == r"cpe:2.3:a:acme:a\:b:1.0:*:*:*:*:*:*:*"
    assert canonical_cpe("cpe:/x:acme:thing") is None
    assert canonical_cpe("cpe:2.3:a:1:2:3:4:5:6:7:8:9:10:11") is None
    assert canonical_cpe("acme thing") is None
