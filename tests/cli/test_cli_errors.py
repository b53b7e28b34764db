"""Ordinary mistakes at the command line: each exits 2 with a sentence that names the option,
file or field the user typed, never a traceback, and leaves the workspace exactly as it was
(a digest over every row, taken before and after)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from prodsec.cli import main
from prodsec.db.engine import open_database
from prodsec.workspace import transfer

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "examples/products/router.yaml"
ROUTER = "Fictinet AX3000 Home Router"
REQ = "uk-psti:schedule-1:1"
SBOM = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [
    {"type": "library", "name": "requests", "version": "2.0.0",
     "purl": "pkg:pypi/requests@2.0.0", "bom-ref": "requests"}]}


def call(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``prodsec ARGS`` in this process: (exit code, standard output, standard error)."""
    with pytest.raises(SystemExit) as exited:
        main(args)
        raise SystemExit(0)
    code = exited.value.code
    captured = capsys.readouterr()
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A workspace with the router assessed, release 1.0 and a control; and the bad files."""
    tmp = tmp_path_factory.mktemp("cli-errors")
    profile = yaml.safe_load(PROFILE.read_text())
    out = {"db": tmp / "ws.db", "dir": tmp / "a-folder", "not-sqlite": tmp / "notes.db",
           "sbom": tmp / "bom.json", "evidence": tmp / "report.txt",
           "long-name": tmp / "long.yaml", "bad-yaml": tmp / "bad.yaml",
           "unknown-field": tmp / "unknown.yaml", "bad-rows": tmp / "changes.csv",
           "bad-header": tmp / "header.csv", "changes-txt": tmp / "changes.txt",
           "not-a-list": tmp / "changes.yaml", "fresh-db": tmp / "fresh-new.db",
           "out": tmp / "out"}
    out["dir"].mkdir()
    out["not-sqlite"].write_text("these are my notes, not a database\n")
    out["sbom"].write_text(json.dumps(SBOM))
    out["evidence"].write_text("pentest passed\n")
    out["long-name"].write_text(yaml.safe_dump({**profile, "name": "x" * 200_000}))
    out["bad-yaml"].write_text("name: [unclosed\nmarkets: EU\n")
    out["unknown-field"].write_text(yaml.safe_dump({**profile, "colour": "blue"}))
    out["bad-rows"].write_text("product,requirement,status,justification\n"
                               f"{ROUTER},{REQ},met,\n"
                               f"{ROUTER},nope:req,met,\n"
                               f"{ROUTER},{REQ},done,\n"
                               f",{REQ},met,\n")
    out["bad-header"].write_text("product,req,status\nx,y,met\n")
    out["changes-txt"].write_text("x")
    out["not-a-list"].write_text("product: x\n")
    db = str(out["db"])
    for args in (["product", "add", str(PROFILE)], ["assess", ROUTER, "--as-of", "2026-11-27"],
                 ["product", "release", ROUTER, "1.0"],
                 ["control", "add", "Unique passwords", "-r", REQ]):
        with pytest.raises(SystemExit) as exited:
            main([*args, "--db", db])
        assert exited.value.code == 0
    return out


#: (arguments; {name} is replaced by the path of files[name]), what the message must contain
CASES: list[tuple[list[str], str]] = [
    # the inputs
    (["sbom", "scan", "{sbom}", "--advisories", "/nope"], "--advisories /nope: no such file"),
    (["product", "list", "--db", "{dir}"], "--db {dir}: is a directory"),
    (["status", ROUTER, REQ, "--set", "met", "--db", "{dir}"], "--db {dir}: is a directory"),
    (["product", "list", "--db", "{not-sqlite}"], "--db {not-sqlite}: not an SQLite database"),
    (["product", "release", ROUTER, "2.0", "--placed-on-market", "2026-13-01"],
     "--placed-on-market: expected an ISO 8601 date YYYY-MM-DD, got '2026-13-01'"),
    (["product", "release", ROUTER, "2.0", "--placed-on-market=1.3.2026"], "--placed-on-market:"),
    (["product", "release", ROUTER, "2.0", "--support-end", "31.12.2030"], "--support-end:"),
    (["status", ROUTER, REQ, "--set", "met", "--evidence", "{evidence}", "--expires", "soon"],
     "--expires: expected an ISO 8601 date"),
    (["status", ROUTER, REQ, "--set", "met", "--expires", "2027-01-01"],
     "--expires: is the expiry of --evidence files; give --evidence too"),
    (["status", ROUTER, REQ, "--set", "met", "--expires", "never"], "--expires:"),
    (["product", "release", ROUTER, "1.0"], f"release 1.0 of '{ROUTER}' already exists"),
    (["product", "add", str(PROFILE)], f"a product named '{ROUTER}' exists already"),
    (["product", "add", "{long-name}"], "profile.name: is 200000 characters long; the limit is 200"),
    # files and ids
    (["product", "add", "/nope.yaml"], "/nope.yaml: no such file"),
    (["product", "add", "{dir}"], "{dir}: cannot read"),
    (["product", "add", "{bad-yaml}"], "{bad-yaml}"),
    (["product", "add", "{unknown-field}"], "colour"),
    (["status", "No Such Product", REQ, "--set", "met"], "no product 'No Such Product'"),
    (["status", ROUTER, "nope:req", "--set", "met"], "requirement 'nope:req' does not bind"),
    (["status", ROUTER, REQ, "--set", "done"], "status: expected one of not-started"),
    (["status", ROUTER, REQ, "--set", "not-applicable"], "justification: a justification is"),
    (["status", ROUTER, REQ, "--set", "met", "--evidence", "/nope.pdf"],
     "--evidence /nope.pdf: no such file"),
    (["status", ROUTER, REQ, "--set", "not-applicable", "--justification", "j" * 10_001],
     "justification: is 10001 characters long; the limit is 10000"),
    (["status", ROUTER, REQ], "--set: missing"),
    (["status", ROUTER], "give PRODUCT REQUIREMENT --set STATUS, or --file"),
    (["status", ROUTER, REQ, "--set", "met", "--org", "o" * 201],
     "--org: is 201 characters long; the limit is 200"),
    (["product", "release", "No Such Product", "2.0"], "no product 'No Such Product'"),
    (["product", "release", ROUTER, " "], "version_label: must not be empty"),
    (["product", "release", ROUTER, "1" * 101], "version_label: is 101 characters long"),
    (["product", "release", ROUTER, "3.0", "--placed-on-market", "2026-06-01",
      "--support-end", "2025-01-01"], "support_end: must not be before placed_on_market"),
    (["control", "add", "Patching", "-r", "nope:req"], "unknown requirement id 'nope:req'"),
    (["control", "add", "Unique passwords", "-r", REQ],
     "a control named 'Unique passwords' already exists"),
    (["control", "add", "c" * 201, "-r", REQ], "name: is 201 characters long"),
    (["assess", "No Such Product"], "no product 'No Such Product'"),
    (["assess", ROUTER, "--as-of", "2026-02-30"], "--as-of: expected an ISO 8601 date"),
    (["gaps", "--as-of", "yesterday"], "--as-of: expected an ISO 8601 date"),
    (["product", "list", "--db", "mysql://localhost/prodsec"],
     "expected a sqlite:/// path or a postgresql:// URL"),
    (["import", "/nope.json"], "/nope.json: cannot read"),
    (["db", "restore", "/nope.zip", "--db", "{fresh-db}"], "/nope.zip: no such file"),
    (["export", "No Such Org", "{out}.json"], "unknown organisation 'No Such Org'"),
    (["sbom", "scan", "/nope.json", "--advisories", "{dir}"], "/nope.json: cannot read"),
    (["token", "create", "nobody@example.com"], "no user 'nobody@example.com'"),
    # bulk status files: all or nothing, every bad row named
    (["status", "--file", "{bad-rows}"], "{bad-rows}: 3 bad row(s), nothing changed"),
    (["status", "--file", "{bad-rows}"], "row 3, column requirement: requirement 'nope:req'"),
    (["status", "--file", "{bad-rows}"], "row 4, column status: expected one of"),
    (["status", "--file", "{bad-rows}"], "row 5, column product: expected a value, got nothing"),
    (["status", "--file", "{bad-header}"], "row 1 (the header): expected the columns"),
    (["status", "--file", "/nope.csv"], "--file /nope.csv: no such file"),
    (["status", "--file", "{changes-txt}"], "expected a .csv, .yaml or .json file"),
    (["status", "--file", "{not-a-list}"], "expected a list of changes"),
    (["status", "--file", "{bad-rows}", ROUTER, REQ, "--set", "met"], "--file: give either"),
]


def _fill(text: str, files: dict[str, Path]) -> str:
    for name, path in files.items():
        text = text.replace("{" + name + "}", str(path))
    return text


@pytest.fixture
def digest(files: dict[str, Path]) -> Iterator[None]:
    """The workspace's content must be the same after the failed command."""

    def content() -> str:
        database = open_database(str(files["db"]))
        try:
            return transfer.content_digest(database)
        finally:
            database.dispose()

    before = content()
    yield
    assert content() == before, "the failed command changed the workspace"


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_exits_2_with_a_sentence_and_changes_nothing(
        args: list[str], message: str, files: dict[str, Path], digest: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = [_fill(a, files) for a in args]
    if "--db" not in argv and argv[0] != "sbom":
        argv += ["--db", str(files["db"])]
    code, _, err = call(argv, capsys)
    assert "Traceback" not in err
    assert code == 2, err
    assert _fill(message, files) in err


def test_a_good_bulk_file_sets_every_row_in_one_go(
        files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changes = tmp_path / "changes.yaml"
    na = "eu-cra:annex-i:part-i:2:m"
    changes.write_text(yaml.safe_dump([
        {"product": ROUTER, "requirement": REQ, "status": "met"},
        {"product": ROUTER, "requirement": na, "status": "not-applicable",
         "justification": "stores no personal data"}]))
    code, out, err = call(["status", "--file", str(changes), "--db", str(files["db"])], capsys)
    assert code == 0, err
    assert out.strip() == f"2 statuses set from {changes}"
    code, out, _ = call(["gaps", ROUTER, "--as-of", "2026-11-27", "--format", "json",
                         "--db", str(files["db"])], capsys)
    missing = {m["requirement"] for i in json.loads(out)["instruments"] for m in i["missing"]}
    assert REQ not in missing and na not in missing


def test_check_refuses_an_overlong_name_as_product_add_does(
        files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """``check`` printed a 200 000-character name (exit 1 at best) that ``product add``
    refused: the profile parser applies the same bound for every face."""
    code, _, err = call(["check", str(files["long-name"])], capsys)
    assert "Traceback" not in err
    assert code == 2, err
    assert "name: is 200000 characters long; the limit is 200" in err


def test_a_db_in_a_missing_folder_is_refused_not_created(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in ``--db``'s folder used to create that folder and an empty workspace in it."""
    target = tmp_path / "no-such-folder" / "ws.db"
    code, _, err = call(["product", "list", "--db", str(target)], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert f"the folder {target.parent} does not exist" in err
    assert not target.parent.exists()


def test_serve_on_a_busy_port_exits_2_before_creating_the_admin(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to create the admin (and print its one-time password), then fail in uvicorn
    with a traceback; the password was then lost with the process."""
    import socket

    monkeypatch.setenv("PRODSEC_EVIDENCE_DIR", str(tmp_path / "evidence"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = call(["serve", "--db", str(tmp_path / "s.db"), "--port", str(port)],
                              capsys)
    assert code == 2 and "Traceback" not in err, err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "password" not in out
    assert not (tmp_path / "s.db").exists()
