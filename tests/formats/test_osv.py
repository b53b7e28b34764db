"""OSV input that used to escape as an exception or hang (issue 11, findings 6-7)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from prodsec.errors import AdvisoryFormatError
from prodsec.formats import osv
from tests.test_untrusted import ALIAS_BOMB, bounded

ADVISORY = {"id": "PYSEC-0000-1", "affected": [{"package": {"name": "x", "ecosystem": "PyPI"},
                                                "ranges": [{"type": "ECOSYSTEM", "events": [
                                                    {"introduced": "0"}, {"fixed": "1.0"}]}]}]}


def test_alias_bomb_in_osv_yaml_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "PYSEC-bomb.yaml"
    path.write_bytes(ALIAS_BOMB.replace(b"name: bomb", b"id: PYSEC-bomb"))
    result = bounded(f"from pathlib import Path\nfrom prodsec.formats import osv\n"
                     f"print(osv.load(Path({str(path)!r})).failures[0].message)")
    assert "an anchor (&a): anchors and aliases are not allowed in an OSV advisory" \
        in result.stdout, result.stderr


def _zip(tmp_path: Path, damage: int | None = None, flag: int | None = None,
         method: int | None = None) -> Path:
    path = tmp_path / "osv.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.json", json.dumps(ADVISORY) * 3)
        zf.writestr("b.json", json.dumps({**ADVISORY, "id": "PYSEC-0000-2"}))
    raw = bytearray(path.read_bytes())
    if damage is not None:
        raw[damage] ^= 0xFF
    if flag is not None:  # general purpose flag in the local header and the central directory
        raw[6] |= flag
        central = raw.find(b"PK\x01\x02")
        raw[central + 8] |= flag
    if method is not None:
        raw[8] = method
        central = raw.find(b"PK\x01\x02")
        raw[central + 10] = method
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(("kwargs", "why"), [
    ({"damage": 45}, "cannot be read from the zip"),          # corrupt deflate data
    ({"flag": 0x1}, "cannot be read from the zip"),           # "encrypted"
    ({"method": 99}, "cannot be read from the zip"),          # an unknown compression
])
def test_unreadable_zip_member_is_a_failure_not_a_crash(tmp_path: Path, kwargs: dict[str, int],
                                                        why: str) -> None:
    result = osv.load(_zip(tmp_path, **kwargs))
    assert why in result.failures[0].message
    assert [a.id for a in result.advisories] == ["PYSEC-0000-2"]


def test_unreadable_zip_directory_is_an_advisory_format_error(tmp_path: Path) -> None:
    path = _zip(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])  # the end of central directory record cut short
    result = osv.load(path)
    assert result.failures and not result.advisories


def test_severity_of_the_wrong_type_is_ignored() -> None:
    data = json.dumps({**ADVISORY, "severity": 5}).encode()
    assert osv.parse(data, "a.json").severity is None


def test_huge_integer_is_an_advisory_format_error() -> None:
    data = b'{"id": "X", "affected": [{"package": {"name": "x", "ecosystem": "PyPI"}, ' \
           b'"versions": [' + b"9" * 5000 + b"]}]}"
    with pytest.raises(AdvisoryFormatError, match="4300 digits"):
        osv.parse(data, "a.json")
