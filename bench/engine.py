"""Engine throughput: full verdicts (with reasons) for generated profiles, in process.

    .venv/bin/python bench/engine.py [--n 100000]

Prints profiles/s for parse + evaluate and the ratio to parsing alone (issue #3 target:
>= 20 000 profiles/s on one core).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from prodsec.core.applicability import Engine
from prodsec.core.profile import parse_profile
from prodsec.services.knowledge import knowledge_base


def generate(n: int, vocabulary: object, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    markets = ["EU", "DE", "FR", "FI", "GB", "US", "SG", "JP"]
    functions = sorted(vocabulary.functions)  # type: ignore[attr-defined]
    radio = sorted(vocabulary.radio)  # type: ignore[attr-defined]
    out = []
    for i in range(n):
        raw: dict[str, object] = {
            "name": f"product {i}",
            "markets": rng.sample(markets, rng.randint(1, 3)),
            "data_connection": rng.random() < 0.9, "internet": rng.random() < 0.7,
            "radio": rng.sample(radio, rng.randint(0, 2)), "consumer": rng.random() < 0.6,
            "personal_data": rng.random() < 0.5, "functions": rng.sample(functions, rng.randint(0, 2)),
        }
        if rng.random() < 0.05:
            raw["vehicle"] = {"category": "M1", "ecus": True, "software_updates": True}
        out.append(raw)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    n = parser.parse_args().n
    kb = knowledge_base()
    engine = Engine(kb)
    raws = generate(n, kb.vocabulary)
    as_of = dt.date(2026, 11, 27)

    start = time.perf_counter()
    profiles = [parse_profile(r, kb.vocabulary) for r in raws]
    parse_s = time.perf_counter() - start

    start = time.perf_counter()
    checks = [engine.check(p, as_of) for p in profiles]
    eval_s = time.perf_counter() - start
    reasons = sum(len(v.reasons) for c in checks for v in c.results)

    total = parse_s + eval_s
    print(f"profiles: {n}; verdicts: {n * len(engine.compiled)}; reasons: {reasons}")
    print(f"parse only: {parse_s:.2f} s = {n / parse_s:,.0f} profiles/s")
    print(f"evaluate (full verdicts with reasons): {eval_s:.2f} s = {n / eval_s:,.0f} profiles/s")
    print(f"parse + evaluate: {n / total:,.0f} profiles/s; ratio to parse alone: {total / parse_s:.1f}x")


if __name__ == "__main__":
    main()
