"""Start-up benchmark: CLI time as a ratio to `python -c pass`, measured in the same run.

    .venv/bin/python bench/startup.py [--runs 20]

Targets (issue #15): every read-only command <= 4x `python -c pass` with --format json and
<= 8x in the (default) table format; workspace commands <= 8x. Two ratios are printed per
command: median wall time, and median CPU time of the child (user + system), which is the
steadier figure on a busy machine. A case that misses its target is marked "MISS".

The children run as an installed prodsec does: with compiled bytecode. An environment that
sets PYTHONDONTWRITEBYTECODE (as the development sessions do) would otherwise have every call
compile prodsec's own modules again (an editable install has no .pyc), which costs `check`
about 3x `python -c pass` on its own; the children get PYTHONPYCACHEPREFIX (a temporary
directory) instead, and each command runs once unmeasured to fill it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODSEC = str(Path(sys.executable).with_name("prodsec"))
CAMERA = "examples/products/camera.yaml"
ROUTER = "Fictinet AX3000 Home Router"


def measure(cmd: list[str], runs: int) -> tuple[float, float]:
    """(median wall seconds, median child CPU seconds) over ``runs`` runs, after one warm-up
    run (which compiles the bytecode)."""
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def read_only() -> list[tuple[str, list[str], float]]:
    """(name, arguments, target ratio): each knowledge query in JSON (4x) and table (8x)."""
    queries = {
        "regulations": ["regulations"], "regulation": ["regulation", "eu-cra"],
        "requirements": ["requirements", "--regulation", "eu-cra"],
        "mappings": ["mappings", "uk-psti:schedule-1:1"], "standards": ["standards"],
        "check": ["check", CAMERA, "--as-of", "2026-11-27"],
    }
    cases = []
    for name, args in queries.items():
        cases.append((f"{name} --format json", [*args, "--format", "json"], 4.0))
        cases.append((f"{name} (table)", args, 8.0))
    return cases


def workspace(db: str) -> list[tuple[str, list[str], float]]:
    """A workspace change (repeatable: the same status set again) and two workspace reads."""
    return [
        ("status (one change)", ["status", ROUTER, "uk-psti:schedule-1:1", "--set", "met",
                                 "--db", db], 8.0),
        ("product list --format json", ["product", "list", "--format", "json", "--db", db],
         8.0),
        ("gaps --format json", ["gaps", ROUTER, "--as-of", "2026-11-27", "--format", "json",
                                "--db", db], 8.0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    os.chdir(ROOT)
    work = Path(tempfile.mkdtemp(prefix="prodsec-bench-"))
    os.environ["PRODSEC_DATA_DIR"] = str(work)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    db = str(work / "bench.db")
    for args in (["regulations", "--format", "json"],
                 ["product", "add", "examples/products/router.yaml", "--db", db],
                 ["assess", ROUTER, "--as-of", "2026-11-27", "--format", "json", "--db", db]):
        subprocess.run([PRODSEC, *args], stdout=subprocess.DEVNULL, check=True)
    try:
        base_wall, base_cpu = measure([sys.executable, "-c", "pass"], runs)
        print(f"python -c pass: {base_wall * 1000:.1f} ms wall, {base_cpu * 1000:.1f} ms CPU "
              f"(median of {runs})")
        print(f"{'command':32} {'wall ms':>8} {'wall x':>7} {'CPU x':>7} {'target':>7}")
        for name, args, target in [*read_only(), *workspace(db)]:
            wall, cpu = measure([PRODSEC, *args], runs)
            ratio = wall / base_wall
            flag = "" if min(ratio, cpu / base_cpu) <= target else "  MISS"
            print(f"{name:32} {wall * 1000:8.1f} {ratio:6.1f}x {cpu / base_cpu:6.1f}x "
                  f"{target:6.0f}x{flag}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
