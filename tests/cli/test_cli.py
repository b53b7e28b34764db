"""The CLI as a user runs it: a real subprocess, exit codes, messages, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prodsec.cli import spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "products"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "prodsec", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def ok(*args: str) -> str:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_regulations_json_lists_eleven_with_attributes() -> None:
    regs = json.loads(ok("regulations", "--format", "json"))
    assert len(regs) == 11
    for reg in regs:
        for key in ("kind", "binding", "conformity", "strategy", "scope", "dates", "sources",
                    "verified", "legal_reference", "jurisdiction", "markets", "authority"):
            assert reg[key] is not None or key == "binding_note", (reg["id"], key)


def test_cra_requirements_json() -> None:
    reqs = json.loads(ok("requirements", "--regulation", "eu-cra", "--format", "json"))
    annex_i = [r for r in reqs if r["id"].startswith("eu-cra:annex-i:")]
    assert len(annex_i) >= 21
    assert all(r["category"] and r["citation"] for r in annex_i)


# Every fast-path form gives byte-identical output through the full Typer CLI.
FAST_FORMS = [
    ["regulations", "--format", "json"],
    ["regulation", "eu-cra", "--format", "json"],
    ["requirements", "--regulation", "uk-psti", "--format", "json"],
    ["requirements", "--category", "handling", "--format=json"],
    ["mappings", "uk-psti:schedule-1:1", "--format", "json"],
    ["mappings", "uk-psti:schedule-1:1", "--depth", "1", "-f", "json"],
    ["standards", "--format", "json"],
    ["check", str(EXAMPLES / "camera.yaml"), "--as-of", "2026-11-27", "--format", "json"],
    ["check", str(EXAMPLES), "--as-of", "2026-11-27", "--format", "json"],
]


@pytest.mark.parametrize("args", FAST_FORMS, ids=lambda a: " ".join(a[:2]))
def test_fast_path_equals_typer_path(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert spec.recognise(args) is not None, "this form should take the fast path"
    fast_out = ok(*args)
    from typer.testing import CliRunner

    from prodsec.cli.app import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == fast_out


@pytest.mark.parametrize("args", [
    ["regulation", "eu-cra", "--help"], ["regulations", "--format", "xml"], ["frobnicate"],
])
def test_other_forms_fall_back(args: list[str]) -> None:
    assert spec.recognise(args) is None


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_unknown_regulation_exit_2_with_suggestion(fmt: str) -> None:
    result = run("regulation", "eu-rca", "--format", fmt)
    assert result.returncode == 2
    assert "unknown regulation 'eu-rca'" in result.stderr and "eu-cra" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_requirement_in_mappings() -> None:
    result = run("mappings", "uk-psti:schedule-1:9")
    assert result.returncode == 2 and "uk-psti:schedule-1" in result.stderr


def test_bad_option_value_is_usage_error() -> None:
    result = run("regulations", "--format", "xml")
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_human_formats_render(fmt: str) -> None:
    out = ok("regulation", "eu-cra", "--format", fmt)
    assert "Requirements — prevention" in out and "2027-12-11" in out
    out = ok("check", str(EXAMPLES / "router.yaml"), "--as-of", "2026-11-27", "--format", fmt)
    assert "important-class-1" in out


def test_check_bad_profiles_reported_others_still_checked(tmp_path: Path) -> None:
    (tmp_path / "a-good.yaml").write_text((EXAMPLES / "camera.yaml").read_text())
    (tmp_path / "b-broken.yaml").write_text("name: x\nmarkets: [EU\n")
    (tmp_path / "c-wrong.yaml").write_text("name: x\nmarkets: [XX]\nfunctions: [rooter]\n")
    result = run("check", str(tmp_path), "--format", "json", "--as-of", "2026-11-27")
    assert result.returncode == 2
    assert "b-broken.yaml: invalid product profile" in result.stderr
    assert "line 3 column 1: invalid YAML" in result.stderr
    assert "markets[0]: unknown market 'XX'" in result.stderr
    assert "did you mean router" in result.stderr
    data = json.loads(result.stdout)
    assert [c["product"] for c in data["checks"]] == ["HomeSight Cam 2"]
    assert len(data["failures"]) == 2


@pytest.mark.parametrize("date", ["2026-13-01", "27.11.2026", "2026-1-5"])
def test_bad_as_of_date(date: str) -> None:
    for fmt in ("json", "table"):
        result = run("check", str(EXAMPLES / "camera.yaml"), "--as-of", date, "--format", fmt)
        assert result.returncode == 2
        assert "--as-of: expected an ISO 8601 date YYYY-MM-DD" in result.stderr


def test_missing_profile_file() -> None:
    result = run("check", "nope.yaml", "--format", "json")
    assert result.returncode == 2 and "nope.yaml: no such file" in result.stderr


def test_check_html_report(tmp_path: Path) -> None:
    out = tmp_path / "router.html"
    ok("check", str(EXAMPLES / "router.yaml"), "--as-of", "2026-11-27", "--output", str(out))
    html = out.read_text()
    assert "<svg" in html and "Timeline" in html and "important-class-1" in html


def test_landscape_writes_both_pictures(tmp_path: Path) -> None:
    ok("landscape", "--output", str(tmp_path / "l.svg"))
    rigor, scope = tmp_path / "l-rigor.svg", tmp_path / "l-scope.svg"
    assert "CRA" in rigor.read_text() and "UK PSTI" in scope.read_text()
    ok("landscape", "--output", str(tmp_path / "r.png"), "--kind", "rigor")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_landscape_bad_suffix() -> None:
    result = run("landscape", "--output", "x.gif")
    assert result.returncode == 2 and ".svg or .png" in result.stderr


def test_schema_profile_is_json() -> None:
    schema = json.loads(ok("schema", "profile"))
    assert schema["required"] == ["name", "markets"]
    assert json.loads(ok("schema", "regulation"))["title"] == "Regulation"


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    """`prodsec regulations --format json | head -1`: the pipe closes under a large answer."""
    with subprocess.Popen([sys.executable, "-m", "prodsec", "regulations", "--format", "json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(1) == b"["
        proc.stdout.close()
        assert proc.stderr.read() == b""
        assert proc.wait(timeout=120) in (0, 1)
