"""``prodsec csaf tree`` (write or check a CSAF trusted-provider tree) and ``prodsec csaf
ingest`` (read suppliers' CSAF advisories into the workspace), over ``workspace.csaf_tree`` and
``workspace.csaf_ingest``."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from prodsec.cli.vuln import Invalid
from prodsec.cli.workspace import DbOpt, OrgOpt, workspace

PASSPHRASE_ENV = "PRODSEC_CSAF_KEY_PASSPHRASE"


class Aggregators(StrEnum):
    """``csaf tree --aggregators``: the keys of ``formats.csaf_tree.AGGREGATORS``."""

    NONE = "none"
    LIST = "list"
    MIRROR = "mirror"

class AcceptTlp(StrEnum):
    """``csaf ingest --accept-tlp``: ``workspace.csaf_trust.ACCEPT_CHOICES``."""

    AMBER = "AMBER"
    RED = "RED"


KeyOpt = Annotated[Path | None, typer.Option(
    "--key", exists=True, dir_okay=False, readable=True,
    help="OpenPGP key file: the secret signing key (tree) or a trusted public key (check, "
         "ingest). The passphrase, if any, is read from $" + PASSPHRASE_ENV + ".")]


def register(csaf_app: typer.Typer) -> None:
    """Attach ``tree`` and ``ingest`` to the ``csaf`` group."""
    csaf_app.command("tree")(csaf_tree_cmd)
    csaf_app.command("ingest")(csaf_ingest_cmd)


def _key(path: Path | None) -> bytes | None:
    from prodsec.formats._io import read_bytes

    return read_bytes(path) if path is not None else None


def csaf_tree_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write (or with --check, to check).")],
    check: Annotated[bool, typer.Option("--check", help="Check an existing tree instead: "
                                        "hashes, signatures, schemas, listings.")] = False,
    key: KeyOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False,
    access_protected: Annotated[bool, typer.Option(
        "--access-protected", help="Also write TLP:GREEN, AMBER and RED advisories, each label "
        "in its own folder (green/, amber/, red/) that must be served only behind access "
        "control (CSAF 2.0 7.1.5). Without it only TLP:WHITE and unlabeled ones are written.")]
        = False,
    aggregators: Annotated[Aggregators, typer.Option(
        "--aggregators", help="What CSAF aggregators may do: none, list (list the provider; "
        "the default) or mirror (list it and mirror its advisories).")] = Aggregators.LIST,
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Write the organisation's published CSAF advisories as a static CSAF 2.0 provider tree
    (.well-known/csaf/: provider-metadata.json, TLP and year folders, hashes, ROLIE feeds,
    index.txt, changes.csv; OpenPGP signatures with --key), atomically; or --check one."""
    if check:
        _check(out_dir, key, as_json)
        return
    from prodsec.workspace.csaf_tree import write_tree

    with workspace(db, org) as (_, session, actor):
        summary = write_tree(session, actor, out_dir, secret_key=_key(key),
                             passphrase=os.environ.get(PASSPHRASE_ENV), key_source=str(key),
                             access_protected=access_protected, aggregators=aggregators.value)
    _warn(summary)
    _out(summary, as_json, f"{out_dir}: {summary['documents']} advisories, {summary['files']} "
         f"files; serve it at {summary['provider_metadata']}")


def _warn(summary: dict[str, Any]) -> None:
    """What the writer of a tree must know before copying it to a server."""
    for item in summary["left_out"]:
        print(f"warning: {item['tracking_id']} is TLP:{item['tlp']}: left out of the public "
              "tree (--access-protected writes it to its own folder for a server with access "
              "control, CSAF 2.0 7.1.5)", file=sys.stderr)
    for folder in summary["access_protected"]:
        print(f"warning: {folder} holds TLP:GREEN/AMBER/RED advisories: serve it ONLY behind "
              "access control (TLS client certificates or tokens, CSAF 2.0 7.1.5), never on "
              "the public server", file=sys.stderr)
    for item in summary["self_reference_elsewhere"]:
        print(f"warning: {item['tracking_id']}: its self reference is {item['self']}, the tree "
              f"serves it at {item['served_at']}; its next revision (prodsec csaf publish) "
              "names the tree's URL", file=sys.stderr)
    if summary["signed_by"] is None:
        print("warning: no --key: documents are not signed, the tree is a csaf_provider's, not "
              "a csaf_trusted_provider's (CSAF 2.0 7.1.19)", file=sys.stderr)


def _check(root: Path, key: Path | None, as_json: bool) -> None:
    from prodsec.workspace.csaf_tree import check_tree

    extra = _key(key)
    report = check_tree(root, [extra] if extra else [])
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        for problem in report["problems"]:
            print(f"error: {root}: {problem}", file=sys.stderr)
        whose = ("the --key given" if key is not None
                 else "the tree's own key (not pinned: give the publisher's key with --key)")
        print(f"{report['tree']}: {report['role']}, {report['documents']} documents, "
              f"{report['signed']} with a good signature by {whose}, "
              f"{len(report['problems'])} problems")
    if report["problems"]:
        raise typer.Exit(2)


def csaf_ingest_cmd(
    path: Annotated[Path, typer.Argument(help="A CSAF file, a folder of them, or a provider "
                                         "tree copied offline.")],
    key: KeyOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False,
    accept_tlp: Annotated[AcceptTlp | None, typer.Option(
        "--accept-tlp", help="Also ingest TLP:AMBER (AMBER) or TLP:AMBER and RED (RED) "
        "advisories; what they say is left out of public exports. Drafts are never ingested.")]
        = None,
    org: OrgOpt = "default", db: DbOpt = None,
) -> None:
    """Read suppliers' or CSIRTs' CSAF advisories: verified (tree metadata, feeds, hashes,
    signatures; the signing key pinned per publisher on first use), validated, and matched to
    the releases' components: known_affected becomes a finding, known_not_affected/fixed a VEX
    proposal that never overrides our own triage."""
    from prodsec.workspace.csaf_ingest import ingest

    extra = _key(key)
    with workspace(db, org) as (_, session, actor):
        summary = ingest(session, actor, path, [extra] if extra else [],
                         accept_tlp.value if accept_tlp else None)
    for problem in summary["tree_problems"]:
        print(f"warning: {path}: {problem}", file=sys.stderr)
    for item in summary["refused"]:
        print(f"error: {path}: refused {item['source']}: {'; '.join(item['reasons'][:5])}",
              file=sys.stderr)
    for a in summary["advisories"]:
        for skipped in a["skipped"]:
            print(f"warning: {a['source']}{skipped['where']}: skipped: {skipped['reason']}",
                  file=sys.stderr)
    lines = [_line(a) for a in summary["advisories"]]
    _out(summary, as_json, "\n".join(lines) or "no advisory ingested")
    if summary["refused"]:
        refused = len(summary["refused"])
        ingested = len(summary["advisories"])
        raise Invalid(f"{refused} {'advisory' if refused == 1 else 'advisories'} refused; "
                      + (f"the other {ingested} ingested" if ingested else "none ingested"))


def _line(a: dict[str, Any]) -> str:
    accepted = sum(p["imported"] for p in a["proposals"])
    return (f"{a['tracking_id']} v{a['version']} ({a['publisher']}): {len(a['affected'])} "
            f"affected components, {a['findings']['added']} new findings, "
            f"{len(a['on_existing_findings'])} statements on existing findings, {accepted} VEX "
            f"proposals, {a['unmatched']} statements about products not in any SBOM")


def _out(data: dict[str, Any], as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if as_json else text)
