"""Workspace CLI benchmark: commands that change one thing, as a ratio to `python -c pass` in
the same run, and a 100-row bulk status file.

    .venv/bin/python bench/workspace_cli.py [--runs 10] [--prodsec "COMMAND"]

``--prodsec`` runs another build for comparison, e.g. an older checkout:
``--prodsec "env PYTHONPATH=/tmp/old/src .venv/bin/python -m prodsec"`` (it must know
``status --file``; without it the bulk line is skipped).

Target (issue #12): a workspace command that changes one thing finishes well under a second;
`prodsec status --file` sets 100 statuses in one transaction. Besides the median wall time the
children's CPU time (user + system) is printed: on a busy machine it is the steadier figure.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PRODSEC = [str(Path(sys.executable).with_name("prodsec"))]
PROFILE = ROOT / "examples" / "products" / "router.yaml"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(commands: list[list[str]]) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) over the commands, each run once."""
    walls, cpus = [], []
    for cmd in commands:
        start, used = time.perf_counter(), cpu()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        cpus.append(cpu() - used)
    return statistics.median(walls), statistics.median(cpus)


def setup(work: Path, runs: int) -> tuple[str, list[Path]]:
    """A workspace with the router and three copies assessed; profiles still to add."""
    db = str(work / "bench.db")
    subprocess.run([*PRODSEC, "product", "add", str(PROFILE), "--db", db], check=True,
                   stdout=subprocess.DEVNULL)
    profile = yaml.safe_load(PROFILE.read_text())
    for copy in range(3):
        path = work / f"copy-{copy}.yaml"
        path.write_text(yaml.safe_dump({**profile, "name": f"{profile['name']} copy {copy}"}))
        subprocess.run([*PRODSEC, "product", "add", str(path), "--db", db], check=True,
                       stdout=subprocess.DEVNULL)
    for name in [profile["name"]] + [f"{profile['name']} copy {c}" for c in range(3)]:
        subprocess.run([*PRODSEC, "assess", name, "--as-of", "2026-11-27", "--db", db],
                       check=True, stdout=subprocess.DEVNULL)
    profiles = []
    for i in range(runs):
        path = work / f"new-{i}.yaml"
        path.write_text(yaml.safe_dump({**profile, "name": f"Bench product {i}"}))
        profiles.append(path)
    return db, profiles


def bulk_file(work: Path, requirements: list[str], products: list[str]) -> Path:
    """100 rows: every binding requirement of the products, round-robin, set to met."""
    rows = [(p, r) for p in products for r in requirements][:100]
    assert len(rows) == 100, f"only {len(rows)} (product, requirement) pairs"
    path = work / "changes.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["product", "requirement", "status", "justification"])
        for name, requirement in rows:
            writer.writerow([name, requirement, "met", "bench"])
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--prodsec", help="The command to measure (default: this build).")
    args = parser.parse_args()
    runs = args.runs
    if args.prodsec:
        PRODSEC[:] = shlex.split(args.prodsec)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["PRODSEC_EVIDENCE_DIR"] = str(work / "evidence")
        db, profiles = setup(work, runs)
        name = yaml.safe_load(PROFILE.read_text())["name"]
        products = [name] + [f"{name} copy {c}" for c in range(3)]
        with sqlite3.connect(db) as conn:
            bound = [r for (r,) in conn.execute(
                "SELECT DISTINCT s.requirement_id FROM requirement_statuses s JOIN assessments a "
                "ON a.id = s.assessment_id JOIN products p ON p.id = a.product_id "
                "WHERE p.name = ? AND NOT a.superseded ORDER BY 1", (name,))]
        requirement = bound[0]
        states = ["met", "in-progress"]
        base = measure([[sys.executable, "-c", "pass"]] * runs)
        cases = {
            "prodsec status PRODUCT REQ --set S": [
                [*PRODSEC, "status", name, requirement, "--set", states[i % 2], "--db", db]
                for i in range(runs)],
            "prodsec product add PROFILE": [
                [*PRODSEC, "product", "add", str(p), "--db", db] for p in profiles],
        }
        print(f"python -c pass: {base[0] * 1000:.1f} ms wall, {base[1] * 1000:.1f} ms CPU "
              f"(median of {runs})")
        for label, commands in cases.items():
            wall, used = measure(commands)
            print(f"{label}: {wall * 1000:.1f} ms = {wall / base[0]:.1f}x python -c pass "
                  f"({used * 1000:.1f} ms CPU)")
        changes = bulk_file(work, bound, products)
        try:
            wall, used = measure([[*PRODSEC, "status", "--file", str(changes), "--db", db]])
        except subprocess.CalledProcessError:
            print("prodsec status --file: not supported by this build")
            return
        single = measure(cases["prodsec status PRODUCT REQ --set S"][:3])[0]
        print(f"prodsec status --file (100 rows): {wall * 1000:.1f} ms = "
              f"{wall / base[0]:.1f}x python -c pass ({used * 1000:.1f} ms CPU); "
              f"100 single commands would take ~{single * 100:.1f} s")


if __name__ == "__main__":
    main()
