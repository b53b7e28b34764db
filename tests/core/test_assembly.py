"""core.assembly: merging a release's parts by purl/CPE, origins, conflicts — pure, with
hypothesis for the properties that must hold whatever the parts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prodsec.core.assembly import Part, assemble, identity
from prodsec.core.sbom import Component, Dependency, Sbom


def _part(name: str, *components: Component, edges: tuple[Dependency, ...] = ()) -> Part:
    return Part(name, "application", Sbom("CycloneDX", "1.6", components, edges))


OPENSSL_1 = Component("a", "openssl", "1.1.1w", purl="pkg:deb/debian/openssl@1.1.1w?arch=arm64")
OPENSSL_3 = Component("b", "openssl", "3.0.13", purl="pkg:deb/debian/openssl@3.0.13?arch=arm64")
ZLIB = Component("z", "zlib", "1.3", purl="pkg:generic/zlib@1.3")
BOARD = Component("hw", "PCIE-098", None)


def test_same_purl_is_one_component_with_every_origin() -> None:
    merged = assemble([_part("fw", ZLIB), _part("app", Component("lib-z", "zlib", "1.3",
                                                                  purl=ZLIB.purl))])
    (only,) = merged.components
    assert only.ref == "app/lib-z"  # nested under the first part by name
    assert [(o.part, o.ref) for o in only.origins] == [("app", "lib-z"), ("fw", "z")]
    assert merged.conflicts == ()


def test_components_without_purl_or_cpe_stay_one_per_part() -> None:
    merged = assemble([_part("a", BOARD), _part("b", BOARD)])
    assert [m.ref for m in merged.components] == ["a/hw", "b/hw"]


def test_cpe_identity_ignores_the_version_field() -> None:
    one = Component("c1", "busybox", "1.36.1", cpe="cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*")
    two = Component("c2", "busybox", "1.35.0", cpe="cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*")
    assert identity(one) == identity(two)
    merged = assemble([_part("fw", one), _part("rescue", two)])
    (conflict,) = merged.conflicts
    assert conflict.versions == (("fw", "1.36.1", "c1"), ("rescue", "1.35.0", "c2"))


def test_conflicting_versions_across_parts_are_kept_and_reported() -> None:
    merged = assemble([_part("firmware", OPENSSL_1), _part("app", OPENSSL_3)])
    assert len(merged.components) == 2
    (conflict,) = merged.conflicts
    assert conflict.identity == "pkg:deb/debian/openssl"
    assert conflict.message() == ("pkg:deb/debian/openssl has conflicting versions across parts — "
                                  "app: 3.0.13 (b); firmware: 1.1.1w (a)")


def test_two_versions_inside_one_part_are_no_conflict() -> None:
    assert assemble([_part("app", OPENSSL_1, OPENSSL_3)]).conflicts == ()


def test_edges_are_mapped_to_merged_refs() -> None:
    merged = assemble([_part("app", OPENSSL_3, ZLIB, edges=(Dependency("b", "z"),
                                                             Dependency("b", "gone"))),
                       _part("fw", ZLIB)])
    assert merged.dependencies == (Dependency("app/b", "app/z"),)
    whole = merged.sbom()
    assert {c.ref for c in whole.components} == {"app/b", "app/z"}
    assert whole.format == "CycloneDX" and whole.spec_version == "1.6"


PURLS = st.sampled_from(["pkg:npm/a@1", "pkg:npm/a@2", "pkg:npm/b@1", None])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fw", "app", "cloud"]),
                          st.lists(PURLS, max_size=5)), max_size=4))
def test_merge_properties(spec: list[tuple[str, list[str | None]]]) -> None:
    """Whatever the parts: refs are unique, every (part, component) has an origin, a purl
    appears once, and the result does not depend on the order of the parts."""
    parts: dict[str, Part] = {}
    for name, purls in spec:
        components = tuple(Component(f"r{i}", "x", p.rsplit("@", 1)[1] if p else None, purl=p)
                           for i, p in enumerate(purls))
        parts[name] = _part(name, *components)
    merged = assemble(list(parts.values()))
    refs = [m.ref for m in merged.components]
    assert len(refs) == len(set(refs))
    origins = {(o.part, o.ref) for m in merged.components for o in m.origins}
    assert origins == {(p.name, c.ref) for p in parts.values() for c in p.sbom.components}
    purls = [m.component.purl for m in merged.components if m.component.purl]
    assert len(purls) == len(set(purls))
    assert assemble(list(reversed(parts.values()))) == merged
