"""The long fuzz run: every parser's target (``tests/fuzz/targets.py``) for a bounded time.

    .venv/bin/python scripts/fuzz.py --minutes 30 --inputs 1000000 --report out/fuzz.json

Time is shared by cost (a cheap target gets more inputs than a slow one) until ``--inputs`` in
total or ``--minutes`` have passed. Each distinct finding (exception type and the prodsec line
it came from) is saved with the input that caused it under ``--findings``; the report lists
inputs per target and the findings. Exit 1 when anything outside a target's declared error types
escaped. Run it in the background: it uses one core.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz import targets as fuzz  # noqa: E402


def where(exc: BaseException) -> str:
    """The innermost prodsec frame of a traceback (else the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/prodsec/" in f.filename and "/tests/" not in f.filename]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return "?"
    return f"{frame.filename.split('/src/')[-1]}:{frame.lineno}"


def run(seconds: float, budget: int, seed: int, findings_dir: Path,
        only: set[str] | None, equal: bool = False) -> dict[str, Any]:
    chosen = [t for t in fuzz.targets() if only is None or t.name in only]
    weights = {t.name: 1.0 if equal else 1 / t.cost for t in chosen}
    total_weight = sum(weights.values())
    share = {t.name: weights[t.name] / total_weight for t in chosen}
    rng = random.Random(seed)
    counts = dict.fromkeys(share, 0)
    spent = dict.fromkeys(share, 0.0)
    found: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    done = 0
    while done < budget and time.perf_counter() - started < seconds:
        # the target furthest behind its share of the time so far goes next, in a burst
        elapsed = sum(spent.values()) or 1.0
        target = min(chosen, key=lambda t: spent[t.name] / elapsed - share[t.name])
        burst_start = time.perf_counter()
        for _ in range(50):
            data = fuzz.make_input(rng, target)
            try:
                fuzz.check(target, data)
            except Exception as exc:  # a finding: keep the first input per (type, line)
                key = f"{target.name} {type(exc).__name__} {where(exc)}"
                if key not in found:
                    name = f"{target.name}-{len(found):03d}.bin"
                    (findings_dir / name).write_bytes(data)
                    found[key] = {"target": target.name, "error": type(exc).__name__,
                                  "where": where(exc), "message": str(exc)[:300],
                                  "input": name, "count": 0}
                    print(f"finding: {key}: {str(exc)[:120]}", flush=True)
                found[key]["count"] += 1
            counts[target.name] += 1
            done += 1
        spent[target.name] += time.perf_counter() - burst_start
        if done % 20000 < 50:
            print(f"{done} inputs, {time.perf_counter() - started:.0f} s", flush=True)
    return {"seed": seed, "seconds": round(time.perf_counter() - started, 1), "inputs": done,
            "per_target": counts, "findings": list(found.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", action="append", help="only these targets (repeatable)")
    parser.add_argument("--equal-time", action="store_true",
                        help="the same time for every target (default: less for slow ones)")
    parser.add_argument("--findings", type=Path, default=ROOT / "out" / "fuzz-findings")
    parser.add_argument("--report", type=Path, default=ROOT / "out" / "fuzz.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    args.findings.mkdir(parents=True, exist_ok=True)
    report = run(args.minutes * 60, args.inputs, args.seed, args.findings,
                 set(args.target) if args.target else None, args.equal_time)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "findings"}, indent=1))
    print(f"{len(report['findings'])} distinct findings")
    return 1 if report["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
