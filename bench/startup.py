"""Start-up benchmark: CLI wall time as a ratio to `python -c pass`, in the same run.

    .venv/bin/python bench/startup.py [--runs 20]

Targets (issues #2, #3): `prodsec regulations --format json` and
`prodsec check one.yaml --format json` at most 6x `python -c pass`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODSEC = str(Path(sys.executable).with_name("prodsec"))


def wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    os.chdir(ROOT)
    subprocess.run([PRODSEC, "regulations", "--format", "json"], stdout=subprocess.DEVNULL, check=True)
    base = wall([sys.executable, "-c", "pass"], runs)
    cases = {
        "prodsec regulations --format json": [PRODSEC, "regulations", "--format", "json"],
        "prodsec check camera.yaml --format json": [
            PRODSEC, "check", "examples/products/camera.yaml", "--as-of", "2026-11-27", "--format", "json"],
        "prodsec check camera.json --format json": None,
        "prodsec regulations (table, Typer+Rich)": [PRODSEC, "regulations"],
    }
    json_profile = Path("/tmp/prodsec-bench-camera.json")
    subprocess.run([sys.executable, "-c", (
        "import json,yaml,sys;json.dump(yaml.safe_load(open('examples/products/camera.yaml')),"
        f"open('{json_profile}','w'))")], check=True)
    cases["prodsec check camera.json --format json"] = [
        PRODSEC, "check", str(json_profile), "--as-of", "2026-11-27", "--format", "json"]
    print(f"python -c pass: {base * 1000:.1f} ms (median of {runs})")
    for name, cmd in cases.items():
        t = wall(cmd, runs)
        print(f"{name}: {t * 1000:.1f} ms = {t / base:.1f}x python -c pass")


if __name__ == "__main__":
    main()
