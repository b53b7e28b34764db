"""The ``prodsec`` command.

``main`` first tries the fast path (``prodsec.cli.fast``): the read-only JSON queries scripts
run often, answered without importing Typer, Rich or pydantic (~150 ms of imports). Anything
else — help, tables, options the fast path does not know — goes to the Typer application in
``prodsec.cli.app``, which is the full CLI. Both call the same service functions.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        from prodsec.cli.fast import try_fast

        code = try_fast(args)
        if code is not None:
            if argv is None:  # the program itself, not a caller (a test) that goes on
                end_process(code)
            sys.exit(code)
        from prodsec.cli.app import run

        run(args)
    except ModuleNotFoundError as exc:  # an optional dependency, on either path: name the extra
        from prodsec.cli.extras import missing_extra
        from prodsec.cli.failure import report

        missing = missing_extra(exc)
        if missing is None:
            raise
        sys.exit(report(missing))
    except BrokenPipeError:  # `prodsec … | head`: the reader left early; no traceback
        import os

        # Python flushes stdout again at exit; point it at /dev/null so that flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


def end_process(code: int) -> None:
    """End the process now, without the interpreter's teardown.

    Why: tearing down frees every object one by one, and a fast-path command leaves many —
    the knowledge base for a query, SQLAlchemy and ~50 mapped models (~10^5 objects) for a
    workspace command, where it was ~35 % of the command's CPU time. Nothing else is left to
    do: the command has finished and closed its database; the output is flushed and the
    ``atexit`` handlers (logging, weakref finalizers) run here, as at a normal exit.
    """
    import atexit
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)
