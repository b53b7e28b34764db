"""Scale benchmark on PostgreSQL (issue 17): a 10 000-product portfolio.

Seeds PRODUCTS products, one release each with an SBOM of COMPONENTS components drawn from a
pool of PACKAGES Go modules, and one advisory per module (findings computed once, in bulk, by
rescan jobs). Then measures
  (a) the portfolio list (GET /api/v1/products?after=…, keyset pages at random depths) and a
      product page (GET /api/v1/products/{id}) p50/p99 under CLIENTS concurrent clients;
  (b) an advisory update touching 1 % of the packages: the rescan jobs it queues, drained by 1
      and by 2 idle `prodsec worker` processes (target >= 1.6x on 2 cores), after a warm-up
      round, alternately ROUNDS times each, medians compared;
  (c) API throughput with 1 and with 2 uvicorn processes (the clients spread over them, as a
      load balancer would: the API keeps no state of its own).

    PRODSEC_BENCH_POSTGRES_URL=postgresql://… python bench/scale.py [--products 10000]
        [--rounds 3] [--schema bench_scale]

Not part of the test suite. Runs in its own schema (--schema or PRODSEC_BENCH_SCHEMA, so two
runs on one database do not collide), dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from servers import free_port, postgres_url, reset_schema  # noqa: E402

SCHEMA = "bench_scale"


def module(i: int) -> str:
    return f"example.com/scale/mod{i}"


def seed(url: str, products: int, components: int, packages: int) -> dict[str, Any]:
    """Bulk rows (Core inserts) for the portfolio; returns the token and row counts."""
    import yaml
    from sqlalchemy import func, insert, select

    from prodsec.db.engine import open_database
    from prodsec.db.models import (
        AdvisoryRecord,
        AffectedPackage,
        Product,
        Release,
        SbomComponent,
        SbomRecord,
        new_id,
        utcnow,
    )
    from prodsec.workspace.products import profile_hash
    from prodsec.workspace.users import actor_for, create_token, create_user

    db = open_database(url)
    base = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
    rng = random.Random(17)
    now = utcnow()
    with db.transaction() as s:
        user, _ = create_user(s, "Scale", "bench@scale.example", "editor", None)
        actor = actor_for(s, user)
        token, _ = create_token(s, actor, user.email, "bench")
        org = actor.org_id
        for start in range(0, products, 1000):
            prows, rrows, srows, crows = [], [], [], []
            for i in range(start, min(start + 1000, products)):
                pid, rid, sid = new_id(), new_id(), new_id()
                profile = base | {"name": f"Product {i:05d}"}
                prows.append({"id": pid, "org_id": org, "name": profile["name"],
                              "profile": profile, "profile_hash": profile_hash(profile),
                              "created_at": now, "updated_at": now, "version": 1})
                rrows.append({"id": rid, "org_id": org, "product_id": pid, "version_label": "1.0",
                              "support_rationale": "", "version": 1})
                srows.append({"id": sid, "org_id": org, "release_id": rid, "format": "CycloneDX",
                              "spec_version": "1.5", "name": "", "filename": "sbom.json",
                              "sha256": "0" * 64, "quality": {}, "imported_at": now})
                for j, k in enumerate(rng.sample(range(packages), components)):
                    crows.append({"id": new_id(), "org_id": org, "sbom_id": sid, "ref": f"c{j}",
                                  "name": module(k), "version": f"v1.0.{k % 5}",
                                  "purl": f"pkg:golang/{module(k)}@v1.0.{k % 5}",
                                  "licenses": [], "hashes": [], "kind": "library",
                                  "ecosystem": "Go", "package": module(k),
                                  "csaf_product_id": f"CSAFPID-{sid[:8]}{j}"})
            for model, rows in ((Product, prows), (Release, rrows), (SbomRecord, srows)):
                s.execute(insert(model), rows)
            for c in range(0, len(crows), 5000):
                s.execute(insert(SbomComponent), crows[c:c + 5000])
        arows, frows = [], []
        for k in range(packages):
            aid = new_id()
            arows.append({"id": aid, "org_id": org, "osv_id": f"GO-SCALE-{k:05d}",
                          "summary": "", "aliases": [], "content_hash": "x",
                          "imported_at": now})
            frows.append({"id": new_id(), "org_id": org, "advisory_id": aid, "ecosystem": "Go",
                          "package": module(k), "versions": [],
                          "ranges": [{"type": "SEMVER", "events": [["introduced", "0"],
                                                                    ["fixed", "1.0.3"]]}]})
        s.execute(insert(AdvisoryRecord), arows)
        s.execute(insert(AffectedPackage), frows)
    with db.transaction() as s:
        counts = {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                  for m in (Product, Release, SbomRecord, SbomComponent, AdvisoryRecord,
                            AffectedPackage)}
    db.dispose()
    return {"token": token, "org": org, "actor": actor, "counts": counts}


# ---- (b) rescans with 1 and 2 workers ----------------------------------------------------------


def queue_rescans(url: str, actor: Any, packages: list[int]) -> int:
    from prodsec.db.engine import open_database
    from prodsec.workspace import vulnerabilities as vulns

    db = open_database(url)
    with db.transaction() as s:
        releases = vulns.releases_with_packages(s, actor, {("Go", module(k)) for k in packages})
        queued = vulns.queue_rescans(s, actor, releases)["queued"]
    db.dispose()
    return queued


def clear_findings(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as c:
        c.execute(text("DELETE FROM findings"))
    engine.dispose()


def settle(url: str) -> None:
    """Planner statistics for the bulk-loaded tables and a checkpoint of the seed's dirty
    pages, as a database in service has them: otherwise the first measured run pays for both
    (autovacuum's first ANALYZE of 200 000 components, the flush) and looks slower."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text("VACUUM ANALYZE"))
        c.execute(text("CHECKPOINT"))
    engine.dispose()


RESCANS = "task_name IN ('findings.rescan_release', 'findings.rescan_releases')"


def start_workers(url: str, workers: int) -> list[subprocess.Popen[bytes]]:
    """``workers`` worker processes, returned once each has registered with the queue (so
    their start-up, some seconds of imports, is not counted as rescan time)."""
    from sqlalchemy import create_engine, text

    env = os.environ | {"PRODSEC_DATABASE_URL": url}
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as c:
        c.execute(text("DELETE FROM procrastinate_workers"))
    procs = [subprocess.Popen([sys.executable, "-m", "prodsec", "worker"], env=env,
                              stdout=subprocess.DEVNULL) for _ in range(workers)]
    try:
        for _ in range(1200):
            with engine.connect() as c:
                if c.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar() >= workers:
                    time.sleep(1)  # registered, then LISTEN: a job queued before it waits 5 s
                    return procs
            time.sleep(0.1)
        raise SystemExit("the workers did not start")
    finally:
        engine.dispose()


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)


