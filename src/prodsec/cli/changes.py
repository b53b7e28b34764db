"""The workspace commands that change one thing (or a file of things), without Typer.

Both the Typer commands (``prodsec.cli.workspace``) and the fast path (``prodsec.cli.fast``)
call these functions, so a status change or a new product costs only the imports it needs:
SQLAlchemy and the models, not Typer, Rich and pydantic (~0.3 s of a 1.6 s command before).
Errors name the option the user typed (``--placed-on-market``, ``--expires``, ``--db``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prodsec.errors import InputError


def parse_date(value: str | None, option: str) -> dt.date | None:
    """The date given to ``option``, or None when the option was not given."""
    if value is None:
        return None
    from prodsec.services.check import parse_date as parse

    return parse(value, option=option)


def open_db(db: str | None, upgrade: bool = True) -> Any:
    """Open the workspace; a bad ``--db`` is an error naming the option, not a traceback."""
    from prodsec.db.engine import open_database

    try:
        return open_database(db, upgrade=upgrade)
    except InputError as exc:
        raise InputError(f"--db {exc}" if db else str(exc)) from None


@contextmanager
def workspace(db: str | None, org: str) -> Iterator[tuple[Any, Any, Any]]:
    """(database, session, actor) in one transaction, rolled back on any error."""
    import getpass

    from prodsec.workspace.context import Actor, ValidationFailed
    from prodsec.workspace.users import get_or_create_org

    database = open_db(db)
    try:
        with database.transaction() as session:
            try:
                organisation = get_or_create_org(session, org)
            except ValidationFailed as exc:
                raise InputError(f"--org: {exc.detail}") from None
            actor = Actor("local", f"cli:{getpass.getuser()}", organisation.id, "admin")
            yield database, session, actor
    finally:
        database.dispose()


def knowledge() -> Any:
    from prodsec.services.knowledge import knowledge_base

    return knowledge_base()


def add_product(profile: Path, org: str, db: str | None) -> None:
    """``prodsec product add PROFILE``."""
    from prodsec.services.check import read_document
    from prodsec.workspace.products import add_product as add

    raw = read_document(profile)
    kb = knowledge()
    with workspace(db, org) as (_, session, actor):
        product = add(session, actor, kb, raw, source=str(profile))
        print(f"added {product.name} ({product.id})")


def add_release(product: str, version_label: str, placed_on_market: str | None,
                support_end: str | None, rationale: str, org: str, db: str | None) -> None:
    """``prodsec product release PRODUCT VERSION``: dates are checked before the database."""
    from prodsec.workspace.products import add_release as add

    placed = parse_date(placed_on_market, "--placed-on-market")
    end = parse_date(support_end, "--support-end")
    with workspace(db, org) as (_, session, actor):
        add(session, actor, product, version_label, placed, end, rationale)
    print(f"release {version_label} of {product} recorded")


def set_status(product: str | None, requirement: str | None, set_to: str | None,
               justification: str | None, evidence: list[Path], expires: str | None,
               file: Path | None, org: str, db: str | None) -> None:
    """``prodsec status``: one change from the arguments, or many from ``--file``."""
    if file is not None:
        if product or requirement or set_to or justification or evidence or expires:
            raise InputError("--file: give either --file or PRODUCT REQUIREMENT --set …, not both")
        set_statuses(file, org, db)
        return
    if not (product and requirement):
        raise InputError("give PRODUCT REQUIREMENT --set STATUS, or --file CHANGES.csv")
    if set_to is None:
        raise InputError("--set: missing; expected not-started, in-progress, met, not-met or "
                         "not-applicable")
    if expires is not None and not evidence:
        raise InputError("--expires: is the expiry of --evidence files; give --evidence too")
    expires_on = parse_date(expires, "--expires")
    for path in evidence:
        if not path.is_file():
            raise InputError(f"--evidence {path}: no such file" if not path.exists()
                             else f"--evidence {path}: not a file")
    from prodsec.workspace import compliance

    with workspace(db, org) as (database, session, actor):
        row = compliance.find_status(session, actor, product, requirement)
        compliance.set_status(session, actor, row, set_to, justification, None)
        for path in evidence:
            _attach(session, actor, database, row, path, expires_on)
    print(f"{requirement} of {product}: {set_to}")


def _attach(session: Any, actor: Any, database: Any, row: Any, path: Path,
            expires_on: dt.date | None) -> None:
    from prodsec.workspace import compliance

    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"--evidence {path}: cannot read: {exc.strerror}") from None
    with handle:
        item = compliance.add_evidence(session, actor, database.evidence_dir, path.name,
                                       stream=handle, filename=path.name, expires_on=expires_on)
    compliance.link_evidence(session, actor, item, status=row)


def set_statuses(file: Path, org: str, db: str | None) -> None:
    """``prodsec status --file CHANGES``: every row in one transaction, all or nothing."""
    from prodsec.workspace.status_changes import apply_changes, read_changes

    changes = read_changes(file)
    with workspace(db, org) as (_, session, actor):
        count = apply_changes(session, actor, changes)
    print(f"{count} statuses set from {file}")
