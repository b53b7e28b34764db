"""``prodsec.untrusted``: YAML and JSON from users and feeds, bounded (issue 11, findings 6-7).

The alias bomb (357 bytes) hung the web's event loop ~35 s then raised MemoryError, made
``prodsec check`` run > 30 s in > 1 GB and hung the OSV import; lone surrogates, integers of
more than 4 300 digits and deep nesting escaped as ValueError/RecursionError.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from prodsec import untrusted
from prodsec.errors import FormatError

#: Nine anchors, each aliasing the previous one nine times: 9⁹ ≈ 3.9·10⁸ "lol"s when expanded.
ALIAS_BOMB = b"""name: bomb
markets: [EU]
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
functions: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def bounded(code: str, seconds: float = 20) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that must finish within ``seconds`` (the old code
    ran for minutes: the test then fails on the timeout instead of hanging the suite)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=seconds, check=False)


def test_alias_bomb_is_refused_naming_the_line() -> None:
    with pytest.raises(FormatError) as caught:
        untrusted.load_yaml(ALIAS_BOMB, "bomb.yaml", what="a product profile")
    assert caught.value.line == 3 and caught.value.column == 4
    assert "bomb.yaml: line 3 column 4: an anchor (&a)" in str(caught.value)
    assert "not allowed in a product profile" in str(caught.value)


def test_alias_budget_stops_the_bomb_where_aliases_are_allowed() -> None:
    started = time.perf_counter()
    with pytest.raises(FormatError, match="aliases expand to more than 100000 nodes"):
        untrusted.load_yaml(ALIAS_BOMB, "bomb.yaml", aliases=True)
    assert time.perf_counter() - started < 2


def test_modest_aliases_are_kept_where_allowed() -> None:
    text = b"citation: &c {source: x, ref: y}\nother: *c\n"
    assert untrusted.load_yaml(text, "ok.yaml", aliases=True)["other"] == {"source": "x", "ref": "y"}


def test_old_loader_walk_of_the_bomb_does_not_hang() -> None:
    """formats._io.load_yaml (SPDX, OSV) walked the expanded bomb for minutes."""
    result = bounded("from prodsec.formats._io import load_yaml\n"
                     "from prodsec.errors import FormatError\n"
                     f"try:\n    load_yaml({ALIAS_BOMB!r}, 'bomb.yaml')\n"
                     "except FormatError as exc:\n    print(exc)\n")
    assert "aliases expand to more than" in result.stdout, result.stderr


@pytest.mark.parametrize(("data", "expected"), [
    (b'{"name": "\\ud800"}', "/name: a lone surrogate (U+D800)"),
    (b'{"\\udfff": 1}', "/\\udfff: a lone surrogate (U+DFFF)"),
    (b'{"n": ' + b"1" * 5000 + b"}", "Exceeds the limit (4300 digits)"),
    (b'{"n": ' + b"1" * 4000 + b"}", "/n: a number of 13285 bits"),
    (b"[" * 5000 + b"]" * 5000, "nested deeper than 100 levels"),
    (b'{"a": ', "line 1 column 7: invalid JSON"),
    (b"\xff\xfe", "byte 0: not UTF-8 text"),
    (b'{"name": "x", "name": "y"}', "/: the key 'name' appears more than once"),
    (b'{"vulnerabilities": [{"id": 1}, {"id": 2, "analysis": {"state": "a", "state": "b"}}]}',
     "/vulnerabilities/1/analysis: the key 'state' appears more than once"),
])
def test_json_refusals(data: bytes, expected: str) -> None:
    with pytest.raises(FormatError) as caught:
        untrusted.load_json(data, "doc.json")
    assert expected in str(caught.value)


@pytest.mark.parametrize(("data", "expected"), [
    (b"n: 0x" + b"f" * 2000, "/n: a number of 8000 bits"),
    (b"n: " + b"1" * 5000, "Exceeds the limit (4300 digits)"),
    (b"[" * 150 + b"]" * 150, "line 1 column 101: nested deeper than 100 levels"),
    (b"[" * 5000 + b"]" * 5000, "invalid YAML: exceeded maximum nesting depth"),
    (b"x: !!python/object/apply:os.system [ls]", "could not determine a constructor"),
    (b"x: [1, 2\n", "line 2 column 1: invalid YAML"),
    (b"? 0x" + b"f" * 40 + b"\n: 1\n", "a number of 160 bits"),
    (b"x: \"\\ud800\"", "invalid YAML"),
])
def test_yaml_refusals(data: bytes, expected: str) -> None:
    with pytest.raises(FormatError) as caught:
        untrusted.load_yaml(data, "doc.yaml")
    assert expected in str(caught.value)


def test_size_is_checked_before_parsing() -> None:
    with pytest.raises(FormatError, match="over the 10-byte limit"):
        untrusted.load_yaml(b"a: " + b"x" * 20, "big.yaml", max_bytes=10)


def test_caller_error_type_is_raised() -> None:
    from prodsec.errors import AdvisoryFormatError

    with pytest.raises(AdvisoryFormatError):
        untrusted.load_yaml(ALIAS_BOMB, "osv.yaml", error=AdvisoryFormatError)
