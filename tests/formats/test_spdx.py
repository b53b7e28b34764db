"""SPDX 2.2/2.3 (JSON, YAML, tag-value) from spdx-examples; their SPDX 3.0.1 files go to
formats.spdx3 (tests/formats/test_spdx3.py)."""

from __future__ import annotations

import pytest

from prodsec.formats import UnsupportedVersion, spdx
from tests.realdata import DATA, SHARED, extended

EXAMPLES = DATA / "sbom" / "spdx"


def _documents(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".json", ".spdx", ".yaml")
                  and not p.name.endswith("schema.json"))


FILES = _documents(EXAMPLES)
# spdx-tools' validator flags these two upstream examples (files_analyzed false yet files listed).
KNOWN_INVALID = {"ACME-v2.3.spdx.json", "appbomination.spdx.json"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_example_parses_or_is_refused_with_a_reason(path) -> None:
    _assert_parses_or_is_refused(path)


@extended
def test_every_example_of_the_larger_set_parses_or_is_refused_with_a_reason() -> None:
    paths = _documents(SHARED / "sbom" / "spdx")
    assert len(paths) > len(FILES)
    for path in paths:
        _assert_parses_or_is_refused(path)


def _assert_parses_or_is_refused(path) -> None:
    data = path.read_bytes()
    if b"@context" in data[:4096] or "spdx3" in str(path):
        if b"spdx.org/rdf/3.0.1/" in data[:4096]:
            assert spdx.validate(data, str(path)).spec_version == "SPDX-3.0.1"
            assert spdx.parse(data, str(path)).format == "SPDX"
        else:  # SPDX 3.0.0 drafts of the larger set
            with pytest.raises(UnsupportedVersion, match=r"3\.0\.1"):
                spdx.parse(data, str(path))
        return
    report = spdx.validate(data, str(path))
    assert report.valid == (path.name not in KNOWN_INVALID), report.issues[:2]
    assert spdx.parse(data, str(path)).components


def test_json_tag_value_and_yaml_of_the_spec_example_agree() -> None:
    folder = EXAMPLES / "spec-examples-2.3"
    parsed = [spdx.parse((folder / n).read_bytes(), n) for n in
              ("SPDXJSONExample-v2.3.spdx.json", "SPDXTagExample-v2.3.spdx", "SPDXYAMLExample-2.3.spdx.yaml")]
    purls = [sorted(c.purl or "" for c in s.components) for s in parsed]
    assert purls[0] == purls[1] == purls[2]
    assert any(p.startswith("pkg:") for p in purls[0])
    assert all(len(s.dependencies) == len(parsed[0].dependencies) for s in parsed)


def test_unknown_version_is_refused() -> None:
    with pytest.raises(UnsupportedVersion, match=r"SPDX-9\.9"):
        spdx.parse(b'{"spdxVersion": "SPDX-9.9"}', "x.spdx.json")


def test_tag_value_parser_is_reused_with_fresh_state() -> None:
    """The parser is built once per thread (PLY table generation and a licence index per
    expression cost 0.75-2.9 s per document); a document, a failing one, then the first again
    must read exactly as the first time, and quickly."""
    import time

    from prodsec.errors import SbomFormatError

    first = (EXAMPLES / "software/example1/spdx2.2/example1.spdx").read_bytes()
    other = (EXAMPLES / "software/example6/spdx2.2/example6-lib.spdx").read_bytes()
    expected = spdx.parse(first, "a.spdx")
    assert spdx.parse(other, "b.spdx") != expected
    with pytest.raises(SbomFormatError):
        spdx.parse(first.replace(b"PackageName:", b"PackageName"), "broken.spdx")
    started = time.perf_counter()
    assert spdx.parse(first, "a.spdx") == expected
    assert time.perf_counter() - started < 0.5
