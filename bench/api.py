"""Drive the REST API with many concurrent clients on loopback and compare it with a bare FastAPI
endpoint served the same way (one uvicorn process each, access log off).

    .venv/bin/python bench/api.py [--products 10000] [--clients 64] [--requests 3000]

Seeds 10 000 products (core SQL bulk insert: this measures serving, not creating), starts
uvicorn on 127.0.0.1 on a free port in a subprocess, and sends a bounded number of requests to
the list (``/api/v1/products?limit=20&offset=…``) and detail (``/api/v1/products/{id}``)
endpoints with a bearer token. Prints requests/s, p50 and p99 per endpoint for SQLite and, when
PRODSEC_BENCH_POSTGRES_URL or PRODSEC_TEST_POSTGRES_URL is set, PostgreSQL (in its own schema,
``prodsec_bench``, dropped afterwards), each as a ratio to the bare endpoint. Stops by itself.
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
import tempfile
import time
from pathlib import Path
from typing import Any

try:  # run as a script (bench/ on the path) or imported as bench.load by the tests
    from servers import free_port, postgres_url, reset_schema
except ImportError:
    from bench.servers import free_port, postgres_url, reset_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "prodsec_bench"


# ---- the servers (run in the subprocess) -----------------------------------------------------


def bare_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/bare")
    def bare() -> dict[str, bool]:
        return {"ok": True}

    return app


def prodsec_app(url: str) -> Any:
    from prodsec.api import create_app
    from prodsec.db.engine import open_database
    from prodsec.services.knowledge import knowledge_base

    return create_app(open_database(url), knowledge_base())


def serve(kind: str, url: str, port: int) -> None:
    import uvicorn

    app = bare_app() if kind == "bare" else prodsec_app(url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---- seeding ---------------------------------------------------------------------------------


def seed(url: str, count: int) -> tuple[str, list[str]]:
    """An organisation, an editor with a token, and ``count`` products; (token, product ids)."""
    import yaml
    from sqlalchemy import insert

    from prodsec.db.engine import open_database
    from prodsec.db.models import Product, new_id, utcnow
    from prodsec.workspace.products import profile_hash
    from prodsec.workspace.users import actor_for, create_token, create_user

    db = open_database(url)
    base = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
    with db.transaction() as session:
        user, _ = create_user(session, "Bench", "bench@bench.example", "editor", None)
        actor = actor_for(session, user)
        token, _ = create_token(session, actor, user.email, "bench")
        rows = []
        for i in range(count):
            profile = base | {"name": f"Product {i:05d}"}
            rows.append({"id": new_id(), "org_id": actor.org_id, "name": profile["name"],
                         "profile": profile, "profile_hash": profile_hash(profile),
                         "created_at": utcnow(), "updated_at": utcnow(), "version": 1})
        for start in range(0, count, 2000):
            session.execute(insert(Product), rows[start:start + 2000])
    db.dispose()
    return token, [r["id"] for r in rows]


# ---- the load -------------------------------------------------------------------------------


async def drive(base: str, paths: list[str], headers: dict[str, str], clients: int,
                budget_s: float) -> dict[str, float]:
    """Send every path once, ``clients`` at a time, stopping early when the time is up."""
    import httpx

    latencies: list[float] = []
    errors = 0
    queue = iter(paths)
    deadline = time.perf_counter() + budget_s
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=120) as client:
        async def worker() -> None:
            nonlocal errors
            for path in queue:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / elapsed,
            "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000}


def start(kind: str, url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--db", url,
                                "--port", str(port)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):  # at most 30 s to come up
        try:
            httpx.get(f"{base}/docs" if kind == "bare" else f"{base}/health", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the {kind} server did not start")


def measure(kind: str, url: str, paths: list[str], headers: dict[str, str],
            args: argparse.Namespace) -> dict[str, float]:
    process, base = start(kind, url)
    try:
        asyncio.run(drive(base, paths[: args.clients * 2], headers, args.clients, 10))  # warm
        return asyncio.run(drive(base, paths, headers, args.clients, args.seconds))
    finally:
        process.terminate()
        process.wait(10)


def backend(name: str, url: str, args: argparse.Namespace, bare: dict[str, float]) -> None:
    started = time.perf_counter()
    token, ids = seed(url, args.products)
    print(f"\n{name}: seeded {len(ids)} products in {time.perf_counter() - started:.1f} s")
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(1)
    endpoints = {
        "list": [f"/api/v1/products?limit=20&offset={rng.randrange(len(ids) - 20)}"
                 for _ in range(args.requests)],
        "detail": [f"/api/v1/products/{rng.choice(ids)}" for _ in range(args.requests)],
    }
    for label, paths in endpoints.items():
        report(f"{name} {label}", measure("app", url, paths, headers, args), bare)


def report(label: str, result: dict[str, float], bare: dict[str, float] | None) -> None:
    ratio = f"  {100 * result['rps'] / bare['rps']:5.1f} % of bare" if bare else ""
    print(f"{label:<22} {result['rps']:8.0f} req/s  p50 {result['p50_ms']:6.1f} ms  "
          f"p99 {result['p99_ms']:6.1f} ms  ({int(result['requests'])} requests, "
          f"{int(result['errors'])} errors){ratio}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint")
    parser.add_argument("--seconds", type=float, default=30, help="time budget per endpoint")
    parser.add_argument("--serve", choices=["app", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.db, args.port)
        return
    print(f"{args.clients} concurrent clients, {args.requests} requests per endpoint, "
          "uvicorn (1 process) on 127.0.0.1")
    bare = measure("bare", "", ["/bare"] * args.requests, {}, args)
    report("bare FastAPI", bare, None)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PRODSEC_EVIDENCE_DIR"] = str(Path(tmp) / "evidence")
        backend("SQLite", f"sqlite:///{tmp}/bench.db", args, bare)
    pg = postgres_url(SCHEMA)
    if pg:
        reset_schema(pg, SCHEMA, create=True)
        try:
            backend("PostgreSQL", pg, args, bare)
        finally:
            reset_schema(pg, SCHEMA, create=False)
    print(json.dumps({"note": "ratios are requests/s relative to the bare endpoint"}))


if __name__ == "__main__":
    main()
