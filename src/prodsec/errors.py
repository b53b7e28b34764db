"""The exception tree. Every error a user can cause is a ``ProdsecError`` with a message that
says what was wrong and what was expected; the shells (CLI, API) turn it into an exit code or a
problem response, never a traceback.

ProdsecError
├── KnowledgeBaseError                          the shipped knowledge files are invalid — exit 3
└── InputError                                  a user's file or argument is invalid — exit 2, 422
    ├── ProfileError     (core/profile.py)      a product profile is invalid
    ├── NotFoundError                           an unknown id, with suggestions
    └── FormatError                             a file is not valid in its format (safe_yaml, formats)
        ├── UnsupportedVersion                  it declares a spec version prodsec does not read
        ├── SbomFormatError                     CycloneDX (JSON, XML) or SPDX (JSON, YAML, tag-value)
        ├── AdvisoryFormatError                 an OSV advisory (JSON, YAML, a zip of them)
        ├── CsafFormatError                     a CSAF 2.0 document
        ├── VexFormatError                      a CycloneDX VEX, OpenVEX or CSAF VEX document
        ├── CsafTreeError                       a CSAF provider tree (provider-metadata, feeds)
        └── OpenPgpError                        an OpenPGP key that cannot be used, or no gpg

Each parser raises its own type and nothing else for bad input (``tests/fuzz`` holds them to
it); a reader's ``UnsupportedVersion`` is also its format's error (e.g.
``UnsupportedSbomVersion``), so ``except SbomFormatError`` catches both.
"""

from __future__ import annotations

from collections.abc import Iterable


class ProdsecError(Exception):
    """Base of every error a user can act on."""

    exit_code = 1


class KnowledgeError:
    """One problem in one knowledge file. (A plain class: ``dataclasses`` costs start-up.)"""

    __slots__ = ("file", "message", "path")

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file, self.path, self.message = file, path, message

    def __repr__(self) -> str:
        return f"KnowledgeError({self.file!r}, {self.path!r}, {self.message!r})"

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class KnowledgeBaseError(ProdsecError):
    """The knowledge files are invalid; ``errors`` lists every problem found."""

    exit_code = 3

    def __init__(self, errors: list[KnowledgeError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(f"the knowledge base has {len(errors)} error(s):\n{lines}")


class InputError(ProdsecError):
    """Bad user input: a file, a field, an argument."""

    exit_code = 2


class NotFoundError(InputError):
    """An id that does not exist; the message suggests the nearest known ids."""

    def __init__(self, what: str, wanted: str, known: Iterable[str]) -> None:
        self.what, self.wanted = what, wanted
        self.suggestions = suggest(wanted, known)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown {what} {wanted!r}{hint}")


class FormatError(InputError):
    """A file is not valid in its format. The message names the file, the location (line and
    column, or a JSON pointer) and what was expected; ``source``, ``line`` and ``column`` are
    kept apart for callers that report them in their own words."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 column: int | None = None, problem: str | None = None) -> None:
        super().__init__(message)
        self.source, self.line, self.column = source, line, column
        self.problem = problem or message


class UnsupportedVersion(FormatError):
    """A file declares a spec version prodsec does not read."""


class SbomFormatError(FormatError):
    """A CycloneDX or SPDX document cannot be read."""


class UnsupportedSbomVersion(SbomFormatError, UnsupportedVersion):
    """An SBOM of a CycloneDX or SPDX version prodsec does not read."""


class AdvisoryFormatError(FormatError):
    """An OSV advisory (or a zip or directory of them) cannot be read."""


class CsafFormatError(FormatError):
    """A CSAF document cannot be read."""


class UnsupportedCsafVersion(CsafFormatError, UnsupportedVersion):
    """A CSAF document of a version other than 2.0."""


class VexFormatError(FormatError):
    """A VEX document (CycloneDX VEX, OpenVEX, CSAF VEX) cannot be read."""


class CsafTreeError(FormatError):
    """A CSAF provider tree (CSAF 2.0 section 7) cannot be read or written."""


class OpenPgpError(FormatError):
    """An OpenPGP key that cannot be used (none, several, wrong passphrase), or GnuPG missing."""


def suggest(wanted: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The nearest known names, for 'did you mean' hints."""
    import difflib

    known = list(known)
    close = difflib.get_close_matches(wanted, known, n=n, cutoff=0.5)
    if not close:
        close = [k for k in known if wanted.lower() in k.lower()][:n]
    return close
