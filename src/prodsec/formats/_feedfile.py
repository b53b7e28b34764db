"""What the feed readers share: gzip unwrapping with a bound, and CVE ids checked by shape.

A feed file comes from a folder anyone with access to the server can drop files into, so it is
read as untrusted: the decompressed size is bounded before it is held in memory (a gzip bomb
stops at the limit), and every id is checked before it is stored.
"""

from __future__ import annotations

import re

from prodsec.errors import FormatError

#: Largest decompressed feed: FIRST's full daily EPSS file is about 10 MB (some 300 000 CVEs).
MAX_FEED_BYTES = 64 * 1024 * 1024
CVE = re.compile(r"CVE-\d{4}-\d{4,}")


def gunzip(data: bytes, source: str) -> bytes:
    """``data`` itself, or its gzip content; a truncated or oversized archive is refused."""
    import zlib

    if data[:2] != b"\x1f\x8b":
        return data
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, MAX_FEED_BYTES + 1)
    except zlib.error as exc:
        raise FormatError(f"{source}: not a readable gzip file: {exc}", source=source) from None
    if len(out) > MAX_FEED_BYTES:
        raise FormatError(f"{source}: more than {MAX_FEED_BYTES} bytes once decompressed",
                          source=source)
    if not inflater.eof:
        raise FormatError(f"{source}: the gzip file is truncated (its end is missing)",
                          source=source)
    return out


def is_cve(value: object) -> bool:
    return isinstance(value, str) and CVE.fullmatch(value) is not None
