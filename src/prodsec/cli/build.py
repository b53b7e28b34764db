"""Typer commands built from ``prodsec.cli.spec``: the same parameters, limits and help the fast
path reads, so the two cannot drift apart.

A spec'd command becomes an ordinary function whose signature carries ``Annotated`` Typer
parameters; Typer reads it as it reads a hand-written one. Commands not in the spec are written
as usual and registered as before.
"""

from __future__ import annotations

import inspect
from enum import StrEnum
from typing import Annotated, Any

import typer

from prodsec.cli.spec import Arg, Command, Opt


def typer_command(cmd: Command) -> Any:
    """A function Typer turns into ``cmd``: it calls the handler and exits with its code."""
    repeated = [opt.name for opt in cmd.opts if opt.repeat]

    def run(**kwargs: Any) -> None:
        for name in repeated:
            kwargs[name] = list(kwargs[name] or [])
        code = cmd.load()(**kwargs)
        if code:
            raise typer.Exit(code)

    parameters = [_parameter(p) for p in cmd.params]
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    run.__doc__ = cmd.help
    run.__name__ = run.__qualname__ = "_".join(cmd.words).replace("-", "_")
    return run


def register(target: typer.Typer, *words: str) -> None:
    """Add the spec'd command ``words`` to ``target`` (the app or a group) under its last word."""
    from prodsec.cli.spec import command

    target.command(words[-1])(typer_command(command(*words)))


def _parameter(param: Arg | Opt) -> inspect.Parameter:
    kind = inspect.Parameter.KEYWORD_ONLY
    if isinstance(param, Arg):
        base: Any = list[param.type] if param.many else param.type  # type: ignore[name-defined]
        info = typer.Argument(metavar=param.metavar or None, help=param.help or None)
        if param.required:
            return inspect.Parameter(param.name, kind, annotation=Annotated[base, info])
        return inspect.Parameter(param.name, kind, annotation=Annotated[base | None, info],
                                 default=None)
    base, default = param.type, param.default
    if param.choices:
        base = StrEnum(param.name.title(), {c: c for c in param.choices})  # type: ignore[misc]
        default = base(default)
    if param.repeat:
        base = list[base]
    info = typer.Option(*param.flags, help=param.help or None, min=param.min, max=param.max)
    optional = default is None
    return inspect.Parameter(param.name, kind, default=default,
                             annotation=Annotated[base | None if optional else base, info])
