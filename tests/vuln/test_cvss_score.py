"""CVSS base scores from advisory vectors: the official example scores, the real PyPA vectors
cross-checked against the CSAF validator's own CVSS arithmetic, and no exception on any text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prodsec.formats import csaf, osv
from prodsec.vuln.cvss_score import CvssScore, first_json, score, severity_word

# Scores as FIRST's specifications and calculators give them (v2: the v2 guide's CVE examples;
# v4: FIRST's calculator, and the csaf package's independent v4 port agrees).
KNOWN = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", 9.8, "CRITICAL"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "3.1", 6.1, "MEDIUM"),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", "3.1", 5.5, "MEDIUM"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "3.1", 0.0, "NONE"),
    ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "3.0", 10.0, "CRITICAL"),
    ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "2.0", 7.5, "HIGH"),
    ("AV:N/AC:L/Au:N/C:N/I:N/A:C", "2.0", 7.8, "HIGH"),
    ("AV:N/AC:M/Au:N/C:N/I:P/A:N", "2.0", 4.3, "MEDIUM"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", 9.3, "CRITICAL"),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", 8.5, "HIGH"),
]


@pytest.mark.parametrize(("vector", "version", "base", "rating"), KNOWN)
def test_known_vectors_score_as_specified(vector: str, version: str, base: float,
                                          rating: str) -> None:
    assert score(vector) == CvssScore(version, vector, base, rating)


def test_vector_is_normalised_and_whitespace_tolerated() -> None:
    result = score(" CVSS:3.1/S:U/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H/E:X ")
    assert result is not None and result.base_score == 9.8
    assert result.vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


@pytest.mark.parametrize("text", [
    None, "", "HIGH", "moderate", "CVSS:3.1/", "CVSS:3.1/AV:N/AC:L", "CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Z", "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:4.0/AV:N/AC:L", "CVSS:9.9/AV:N", "AV:N/AC:L/Au:N", "AV:N/AC:L/Au:N/C:P/I:P/A:P/", "garbage/x",
])
def test_anything_but_a_valid_vector_gives_none(text: str | None) -> None:
    assert score(text) is None


def test_plain_words_stay_available_without_a_score() -> None:
    assert severity_word("moderate") == "MODERATE" and score("moderate") is None
    assert severity_word("HIGH") == "HIGH"
    assert severity_word("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") is None
    assert severity_word(None) is None and severity_word("") is None


def test_first_json_follows_each_schema() -> None:
    v3 = score(KNOWN[0][0])
    v2 = score("AV:N/AC:L/Au:N/C:P/I:P/A:P")
    v4 = score(KNOWN[-1][0])
    assert v3 is not None and v2 is not None and v4 is not None
    assert first_json(v3) == {"version": "3.1", "vectorString": KNOWN[0][0], "baseScore": 9.8,
                              "baseSeverity": "CRITICAL"}
    assert first_json(v2) == {"version": "2.0", "vectorString": "AV:N/AC:L/Au:N/C:P/I:P/A:P",
                              "baseScore": 7.5}  # the v2.0 schema has no baseSeverity
    assert first_json(v4) is None  # CSAF 2.0 scores cannot carry v4.0


@given(st.text())
def test_any_text_never_raises(text: str) -> None:
    result = score(text)
    assert result is None or 0.0 <= result.base_score <= 10.0


METRICS = ["AV:N", "AV:L", "AV:P", "AV:X", "AC:L", "AC:H", "AC:M", "Au:N", "Au:M", "AT:N", "AT:P",
           "PR:N", "PR:H", "UI:N", "UI:R", "UI:A", "S:U", "S:C", "S:X", "C:H", "C:P", "C:N",
           "I:L", "I:C", "A:H", "A:N", "VC:H", "VI:L", "VA:N", "SC:N", "SI:S", "SA:H", "E:U",
           "E:POC", "E:X", "RL:OF", "RC:C", "CR:H", "MS:C", "MAV:X", "MPR:L", "MSI:S", "CDP:LM",
           "TD:ND", "U:Red", "X:Y", "", ":", "AV"]


@given(st.sampled_from(["", "CVSS:2.0/", "CVSS:3.0/", "CVSS:3.1/", "CVSS:4.0/"]),
       st.lists(st.sampled_from(METRICS), max_size=16))
def test_vector_like_text_never_raises(prefix: str, metrics: list[str]) -> None:
    """Near-vectors (the shapes a feed gets wrong) reach the package's parsers, not just its
    prefix check; whatever they are, the answer is a score in range or None."""
    result = score(prefix + "/".join(metrics))
    assert result is None or (0.0 <= result.base_score <= 10.0 and result.version[0] in "234")


def _rating(base: float) -> str:
    """The CVSS v3.x qualitative rating scale (specification section 5), written out here."""
    bands = [(0.0, "NONE"), (3.9, "LOW"), (6.9, "MEDIUM"), (8.9, "HIGH"), (10.0, "CRITICAL")]
    return next(name for top, name in bands if base <= top)


@pytest.fixture(scope="module")
def pypi_v3(pypi_db: osv.LoadResult) -> list[str]:
    vectors = [a.severity for a in pypi_db.advisories
               if a.severity and a.severity.startswith("CVSS:3")]
    assert len(vectors) >= 150  # 202 PyPA files carry CVSS_V3 (a few are withdrawn)
    return vectors


def test_real_pypa_vectors_score_in_range_with_matching_band(pypi_v3: list[str]) -> None:
    for vector in pypi_v3:
        result = score(vector)
        assert result is not None, vector
        assert 0.0 <= result.base_score <= 10.0
        assert result.base_severity == _rating(result.base_score), vector
        assert result.version == vector[5:8]
    ratings = {r.base_severity for r in map(score, pypi_v3) if r is not None}
    assert ratings >= {"MEDIUM", "HIGH", "CRITICAL"}


def test_real_pypa_scores_agree_with_the_csaf_validator(pypi_v3: list[str]) -> None:
    """CSAF tests 6.1.8 (schema) and 6.1.9 (computation) come from the csaf package, whose CVSS
    arithmetic is its own: the two implementations must agree on every real vector."""
    scores = []
    for vector in sorted(set(pypi_v3)):
        result = score(vector)
        assert result is not None
        scores.append({"products": ["CSAFPID-1"], "cvss_v3": first_json(result)})
    doc = {"document": {"csaf_version": "2.0"}, "vulnerabilities": [{"scores": [s]} for s in scores]}
    report = csaf.validate(json.dumps(doc).encode(), "scores", tests=("6.1.8", "6.1.9"))
    assert [f for f in report.failures if f.test != "schema"] == []
    assert not any("/scores/" in f.path for f in report.failures)
