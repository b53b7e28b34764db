"""One module per external format; each turns a file into ``prodsec.core`` values.

Every reader raises ``FormatError`` (an ``InputError``) naming the file, the location and what
was expected; nothing else escapes for bad input.
"""

from __future__ import annotations

from prodsec.formats._io import FormatError, UnsupportedVersion

__all__ = ["FormatError", "UnsupportedVersion"]