def rescan_round(url: str, actor: Any, packages: list[int], workers: int) -> dict[str, Any]:
    """One measured rescan: findings cleared (every round adds the same findings from
    nothing), idle workers started, the advisory update's rescans queued; seconds from the
    queueing commit until no rescan job is left waiting or running."""
    from sqlalchemy import create_engine, text

    clear_findings(url)
    procs = start_workers(url, workers)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        releases = queue_rescans(url, actor, packages)
        started = time.perf_counter()
        while True:
            with engine.connect() as c:
                left = c.execute(text(f"SELECT count(*) FROM procrastinate_jobs WHERE {RESCANS}"
                                      " AND status IN ('todo', 'doing')")).scalar()
            if not left:
                seconds = time.perf_counter() - started
                break
            time.sleep(0.05)
        with engine.connect() as c:
            jobs, findings = c.execute(text(
                f"SELECT (SELECT count(*) FROM procrastinate_jobs WHERE {RESCANS} AND status = "
                "'succeeded'), (SELECT count(*) FROM findings)")).one()
            in_jobs = c.execute(text(  # the time the jobs themselves ran, summed
                "SELECT coalesce(extract(epoch FROM sum(e2.at - e1.at)), 0) FROM "
                "procrastinate_events e1 JOIN procrastinate_events e2 ON e2.job_id = e1.job_id "
                f"JOIN procrastinate_jobs j ON j.id = e1.job_id WHERE j.{RESCANS} AND "
                "e1.type = 'started' AND e2.type = 'succeeded'")).scalar()
            c.execute(text(f"DELETE FROM procrastinate_jobs WHERE {RESCANS}"))
            c.commit()
    finally:
        stop(procs)
        engine.dispose()
    return {"workers": workers, "releases": releases, "jobs": jobs, "findings": findings,
            "seconds": round(seconds, 2), "in_jobs_s": round(float(in_jobs), 2)}


