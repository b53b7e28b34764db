"""What the server benchmarks share: a free port and a throwaway PostgreSQL schema.

`api.py` and `load.py` both start prodsec in a subprocess against SQLite and, when a URL is
given, against PostgreSQL in a schema of their own that is dropped afterwards.
"""

from __future__ import annotations

import os
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_url(schema: str) -> str | None:
    """The benchmark's PostgreSQL URL with `schema` first on the search path, or None."""
    url = os.environ.get("PRODSEC_BENCH_POSTGRES_URL") or os.environ.get(
        "PRODSEC_TEST_POSTGRES_URL")
    if not url:
        return None
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def reset_schema(url: str, schema: str, create: bool) -> None:
    """Drop the benchmark's schema (and create it afresh when `create`)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        if create:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
