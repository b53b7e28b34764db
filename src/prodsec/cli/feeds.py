"""``prodsec feeds import|watch|runs`` (CISA KEV, FIRST EPSS, ENISA EUVD files) and the proposed
Article 14 cases: ``prodsec case proposed|confirm|dismiss`` (also as ``prodsec cases …``).

Each command runs in one transaction; a refused file leaves nothing behind and exits non-zero
with the reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from prodsec.cli.vuln import Format, FormatOpt, Invalid
from prodsec.cli.workspace import DbOpt, OrgOpt, workspace

feeds_app = typer.Typer(help="Exploitation feeds as files: CISA KEV, FIRST EPSS, ENISA EUVD.",
                        no_args_is_help=True)
KindOpt = Annotated[str | None, typer.Option(
    "--kind", help="kev, epss or euvd: refuse a file of another kind (default: from content).")]


def register(app: typer.Typer, case_app: typer.Typer) -> None:
    """``feeds`` on the application; the proposal commands on ``case`` (and its alias ``cases``)."""
    app.add_typer(feeds_app, name="feeds")
    case_app.command("proposed")(proposed)
    case_app.command("confirm")(confirm)
    case_app.command("dismiss")(dismiss)
    app.add_typer(case_app, name="cases", hidden=True)


def _json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _summary(view: dict[str, Any]) -> str:
    counts = view["counts"]
    text = (f"{view['filename']}: {view['kind']} ({view['feed_date'] or 'undated'}): "
            f"{counts.get('new', 0)} new, {counts.get('changed', 0)} changed, "
            f"{counts.get('unchanged', 0)} unchanged")
    made = view.get("proposals") or []
    return text + (f"; {len(made)} Article 14 case(s) proposed" if made else "")


@feeds_app.command("import")
def feeds_import(file: Annotated[Path, typer.Argument(metavar="FILE")], kind: KindOpt = None,
                 background: Annotated[bool, typer.Option(
                     "--background", help="Queue it as a job (the file must be readable by "
                     "the workers).")] = False,
                 org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Import one feed file incrementally; new exploitation signals propose Article 14 cases."""
    from prodsec import jobs
    from prodsec.formats._io import read_bytes
    from prodsec.workspace import feeds

    if kind is not None and kind not in feeds.KINDS:
        raise Invalid(f"--kind {kind!r}: expected one of {', '.join(feeds.KINDS)}")
    data = read_bytes(file, feeds.MAX_FILE_BYTES)
    with workspace(db, org) as (_, session, actor):
        if background:
            found = feeds.detect(data, str(file))
            job = jobs.enqueue(session, f"{found}.import", actor=actor, path=str(file.resolve()))
            view: dict[str, Any] = {"job": job, "kind": found}
        else:
            view = feeds.import_feed(session, actor, data, str(file), kind)
    if fmt is Format.json:
        _json(view)
    elif "job" in view:
        print(f"{file}: queued as job {view['job']}" if view["job"] else
              f"{file}: imported in-process (SQLite has no queue)")
    else:
        print(_summary(view))


