"""CLI command group: ops — backup and restore of the workspace, export and import of an
organisation. The formats are described in ``prodsec.workspace.transfer``."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from prodsec.cli.changes import open_db
from prodsec.cli.workspace import DbOpt, db_app

FileArg = Annotated[Path, typer.Argument(metavar="FILE")]


def _report(verb: str, result: Any) -> None:
    rows = sum(result.tables.values())
    where = f" ({result.organisation})" if result.organisation else ""
    print(f"{verb} {result.path}{where}: {rows} rows in {len(result.tables)} tables, "
          f"{result.blobs} evidence files, {result.seconds:.2f} s")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)


def db_backup(file: FileArg, db: DbOpt = None) -> None:
    """Write a consistent snapshot of the whole workspace (every table and evidence file)."""
    from prodsec.workspace import transfer

    database = open_db(db)
    try:
        result = transfer.backup(database, file)
    finally:
        database.dispose()
    _report("backed up to", result)


def db_restore(file: FileArg, db: DbOpt = None,
               trust_unsigned: Annotated[bool, typer.Option(
                   "--trust-unsigned", help="Restore a backup that is unsigned or signed with "
                   "another server's key. Its content is then not authenticated: an unsigned "
                   "backup may have been edited (only a signed one that was edited afterwards "
                   "is refused). Each organisation's audit trail records this, and "
                   "'audit verify' reports the history before it as not authenticated.")] = False
               ) -> None:
    """Restore a backup into an empty database (SQLite or PostgreSQL), all or nothing.

    The backup must be signed with this server's secret key (PRODSEC_SECRET_KEY or its key
    file), the key its audit trail verifies under.
    """
    from prodsec.workspace import transfer

    database = open_db(db, upgrade=False)
    try:
        result = transfer.restore(database, file, trust_unsigned=trust_unsigned)
    finally:
        database.dispose()
    _report("restored from", result)


def export(org: Annotated[str, typer.Argument(metavar="ORG", help="Organisation name or id.")],
           file: Annotated[Path, typer.Argument(metavar="FILE", help="FILE.json (evidence files "
                                                "inlined) or FILE.zip.")],
           db: DbOpt = None) -> None:
    """Export one organisation's data, evidence and audit trail (no passwords or tokens)."""
    from prodsec.workspace import transfer

    database = open_db(db)
    try:
        result = transfer.export_org(database, org, file)
    finally:
        database.dispose()
    _report("exported to", result)


def import_(file: FileArg,
            org: Annotated[str | None, typer.Option("--org", help="Import under this name "
                                                    "instead of the exported one.")] = None,
            export_key_file: Annotated[Path | None, typer.Option(
                "--export-key-file", help="The exporting server's secret key file, to check "
                "the signature of an export made with another key (default: this server's "
                "key).")] = None,
            trust_unsigned: Annotated[bool, typer.Option(
                "--trust-unsigned", help="Import an export that is unsigned or signed with a "
                "key you do not have; recorded in the audit trail, and its history is kept "
                "only inside the org.import event. An edited export is refused regardless.")
            ] = False,
            db: DbOpt = None) -> None:
    """Import an organisation export into this workspace, in one transaction.

    The export's signature is checked first: an export made on another server needs that
    server's key (--export-key-file) or an explicit --trust-unsigned.
    """
    from prodsec.workspace import keys, transfer

    export_key = keys.load_key_file(export_key_file, "--export-key-file") \
        if export_key_file else None
    database = open_db(db)
    try:
        result = transfer.import_org(database, file, org, f"cli:{getpass.getuser()}",
                                     export_key=export_key, trust_unsigned=trust_unsigned)
    finally:
        database.dispose()
    _report("imported from", result)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main application (and to ``prodsec db``)."""
    db_app.command("backup")(db_backup)
    db_app.command("restore")(db_restore)
    app.command("export")(export)
    app.command("import")(import_)
