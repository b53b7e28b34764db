"""The loader: every shipped file loads; every bad file is refused with every error named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prodsec.knowledge import loader
from prodsec.knowledge.loader import KnowledgeBaseError, build, knowledge_files

DATA = loader.DATA_DIR


def test_every_shipped_file_loads() -> None:
    data = build(knowledge_files(DATA), DATA)
    assert len(data["regulations"]) == 11
    assert data["standards"] and data["mappings"]


def test_cache_round_trip_equals_fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODSEC_CACHE_DIR", str(tmp_path))
    first = loader.load_data()
    assert list(tmp_path.glob("knowledge-*.marshal"))
    second = loader.load_data()
    assert first == second
    assert second == loader.load_data(use_cache=False) | {"version": second["version"]}


def test_a_cache_entry_built_from_other_bytes_is_never_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry's name is only a CRC-32: an entry under the same name made from other bytes
    (a collision, an edit, a different Python) is rebuilt, not served."""
    import marshal

    monkeypatch.setenv("PRODSEC_CACHE_DIR", str(tmp_path))
    fresh = loader.load_data()
    [entry] = tmp_path.glob("knowledge-*.marshal")
    source, _ = marshal.loads(entry.read_bytes())
    entry.write_bytes(marshal.dumps((source + b"edited", {"regulations": {}})))
    assert loader.load_data() == fresh
    assert marshal.loads(entry.read_bytes())[0] == source  # rebuilt and written again


def test_version_is_the_sha256_of_the_knowledge_files() -> None:
    """Assessments record the version: it must not change with the cache's layout."""
    import hashlib
    import sys

    digest = hashlib.sha256(loader.FORMAT_VERSION.encode() + sys.version.encode())
    for path in knowledge_files(DATA):
        digest.update(str(path.relative_to(DATA)).encode() + b"\0" + path.read_bytes() + b"\0")
    assert loader.load_data(use_cache=False)["version"] == digest.hexdigest()[:16]


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def _errors(data_dir: Path) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as caught:
        build(knowledge_files(data_dir), data_dir)
    return [str(e) for e in caught.value.errors]


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


MINIMAL_STANDARD = """\
id: test-std
title: Test standard
short_name: TS
publisher: Test
version: "1"
text: A standard for tests.
sources: [{title: t, url: "https://example.org"}]
verified: true
requirements:
  - id: test-std:1
    title: One
    text: First provision.
    category: prevention
    citation: clause 1
  - id: test-std:2
    title: Two
    text: Second provision.
    category: sideways
    citation: clause 2
  - id: test-std:3
    title: Three
    text: Third provision.
    category: handling
"""


def test_missing_citation_and_bad_enum_are_both_reported(data_copy: Path) -> None:
    (data_copy / "standards" / "test-std.yaml").write_text(MINIMAL_STANDARD)
    errors = _errors(data_copy)
    assert "standards/test-std.yaml: requirements[2].citation: missing" in errors
    assert any(e.startswith("standards/test-std.yaml: requirements[1].category:") for e in errors)


def test_duplicate_id_is_refused(data_copy: Path) -> None:
    text = MINIMAL_STANDARD.replace("category: sideways", "category: readiness").replace(
        "    text: Third provision.\n    category: handling\n",
        "    text: Third provision.\n    category: handling\n    citation: clause 3\n").replace(
        "id: test-std:2", "id: test-std:1")
    (data_copy / "standards" / "test-std.yaml").write_text(text)
    assert any("duplicate id 'test-std:1'" in e for e in _errors(data_copy))


def test_unknown_mapping_end_is_refused(data_copy: Path) -> None:
    path = next((data_copy / "mappings").glob("*.yaml"))
    text = path.read_text()
    first_target = text.split("target: ", 1)[1].split("\n", 1)[0].strip()
    _edit(path, f"target: {first_target}", "target: eu-cra:annex-i:part-i:9:z")
    errors = _errors(data_copy)
    assert any(path.name in e and "unknown requirement id 'eu-cra:annex-i:part-i:9:z'" in e
               for e in errors)


def test_wrong_date_format_is_refused(data_copy: Path) -> None:
    path = data_copy / "regulations" / "eu-cra.yaml"
    _edit(path, "date: 2027-12-11", "date: 11.12.2027")
    errors = _errors(data_copy)
    assert any(e.startswith("regulations/eu-cra.yaml: ") and "date" in e for e in errors)


def test_invalid_yaml_names_line_and_column(data_copy: Path) -> None:
    (data_copy / "standards" / "broken.yaml").write_text("id: broken\ntitle: [unclosed\n")
    errors = _errors(data_copy)
    assert any(e.startswith("standards/broken.yaml: line ") and "column" in e for e in errors)


def test_unknown_field_and_file_name_mismatch(data_copy: Path) -> None:
    text = MINIMAL_STANDARD.replace("id: test-std\n", "id: other-std\nextra_key: 1\n")
    (data_copy / "standards" / "test-std.yaml").write_text(text)
    errors = _errors(data_copy)
    assert "standards/test-std.yaml: extra_key: unknown field" in errors


def test_unknown_profile_fact_in_rule_is_refused(data_copy: Path) -> None:
    path = data_copy / "regulations" / "eu-cra.yaml"
    _edit(path, "fact: data_connection", "fact: data_connexion")
    assert any("unknown profile fact 'data_connexion'" in e for e in _errors(data_copy))
