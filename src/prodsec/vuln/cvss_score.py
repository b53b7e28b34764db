"""CVSS base scores from the vector strings advisories carry (OSV ``severity[].score``).

The arithmetic is the maintained ``cvss`` package's (Red Hat Product Security; CVSS 2.0, 3.0,
3.1 and 4.0), never ours: the v3.1 rounding rule and the v4.0 macro-vector lookup tables are
easy to get subtly wrong, and a CSAF document whose score disagrees with its vector fails
mandatory test 6.1.9. The package is imported inside the functions so that importing this
module (the workspace, the CLI) costs nothing until a score is asked for.

Vectors come from advisory feeds, so they are untrusted: anything the package refuses gives
None, never an exception. The same vector is scored once per process (advisories share them).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

V2_PREFIX = "CVSS:2.0/"


class CvssScore(NamedTuple):
    """A CVSS vector with its base score and qualitative base severity."""

    version: str
    """"2.0", "3.0", "3.1" or "4.0"."""
    vector: str
    """The vector as the package normalises it: metrics in specification order, metrics set to
    "not defined" (X, ND) left out; the same vector in a stable spelling."""
    base_score: float
    base_severity: str
    """NONE, LOW, MEDIUM, HIGH or CRITICAL (v2: LOW, MEDIUM or HIGH only, see ``score``)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a finding's ``cvss`` key."""
        return self._asdict()


def score(severity: str | None) -> CvssScore | None:
    """The base score of a CVSS vector, or None for anything else (a plain severity word such
    as "HIGH", an invalid or unsupported vector, no value at all).

    CVSS 2.0 itself defines no qualitative rating; the package rates v2 scores with NVD's v2
    bands (0.0–3.9 LOW, 4.0–6.9 MEDIUM, 7.0–10.0 HIGH), so a v2 score is never NONE or
    CRITICAL. v2 vectors carry no prefix (``AV:N/AC:L/Au:N/C:P/I:P/A:P``); a non-standard
    ``CVSS:2.0/`` prefix some tools add is accepted. For v4.0 the package scores every metric
    the vector gives, as FIRST's calculator does: a vector with threat metrics (``E:U``) yields
    what v4.0 calls CVSS-BT, which is what the advisory author meant to publish.
    """
    if not isinstance(severity, str):
        return None
    return _score(severity.strip())


def severity_word(severity: str | None) -> str | None:
    """The qualitative word an advisory gives instead of a vector (GHSA's "moderate", "HIGH"),
    upper-cased; None for a vector or nothing. Findings keep the word: it is all some feeds say."""
    if not isinstance(severity, str) or "/" in severity or ":" in severity:
        return None
    word = severity.strip().upper()
    return word if word.isalpha() else None


@lru_cache(maxsize=4096)
def _score(text: str) -> CvssScore | None:
    from cvss import CVSSError

    try:
        if text.startswith("CVSS:4."):
            return _v4(text)
        if text.startswith("CVSS:3."):
            return _v3(text)
        if "/" in text and (text.startswith(V2_PREFIX) or not text.startswith("CVSS:")):
            return _v2(text.removeprefix(V2_PREFIX))
    except CVSSError:
        return None
    return None


def _v4(text: str) -> CvssScore:
    from cvss import CVSS4

    parsed = CVSS4(text)
    return CvssScore("4.0", parsed.clean_vector(), float(parsed.base_score),
                     str(parsed.severity).upper())


def _v3(text: str) -> CvssScore:
    from cvss import CVSS3

    parsed = CVSS3(text)
    return CvssScore(f"3.{parsed.minor_version}", parsed.clean_vector(),
                     float(parsed.base_score), parsed.severities()[0].upper())


def _v2(text: str) -> CvssScore:
    from cvss import CVSS2

    parsed = CVSS2(text)
    return CvssScore("2.0", parsed.clean_vector(), float(parsed.base_score),
                     parsed.severities()[0].upper())


def first_json(result: CvssScore) -> dict[str, Any] | None:
    """The base-score object of FIRST's CVSS JSON schema (``cvss-v2.0.json``, ``cvss-v3.x.json``)
    as CSAF 2.0 ``scores[].cvss_v2``/``cvss_v3`` embed it; None for v4.0, which CSAF 2.0 cannot
    carry. The v2.0 schema has no ``baseSeverity`` (v2 defines no rating), so none is given."""
    if result.version == "4.0":
        return None
    data: dict[str, Any] = {"version": result.version, "vectorString": result.vector,
                            "baseScore": result.base_score}
    if result.version != "2.0":
        data["baseSeverity"] = result.base_severity
    return data
