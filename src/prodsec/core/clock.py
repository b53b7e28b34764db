"""The workspace's clock: now, in UTC, to the second.

Every stored timestamp is stamped with it (``db.models`` re-exports it as the columns'
default), and a face that shows or pre-fills a time beside those timestamps reads the same
clock here instead of importing the database models (faces never query; see
``tests/test_architecture.py``).
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now in UTC without microseconds: what the database stores and the pages show."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
