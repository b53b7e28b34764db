"""``prodsec notifications add|list|remove|log|run`` and ``prodsec support check|set``.

Subscriptions are managed by admins (the CLI acts as the local admin). On PostgreSQL the worker
runs the scan and the deliveries periodically; on SQLite, ``jobs run-periodic`` (from cron)
runs them with the other periodic tasks, and ``notifications run`` does just these two once.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prodsec.cli.output import Format, FormatOpt, emit
from prodsec.cli.views import Section
from prodsec.cli.workspace import DbOpt, OrgOpt, workspace

notifications_app = typer.Typer(help="Webhook and e-mail notifications: Article 14 stages due, "
                                "support periods ending, stale assessments, exploited "
                                "findings.", no_args_is_help=True)
support_app = typer.Typer(help="Support periods (CRA Art. 13(8)): at least five years, or the "
                          "expected use time when shorter.", no_args_is_help=True)


def _subscriptions_view(rows: list[dict[str, Any]]) -> list[Section]:
    return [Section(f"Subscriptions ({len(rows)})",
                    ["id", "channel", "target", "kinds", "stage due (h)", "support (days)"],
                    [[r["id"], r["channel"], r["target"], ", ".join(r["kinds"]),
                      r["stage_due_hours"], r["support_days"]] for r in rows])]


def _added_view(row: dict[str, Any]) -> list[Section]:
    sections = _subscriptions_view([row])
    if row.get("secret"):
        sections.append(Section("Webhook secret", notes=[
            f"{row['secret']} (shown once: receivers verify X-Prodsec-Signature with it)"]))
    return sections


@notifications_app.command("add")
def add(
    kinds: Annotated[list[str], typer.Argument(metavar="KIND...", help="Event kinds: "
                     "finding.exploited, article14.stage_due, article14.stage_overdue, "
                     "support.ending, assessment.stale.")],
    webhook: Annotated[str | None, typer.Option(help="An https URL to POST signed JSON to.")] = None,
    email: Annotated[str | None, typer.Option(help="An address to mail (PRODSEC_SMTP_URL).")] = None,
    secret: Annotated[str | None, typer.Option(help="The webhook's HMAC secret (default: "
                                               "generated and shown once).")] = None,
    stage_due_hours: Annotated[int, typer.Option(min=1, max=720, help="Tell when an Article 14 "
                                                 "stage is due within this many hours.")] = 24,
    support_days: Annotated[int, typer.Option(min=1, max=3650, help="Tell when a support "
                                              "period ends within this many days.")] = 90,
    org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table,
) -> None:
    """Subscribe a webhook or an e-mail address to event kinds."""
    from prodsec.errors import InputError
    from prodsec.workspace.notifications import add_subscription

    if (webhook is None) == (email is None):
        raise InputError("give exactly one of --webhook URL or --email ADDRESS")
    channel, target = ("webhook", webhook) if webhook else ("email", email or "")
    with workspace(db, org) as (_, session, actor):
        row = add_subscription(session, actor, channel, target, kinds, secret=secret,
                               stage_due_hours=stage_due_hours, support_days=support_days)
    emit(row, fmt, _added_view)


@notifications_app.command("list")
def list_(org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """The organisation's subscriptions (secrets are never shown again)."""
    from prodsec.workspace.notifications import list_subscriptions

    with workspace(db, org) as (_, session, actor):
        rows = list_subscriptions(session, actor)
    emit(rows, fmt, _subscriptions_view)


@notifications_app.command("remove")
def remove(subscription: Annotated[str, typer.Argument(help="The subscription's id.")],
           org: OrgOpt = "default", db: DbOpt = None) -> None:
    """Remove a subscription, its pending deliveries and its log."""
    from prodsec.workspace.notifications import remove_subscription

    with workspace(db, org) as (_, session, actor):
        remove_subscription(session, actor, subscription)
    print(f"removed subscription {subscription}")


def _log_view(rows: list[dict[str, Any]]) -> list[Section]:
    return [Section(f"Delivery attempts ({len(rows)})",
                    ["at", "subscription", "attempt", "ok", "status", "ms", "error"],
                    [[r["at"], r["subscription_id"], r["attempt"], "yes" if r["ok"] else "no",
                      r["status"], r["duration_ms"], r["error"][:120]] for r in rows])]


@notifications_app.command("log")
def log(subscription: Annotated[str | None, typer.Option(help="Only this subscription.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
        org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """The latest delivery attempts, newest first."""
    from prodsec.workspace.notifications import delivery_log

    with workspace(db, org) as (_, session, actor):
        rows = delivery_log(session, actor, subscription, limit)
    emit(rows, fmt, _log_view)


@notifications_app.command("run")
def run(db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Scan and deliver once, now, for every organisation (what the worker does periodically;
    ``prodsec jobs run-periodic`` runs these with the other periodic tasks, for cron)."""
    from prodsec.cli.changes import open_db
    from prodsec.workspace.notification_tasks import deliver, scan

    database = open_db(db)
    try:
        result = {"scan": scan(database), "deliver": deliver(database)}
    finally:
        database.dispose()
    emit(result, fmt, lambda r: [Section("Notifications", ["step", "result"],
                                         [[k, v] for k, v in r.items()])])


def _support_view(data: dict[str, Any]) -> list[Section]:
    rows = [[r["release"], r["placed_on_market"] or "", r["support_end"] or "",
             r["expected_use_months"] or "", r["check"]["status"], r["check"]["message"]]
            for r in data["releases"]]
    return [Section(f"Support periods of {data['product']} (CRA Art. 13(8))",
                    ["release", "on market", "support end", "expected use (months)", "check",
                     "why"], rows)]


@support_app.command("check")
def support_check(product: Annotated[str, typer.Argument(help="Product name or id.")],
                  org: OrgOpt = "default", db: DbOpt = None,
                  fmt: FormatOpt = Format.table) -> None:
    """Each release's support period against Art. 13(8)."""
    from prodsec.workspace.support import product_support

    with workspace(db, org) as (_, session, actor):
        data = product_support(session, actor, product)
    emit(data, fmt, _support_view)


@support_app.command("set")
def support_set(
    product: Annotated[str, typer.Argument(help="Product name or id.")],
    release: Annotated[str, typer.Argument(help="The release's version label.")],
    end: Annotated[str, typer.Option("--end", help="Support end, YYYY-MM-DD.")],
    expected_use_months: Annotated[int | None, typer.Option(
        min=1, max=1200, help="Expected use time, when shorter than five years.")] = None,
    justification: Annotated[str | None, typer.Option(
        help="How the period was determined (needed for a period under five years).")] = None,
    org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table,
) -> None:
    """Set a release's support end (and the expected use time that justifies a short one)."""
    from prodsec.cli.changes import parse_date
    from prodsec.workspace.context import NotFound
    from prodsec.workspace.products import get_product, update_release
    from prodsec.workspace.support import product_support

    changes: dict[str, Any] = {"support_end": parse_date(end, "--end"),
                               "expected_use_months": expected_use_months}
    if justification is not None:
        changes["support_rationale"] = justification
    with workspace(db, org) as (_, session, actor):
        found = get_product(session, actor, product)
        row = next((r for r in found.releases if r.version_label == release), None)
        if row is None:
            raise NotFound(f"{found.name!r} has no release {release!r}")
        update_release(session, actor, row, changes, None)
        data = product_support(session, actor, found.id)
    emit(data, fmt, _support_view)


def register(app: typer.Typer) -> None:
    """Add the ``notifications`` and ``support`` groups to the main application."""
    app.add_typer(notifications_app, name="notifications")
    app.add_typer(support_app, name="support")
