"""``prodsec knowledge changes``: the change log as JSON, filtered by date; bad input exits 2."""

from __future__ import annotations

import json

from tests.cli.test_cli import EXAMPLES, ROOT, ok, run


def test_changes_json_lists_the_2025_2026_acts() -> None:
    data = json.loads(ok("knowledge", "changes", "--format", "json"))
    assert data["law_as_of"] == "2026-12-03"
    acts = " ".join(c["act"] for c in data["changes"])
    for act in ("2025/1535", "2025/2392", "2026/881", "2025/327", "Corrigendum", "SI 2025/211",
                "SI 2025/1267", "DA 26-75", "2025/1455", "2026/339"):
        assert act in acts, act
    for change in data["changes"]:
        assert change["instruments"] and change["citation"]


def test_changes_since_filters_by_date() -> None:
    everything = json.loads(ok("knowledge", "changes", "--format", "json"))["changes"]
    later = json.loads(ok("knowledge", "changes", "--since", "2026-12-04", "--format", "json"))
    assert later["since"] == "2026-12-04"
    # only what takes effect from that date: the EHDS amendment, the RED DA repeal
    assert [c["id"] for c in later["changes"]] == ["cra-ehds-ehr-systems", "red-da-repeal"]
    assert len(everything) >= 10
    assert "| date | act |" in ok("knowledge", "changes", "--format", "markdown")


def test_since_is_the_law_date_and_recorded_since_the_encoding_date() -> None:
    """``--since 2026-01-01`` listed the 2020 and 2024 items (it filtered on ``encoded``): it
    now means the law changed on or after the date; ``--recorded-since`` is the encoding date."""
    since = json.loads(ok("knowledge", "changes", "--since", "2026-01-01", "--format", "json"))
    assert since["changes"] and all(c["date"] >= "2026-01-01" for c in since["changes"])
    assert "sg-cls-devices-only" not in {c["id"] for c in since["changes"]}  # dated 2020-10-07
    recorded = json.loads(ok("knowledge", "changes", "--recorded-since", "2026-12-03",
                             "--format", "json"))
    assert recorded["recorded_since"] == "2026-12-03"
    assert "sg-cls-devices-only" in {c["id"] for c in recorded["changes"]}
    none = json.loads(ok("knowledge", "changes", "--recorded-since", "2026-12-04",
                         "--format", "json"))
    assert none["changes"] == []
    bad = run("knowledge", "changes", "--recorded-since", "last week")
    assert bad.returncode == 2 and "--recorded-since" in bad.stderr


def test_changes_bad_date_exits_2_naming_the_option() -> None:
    result = run("knowledge", "changes", "--since", "yesterday")
    assert result.returncode == 2
    assert "--since" in result.stderr and "Traceback" not in result.stderr


def test_check_states_law_as_of_and_old_computer_profile_is_refused(tmp_path) -> None:
    data = json.loads(ok("check", str(EXAMPLES / "router.yaml"), "--format", "json"))
    assert data["law_as_of"] == "2026-12-03"
    old = tmp_path / "old.yaml"
    old.write_text("name: Old laptop\nmarkets: [GB]\nfunctions: [computer]\n")
    result = run("check", str(old))
    assert result.returncode == 2
    assert "laptop_computer" in result.stderr and "Traceback" not in result.stderr
    assert ROOT.exists()
