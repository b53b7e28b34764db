"""CLI command group: the compliance workspace on the local database (no server needed).

The local CLI acts as ``cli:<login name>`` with the admin role in the organisation named by
``--org`` (default ``default``, created on first use); every change is in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from prodsec.cli import build, views
from prodsec.cli.changes import open_db
from prodsec.cli.changes import workspace as workspace  # used by the other command groups
from prodsec.cli.output import Format, FormatOpt, emit

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLite file or database URL "
                                            "(default: PRODSEC_DATABASE_URL, else the user data dir).")]
OrgOpt = Annotated[str, typer.Option("--org", help="Organisation name.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: today).")]

db_app = typer.Typer(help="The workspace database: migrate, back up, restore.", no_args_is_help=True)
product_app = typer.Typer(help="Products in the workspace.", no_args_is_help=True)
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
control_app = typer.Typer(help="Controls: measures that satisfy requirements across regimes.",
                          no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


def _kb() -> Any:
    from prodsec.services.knowledge import knowledge_base

    return knowledge_base()


def _date(value: str | None, option: str = "--as-of") -> dt.date:
    from prodsec.services.check import parse_date

    return parse_date(value, option=option)


# ---- db -----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Create or migrate the workspace schema to the newest revision."""
    from prodsec.db.engine import upgrade_schema

    database = open_db(db, upgrade=False)
    try:
        revision = upgrade_schema(database)
    finally:
        database.dispose()
    print(f"database at revision {revision}: {database.url}")


# ---- users and tokens ---------------------------------------------------------------------


@user_app.command("create")
def user_create(
    email: str,
    org: OrgOpt = "default",
    role: Annotated[str, typer.Option(help="admin, editor or viewer.")] = "editor",
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input.")] = False,
    db: DbOpt = None,
) -> None:
    """Create a user with a role in an organisation (prompts for a password)."""
    from prodsec.workspace.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password (15+ characters)", hide_input=True,
                                confirmation_prompt=True)
    with workspace(db, org) as (_, session, _actor):
        user, _m = create_user(session, org, email, role, password)
    print(f"created {user.email} ({role}) in {org}")


def _secret(prompt: str, stdin: bool, confirm: bool = False) -> str:
    """A secret from the terminal (hidden) or, with --password-stdin, the next stdin line."""
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the secrets from standard input, one per line, in the "
                             "order the prompts would ask for them.")]


@user_app.command("password")
def user_password(email: str, org: OrgOpt = "default", password_stdin: PasswordStdin = False,
                  db: DbOpt = None) -> None:
    """Change a user's password, knowing the current one (prompts for both); the user's
    browser sessions end."""
    from prodsec.workspace.users import actor_for, change_password, member_by_email

    current = _secret("Current password", password_stdin)
    new = _secret("New password (15+ characters)", password_stdin, confirm=True)
    with workspace(db, org) as (_, session, cli):
        user = member_by_email(session, cli, email)
        ended = change_password(session, actor_for(session, user, cli.org_id), current, new)
    print(f"password of {email} changed; {ended} browser session(s) ended")


@user_app.command("devices")
def user_devices(email: str, org: OrgOpt = "default", db: DbOpt = None,
                 revoke: Annotated[str | None, typer.Option(
                     help="Forget this device (its id): its cookie no longer exempts sign-ins "
                          "from the account's back-off.")] = None) -> None:
    """List a user's remembered sign-in devices, or revoke one (``--revoke ID``)."""
    from prodsec.workspace import devices
    from prodsec.workspace.users import member_by_email

    with workspace(db, org) as (_, session, actor):
        user = member_by_email(session, actor, email)
        if revoke is not None:
            devices.revoke(session, actor, revoke, user.id)
            print(f"device {revoke} of {email} revoked")
            return
        listed = devices.list_devices(session, actor, user.id)
    for device in listed:
        print(f"{device['id']}  signed in {device['signed_in_at']}  until "
              f"{device['expires_at']}  {device['label'] or '(no label)'}")
    if not listed:
        print(f"{email} has no remembered devices")


