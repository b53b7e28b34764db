"""The verdict of CSAF 2.0 validation: which section 6 tests failed, where, and why.

CSAF 2.0 section 6: a document is valid when it passes the JSON schema and every mandatory test
(6.1.x); optional (6.2.x) and informative (6.3.x) findings are reported but leave it valid.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCKING_GROUPS = frozenset({"schema", "mandatory"})


@dataclass(frozen=True)
class TestFailure:
    """One finding of one test: ``test`` is ``schema`` or a section number such as ``6.1.1``."""

    __test__ = False  # not a pytest test class, despite the name

    test: str
    group: str
    path: str
    message: str

    @property
    def blocking(self) -> bool:
        """True when this finding makes the document invalid."""
        return self.group in BLOCKING_GROUPS


@dataclass(frozen=True)
class CsafReport:
    """All findings for one document, plus the tests that could not run offline."""

    source: str
    failures: tuple[TestFailure, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def valid(self) -> bool:
        """True when no schema or mandatory test failed."""
        return not any(f.blocking for f in self.failures)

    def failed_tests(self) -> tuple[str, ...]:
        """The distinct test numbers that reported something, in order of first report."""
        return tuple(dict.fromkeys(f.test for f in self.failures))

    def to_dict(self) -> dict[str, object]:
        """The stable JSON shape of ``prodsec csaf validate --format json``."""
        return {
            "file": self.source,
            "valid": self.valid,
            "failures": [
                {"test": f.test, "group": f.group, "path": f.path, "message": f.message}
                for f in self.failures
            ],
            "skipped": [{"test": t, "reason": r} for t, r in self.skipped],
        }