@feeds_app.command("watch")
def feeds_watch(folder: Annotated[Path, typer.Argument(metavar="DIR")],
                once: Annotated[bool, typer.Option("--once", help="Look once, then exit.")] = False,
                interval: Annotated[int, typer.Option(min=5, max=86400,
                                                      help="Seconds between looks.")] = 60,
                org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Import the new files of a folder (each file once, by content; kind from content). A
    refused file is reported and remembered; exit 1 when one was refused."""
    while True:
        results = _look(folder, org, db)
        if fmt is Format.json:
            _json({"files": results})
        for item in results if fmt is not Format.json else []:
            print(f"{item['file']}: " + (f"refused: {item['refused']}" if "refused" in item
                                         else _summary(item["import"])))
        if once:
            if any("refused" in r for r in results):
                raise typer.Exit(1)
            return
        time.sleep(interval)


def _look(folder: Path, org: str, db: str | None) -> list[dict[str, Any]]:
    """Import each new file in this process, in its own transaction (a worker is not needed)."""
    from prodsec.errors import InputError
    from prodsec.workspace import feeds
    from prodsec.workspace.tasks import import_file

    with workspace(db, org) as (database, session, actor):
        pending = feeds.pending_files(session, actor, folder)
    results = []
    for path, _ in pending:
        try:
            view = import_file(database, actor, str(path), None, watched=True)
            results.append({"file": path.name, "import": view})
        except InputError as exc:
            results.append({"file": path.name, "refused": str(exc)})
    database.dispose()
    return results


@feeds_app.command("runs")
def feeds_runs(limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
               org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """The feed files imported (or refused), newest first, with what each changed."""
    from prodsec.cli.vuln_workspace import _table
    from prodsec.workspace import feeds

    with workspace(db, org) as (_, session, actor):
        runs = feeds.list_runs(session, actor, limit)
    if fmt is Format.json:
        _json({"runs": runs})
        return
    _table(f"{len(runs)} feed imports", ["at", "kind", "file", "date", "new", "changed",
                                         "unchanged", "status"],
           [[r["imported_at"][:16], r["kind"], r["filename"], r["feed_date"],
             r["counts"].get("new"), r["counts"].get("changed"), r["counts"].get("unchanged"),
             r["status"] + (f": {r['error'][:60]}" if r["error"] else "")] for r in runs])


# ---- proposed Article 14 cases ---------------------------------------------------------------


def proposed(status: Annotated[str, typer.Option(
                 help="proposed, confirmed, dismissed or all.")] = "proposed",
             org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Article 14 cases proposed by exploitation signals (KEV, EUVD), waiting for a person."""
    from prodsec.cli.vuln_workspace import _table
    from prodsec.workspace import proposals

    with workspace(db, org) as (_, session, actor):
        rows = proposals.list_proposals(session, actor, None if status == "all" else status)
    if fmt is Format.json:
        _json({"proposals": rows})
        return
    _table(f"{len(rows)} proposed cases", ["id", "product", "vulnerability", "releases",
                                           "signal", "proposed", "status"],
           [[p["id"], p["product"], p["vulnerability"], ", ".join(p["releases"]),
             f"{p['signal'].upper()} {p['signal_date'] or ''}".strip(), p["proposed_at"][:16],
             p["status"]] for p in rows])


def confirm(proposal_id: str,
            aware_at: Annotated[str, typer.Option(help="When you became aware (ISO 8601; naive = "
                                                  "UTC): the Article 14 clocks start here.")],
            title: Annotated[str | None, typer.Option(help="Case title.")] = None,
            member_state: Annotated[str | None, typer.Option(
                help="Member state of the main establishment.")] = None,
            org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Confirm a proposed case: the Article 14 case opens with your moment of awareness."""
    from prodsec.cli.vuln_workspace import _kb, _show_case
    from prodsec.workspace import article14
    from prodsec.workspace import proposal_decisions as decisions
    from prodsec.workspace.vex import parse_time

    with workspace(db, org) as (_, session, actor):
        proposal = decisions.confirm(session, actor, proposal_id, parse_time(aware_at),
                                     title=title, member_state_code=member_state, kb=_kb())
        assert proposal.case_id is not None
        view = article14.case_view(session, _kb(), article14.get_case(session, actor,
                                                                       proposal.case_id))
    _show_case(view | {"proposal_id": proposal.id}, fmt)


def dismiss(proposal_id: str, reason: Annotated[str, typer.Option(help="Why no case.")],
            org: OrgOpt = "default", db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Dismiss a proposed case, with the reason (kept and audited)."""
    from prodsec.workspace import proposal_decisions as decisions
    from prodsec.workspace import proposals

    with workspace(db, org) as (_, session, actor):
        proposal = decisions.dismiss(session, actor, proposal_id, reason)
        view = proposals.describe(session, proposal)
    if fmt is Format.json:
        _json(view)
    else:
        print(f"proposal {proposal_id} dismissed: {reason}")