@user_app.command("reset")
def user_reset(email: str, org: OrgOpt = "default", db: DbOpt = None) -> None:
    """Reset a member's password (admin): the old one stops working and a one-time secret,
    valid 24 hours, is printed once; the member sets a new password with it
    (``prodsec user redeem``, the web page /password-reset, or POST /api/v1/auth/password-reset)."""
    from prodsec.workspace.users import issue_password_reset, member_by_email

    with workspace(db, org) as (_, session, actor):
        user = member_by_email(session, actor, email)
        secret, expires = issue_password_reset(session, actor, user.id)
    print(f"password of {email} reset; one-time secret (valid until {expires:%Y-%m-%d %H:%M} "
          f"UTC, shown only now):\n{secret}")


@user_app.command("redeem")
def user_redeem(password_stdin: PasswordStdin = False, db: DbOpt = None) -> None:
    """Choose a new password with the one-time secret of a reset (prompts for both)."""
    from prodsec.db.engine import open_database
    from prodsec.workspace.users import redeem_password_reset

    secret = _secret("Reset secret", password_stdin)
    new = _secret("New password (15+ characters)", password_stdin, confirm=True)
    database = open_database(db)
    try:
        with database.transaction() as session:
            user = redeem_password_reset(session, secret, new)
    finally:
        database.dispose()
    print(f"new password set for {user.email}")


@token_app.command("create")
def token_create(
    email: str,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    org: OrgOpt = "default",
    days: Annotated[int, typer.Option(min=1, max=3650, help="Valid for this many days.")] = 365,
    db: DbOpt = None,
) -> None:
    """Issue an API token for a user; the token is printed once and stored only as a hash."""
    from prodsec.workspace.users import create_token

    with workspace(db, org) as (_, session, actor):
        secret, _t = create_token(session, actor, email, name, days)
    print(secret)


# ---- products, assessments, statuses -----------------------------------------------------


build.register(product_app, "product", "add")


build.register(product_app, "product", "list")
build.register(product_app, "product", "release")

VersionOpt = Annotated[int | None, typer.Option(
    "--if-version", min=1, help="Refuse if the product changed since this version (its 'version').")]


@product_app.command("edit")
def product_edit(product: str, profile: Annotated[Path, typer.Argument(help="The new v1 profile.")],
                 if_version: VersionOpt = None,
                 dry_run: Annotated[bool, typer.Option(
                     "--dry-run", help="Show what would change in the verdicts; save nothing.")] = False,
                 as_of: AsOfOpt = None, org: OrgOpt = "default", db: DbOpt = None,
                 fmt: FormatOpt = Format.table) -> None:
    """Replace a product's profile: shows which verdicts change (from → to), then saves it and
    re-assesses (statuses carry over), unless --dry-run."""
    from prodsec.services.check import read_document
    from prodsec.workspace import products

    raw, kb, day = read_document(profile), _kb(), _date(as_of)
    with workspace(db, org) as (_, session, actor):
        data = products.profile_changes(session, actor, kb, product, raw, day)
        if not dry_run:
            saved = products.update_profile(session, actor, kb, product, raw, if_version)
            products.assess(session, actor, kb, saved.id, day)
            data["saved_version"] = saved.version
    emit(data, fmt, views.profile_changes_view)


@product_app.command("archive")
def product_archive(product: str, if_version: VersionOpt = None, org: OrgOpt = "default",
                    db: DbOpt = None) -> None:
    """Archive a product: hidden from the portfolio, read-only until restored; nothing is
    deleted."""
    _set_archived(product, True, if_version, org, db)


@product_app.command("restore")
def product_restore(product: str, if_version: VersionOpt = None, org: OrgOpt = "default",
                    db: DbOpt = None) -> None:
    """Restore an archived product: back in the portfolio and editable."""
    _set_archived(product, False, if_version, org, db)


def _set_archived(product: str, archived: bool, if_version: int | None, org: str,
                  db: str | None) -> None:
    from prodsec.workspace.products import set_archived

    with workspace(db, org) as (_, session, actor):
        row = set_archived(session, actor, product, archived, if_version)
        print(f"{row.name} {'archived' if archived else 'restored'} (version {row.version})")


