"""Review h16r M1 and M3 from the command line: ``case open`` refused for a product the CRA
excludes (exit 2, the verdict and its article, no traceback); ``case withdraw`` for a case
opened in error; ``gaps`` measures "overdue" per release."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_workspace_cli import ROUTER, ok, run

CAR = "Exemplar E5 Saloon"


def test_case_refused_for_a_car_and_withdrawn_for_the_router(tmp_path: Path) -> None:
    ok(tmp_path, "product", "add", "examples/products/car.yaml")
    refused = run(tmp_path, "case", "open", CAR, "--title", "telematics RCE", "--incident",
                  "--member-state", "DE")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "the CRA does not apply" in refused.stderr and "Art. 2(2)(c)" in refused.stderr
    ok(tmp_path, "product", "add", "examples/products/router.yaml")
    opened = json.loads(ok(tmp_path, "case", "open", ROUTER, "--title", "wrong product",
                           "--incident", "--member-state", "DE", "--format", "json"))
    done = ok(tmp_path, "case", "withdraw", opened["id"], "--reason", "opened in error")
    assert "withdrawn by cli:" in done and "clocks are stopped" in done
    shown = json.loads(ok(tmp_path, "case", "show", opened["id"], "--format", "json"))
    assert shown["status"] == "withdrawn" and shown["withdrawal_reason"] == "opened in error"
    again = run(tmp_path, "case", "withdraw", opened["id"], "--reason", "again")
    assert again.returncode == 2 and "withdrawn" in again.stderr
    assert "withdrawn" in ok(tmp_path, "case", "list")


def test_gaps_measure_overdue_per_release(tmp_path: Path) -> None:
    ok(tmp_path, "product", "add", "examples/products/router.yaml")
    ok(tmp_path, "assess", ROUTER, "--as-of", "2026-12-03")
    ok(tmp_path, "product", "release", ROUTER, "1.0", "--placed-on-market", "2028-01-15")
    gaps = json.loads(ok(tmp_path, "gaps", ROUTER, "--as-of", "2026-12-03", "--format", "json"))
    by_reg = {i["regulation"]: i for i in gaps["instruments"]}
    assert by_reg["sg-cls"]["overdue"] == 0 and by_reg["sg-cls"]["next_date"] == "2028-01-15"
    assert "does not reach release 1.0" in by_reg["eu-red-da"]["does_not_reach"]
    table = ok(tmp_path, "gaps", ROUTER, "--as-of", "2026-12-03")
    assert "does not reach release 1.0" in table and "due from" in table
    portfolio = json.loads(ok(tmp_path, "gaps", "--as-of", "2026-12-03", "--format", "json"))
    assert portfolio["missed_dates"] == []
