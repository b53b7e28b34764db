"""The exception tree. Every error a user can cause is a ``ProdsecError`` with a message that
says what was wrong and what was expected; the shells (CLI, API) turn it into an exit code or a
problem response, never a traceback.

ProdsecError
├── KnowledgeBaseError   (knowledge/loader.py)  the shipped knowledge files are invalid — exit 3
├── InputError                                  a user's file or argument is invalid — exit 2
│   └── ProfileError     (core/profile.py)      a product profile is invalid
└── NotFoundError                               an unknown id — exit 2, with suggestions
"""

from __future__ import annotations

from collections.abc import Iterable


class ProdsecError(Exception):
    """Base of every error a user can act on."""

    exit_code = 1


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


def suggest(wanted: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The nearest known names, for 'did you mean' hints."""
    import difflib

    known = list(known)
    close = difflib.get_close_matches(wanted, known, n=n, cutoff=0.5)
    if not close:
        close = [k for k in known if wanted.lower() in k.lower()][:n]
    return close