@product_app.command("delete")
def product_delete(product: str, yes: Annotated[bool, typer.Option(
                       "--yes", help="Delete; without it, only say what would be deleted.")] = False,
                   if_version: VersionOpt = None, org: OrgOpt = "default", db: DbOpt = None,
                   fmt: FormatOpt = Format.table) -> None:
    """Delete a product with its releases, SBOMs, findings, assessments and documents. The
    audit trail keeps every event about it; evidence stays in the library, unlinked. Refused
    while it has Article 14 cases (archive it instead)."""
    from prodsec.errors import InputError
    from prodsec.workspace.products import delete_product, deletion_effects

    with workspace(db, org) as (_, session, actor):
        effects = deletion_effects(session, actor, product)
        if yes:
            delete_product(session, actor, product, if_version)
    emit(effects | {"deleted": yes}, fmt, views.deletion_view)
    if not yes:
        raise InputError("nothing deleted: re-run with --yes to delete")


def assess(product: str, as_of: AsOfOpt = None, org: OrgOpt = "default", db: DbOpt = None,
           fmt: FormatOpt = Format.table) -> None:
    """Assess a product against every instrument and keep the results (statuses carry over)."""
    from prodsec.workspace.products import assess as run_assess
    from prodsec.workspace.products import assessment_view

    with workspace(db, org) as (_, session, actor):
        created = run_assess(session, actor, _kb(), product, _date(as_of))
        data = [assessment_view(a) for a in created]
    emit(data, fmt, lambda d: [views.Section(
        f"Assessments of {product}", ["instrument", "status", "category", "assessment", "applies from"],
        [[a["regulation"], a["status"], a["category"] or "", a["assessment"] or "",
          a["applies_from"] or ""] for a in d])])


def compare(products: Annotated[list[str], typer.Argument(
                metavar="PRODUCT PRODUCT...", help="Two or more products (id or name).")],
            as_of: AsOfOpt = None, org: OrgOpt = "default", db: DbOpt = None,
            fmt: FormatOpt = Format.table) -> None:
    """Compare products side by side: what each promises and proves."""
    from prodsec.documents.comparison import compare as run_compare

    day = _date(as_of)
    with workspace(db, org) as (_, session, actor):
        data = run_compare(session, actor, _kb(), products, day)
    emit(data, fmt, views.comparison_view)


# ---- controls ------------------------------------------------------------------------------


@control_app.command("add")
def control_add(
    name: str,
    requirement: Annotated[list[str], typer.Option("--requirement", "-r", help="Requirement id (repeat).")],
    description: str = "", owner: str = "", org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Add a control that satisfies the given requirements (of any regimes)."""
    from prodsec.workspace.compliance import add_control

    with workspace(db, org) as (_, session, actor):
        add_control(session, actor, _kb(), name, requirement, description, owner)
    print(f"control {name} added")


# ---- audit ---------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(org: OrgOpt = "default", db: DbOpt = None) -> None:
    """Recompute the audit hash chain (HMAC under the server's secret key).

    Exit 0: intact, and every event authenticated. Exit 1: an event was edited or removed, or
    the key is not the one that wrote the chain. Exit 4: intact, but some events are not
    authenticated — written before the chain was keyed (plain SHA-256, which anyone can
    recompute), or older than a restore of a backup whose signature was not verified
    (``db restore --trust-unsigned``); the message says which.
    """
    from prodsec.workspace import audit

    with workspace(db, org) as (_, session, actor):
        report = audit.verify(session, actor.org_id)
    if report.ok:
        note = report.authentication_note()
        if note is None:
            print(f"audit trail intact: {report.events} events, all authenticated")
            return
        print(f"audit trail intact but not authenticated: {note}")
        raise typer.Exit(4)
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main application."""
    app.add_typer(db_app, name="db")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    app.add_typer(product_app, name="product")
    app.add_typer(control_app, name="control")
    app.add_typer(audit_app, name="audit")
    app.command("assess")(assess)
    build.register(app, "status")
    build.register(app, "gaps")
    app.command("compare")(compare)
