"""The CLI's one error handler: a ``ProdsecError`` becomes a message on stderr and the exit code
its class carries (``prodsec.errors``), on the fast path and the Typer path alike."""

from __future__ import annotations

import sys

from prodsec.errors import ProdsecError


def report(exc: ProdsecError) -> int:
    """Print ``error: <message>`` (never a traceback) and give the class's exit code."""
    print(f"error: {exc}", file=sys.stderr)
    return exc.exit_code
