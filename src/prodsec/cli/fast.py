"""The fast path: the commands defined in ``prodsec.cli.spec``, run without Typer.

``prodsec.cli.spec.recognise`` accepts a call only when it is sure Typer would accept it the
same way; then the command's handler runs here, in every format, importing no more than the
answer needs (no Typer, Rich or pydantic). Anything else — help, a typo, a value out of range —
returns None and the Typer application answers, with its help, errors and suggestions. The
handler and the error printing are the same on both paths; ``tests/cli/test_spec_parity.py``
runs calls generated from the spec through both and compares exit code, stdout and stderr.
"""

from __future__ import annotations

from prodsec.cli.views import dump

__all__ = ["dump", "try_fast"]


def try_fast(args: list[str]) -> int | None:
    """Run the call if the spec recognises it; its exit code, or None to fall back to Typer."""
    from prodsec.cli.spec import recognise

    recognised = recognise(args)
    if recognised is None:
        return None
    cmd, kwargs = recognised
    import gc

    from prodsec.cli.failure import report
    from prodsec.errors import ProdsecError

    # Importing SQLAlchemy and mapping the models creates ~10^5 long-lived objects; the cyclic
    # GC would walk them again and again (~12 % of a workspace change's CPU) to free nothing.
    # The workspace commands (a change, or a bounded read: at most 10 000 rows in a bulk file,
    # 1 000 products in a list) are short: run without.
    if cmd.writes or any(opt.name == "db" for opt in cmd.opts):
        gc.disable()
    try:
        code = cmd.load()(**kwargs)
    except ProdsecError as exc:
        return report(exc)
    finally:
        gc.enable()
    return code or 0
