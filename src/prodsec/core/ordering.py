"""Natural order of identifiers: ``eu-cra:annex-i:2`` before ``eu-cra:annex-i:10``, as a
person reads them. One key, used wherever requirement or clause ids are listed (CLI, API, web,
documents), so every face shows the same order."""

from __future__ import annotations

import re

_PARTS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that compares runs of digits as numbers and the rest case-insensitively.
    Each part is tagged (0 = number, 1 = text) so that numbers and words never compare with
    each other; the original text breaks ties, so the order is total."""
    parts: list[tuple[int, int | str]] = []
    for i, piece in enumerate(_PARTS.split(text)):
        if i % 2:
            parts.append((0, int(piece)))
        elif piece:
            parts.append((1, piece.lower()))
    return (*parts, (1, text))


def natural_sorted(items: list[str] | set[str] | tuple[str, ...]) -> list[str]:
    """The items in natural order."""
    return sorted(items, key=natural_key)
