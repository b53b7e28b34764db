"""The purl fast path (a regular expression) reads every purl it accepts exactly as the
packageurl library does, and OSV names are normalised per ecosystem."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prodsec.formats.purl import _library_key, _plain_key, parse_key

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