def measure_rescans(url: str, actor: Any, packages: list[int], rounds: int) -> dict[str, Any]:
    """A warm-up round (not counted), then 1 and 2 workers alternately ``rounds`` times each,
    so a trend in the machine's load hits both; the median of each and their ratio."""
    rescan_round(url, actor, packages, 2)
    runs: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for workers in (1, 2):
            out = rescan_round(url, actor, packages, workers)
            runs[workers].append(out["seconds"])
            print(f"(b) 1 % advisory update: {out}", flush=True)
    median = {w: statistics.median(v) for w, v in runs.items()}
    return {"releases": out["releases"], "jobs": out["jobs"], "findings": out["findings"],
            "runs": runs, "median_s": median,
            "ms_per_release": {w: round(1000 * m / max(out["releases"], 1), 2)
                               for w, m in median.items()},
            "speedup": round(median[1] / median[2], 2)}


# ---- (a) and (c): the API under load -----------------------------------------------------------


def start_api(url: str) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    code = ("import sys, uvicorn; from prodsec.api import create_app; "
            "from prodsec.db.engine import open_database; "
            "from prodsec.services.knowledge import knowledge_base; "
            f"uvicorn.run(create_app(open_database({url!r}), knowledge_base()), host='127.0.0.1', "
            f"port={port}, log_level='warning', access_log=False, timeout_keep_alive=75)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/health", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the API did not start")


async def load(bases: list[str], token: str, paths: list[str], clients: int,
               seconds: float) -> dict[str, Any]:
    import httpx

    latencies: dict[str, list[float]] = {}
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=bases[n % len(bases)], timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            while time.perf_counter() < deadline:
                path = rng.choice(paths)
                kind = "list" if "?" in path else "page"
                t = time.perf_counter()
                r = await http.get(path)
                latencies.setdefault(kind, []).append(time.perf_counter() - t)
                errors += r.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    total = sum(len(v) for v in latencies.values())
    out: dict[str, Any] = {"rps": round(total / elapsed, 1), "errors": errors}
    for kind, values in latencies.items():
        values.sort()
        out[kind] = {"n": len(values), "p50_ms": round(1000 * statistics.median(values), 1),
                     "p99_ms": round(1000 * values[int(0.99 * (len(values) - 1))], 1)}
    return out


def api_paths(url: str, org: str, products: int) -> list[str]:
    """200 product pages and 50 portfolio pages at random depths, the latter read with the
    keyset cursor a client paging through gets (``after``: the previous page's last name)."""
    from urllib.parse import quote

    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as c:
        ids = [r[0] for r in c.execute(text("SELECT id FROM products ORDER BY random() LIMIT 200"))]
        names = [r[0] for r in c.execute(text("SELECT name FROM products ORDER BY random() "
                                              "LIMIT 50"))]
    engine.dispose()
    return ([f"/api/v1/products?limit=50&after={quote(n)}" for n in names]
            + [f"/api/v1/products/{i}" for i in ids])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--components", type=int, default=20)
    parser.add_argument("--packages", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="rescan rounds per worker count")
    parser.add_argument("--schema", default=os.environ.get("PRODSEC_BENCH_SCHEMA", SCHEMA),
                        help="PostgreSQL schema of the run (dropped at the end); "
                             "PRODSEC_BENCH_SCHEMA")
    args = parser.parse_args()
    url = postgres_url(args.schema)
    if url is None:
        raise SystemExit("set PRODSEC_BENCH_POSTGRES_URL (or PRODSEC_TEST_POSTGRES_URL)")
    reset_schema(url.split("?")[0], args.schema, create=True)
    results: dict[str, Any] = {"args": vars(args)}
    try:
        t = time.perf_counter()
        seeded = seed(url, args.products, args.components, args.packages)
        results["rows"] = seeded["counts"]
        print(f"seeded in {time.perf_counter() - t:.0f} s: {seeded['counts']}", flush=True)
        settle(url)
        everything = list(range(args.packages))
        one_percent = random.Random(1).sample(everything, max(1, args.packages // 100))
        results["rescan"] = measure_rescans(url, seeded["actor"], one_percent, args.rounds)
        print(f"(b) medians: {results['rescan']['median_s']} s, speedup "
              f"{results['rescan']['speedup']}x", flush=True)
        paths = api_paths(url, seeded["org"], args.products)
        results["api"] = {}
        for processes in (1, 2):
            servers = [start_api(url) for _ in range(processes)]
            try:
                asyncio.run(load([b for _, b in servers], seeded["token"], paths, 8, 2))
                out = asyncio.run(load([b for _, b in servers], seeded["token"], paths,
                                       args.clients, args.seconds))
            finally:
                for proc, _ in servers:
                    proc.terminate()
                    proc.wait(30)
            results["api"][processes] = out
            print(f"(a/c) {processes} uvicorn process(es), {args.clients} clients: {out}",
                  flush=True)
    finally:
        reset_schema(url.split("?")[0], args.schema, create=False)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
