"""Mixed read/write load on the REST API: many clients, two organisations, every backend.

    .venv/bin/python bench/load.py [--clients 64] [--seconds 30] [--products 200]

Seeds two organisations (an editor token, ``--products`` products and a control each), starts
uvicorn on 127.0.0.1 in a subprocess (one process, access log off, like bench/api.py) and lets
``--clients`` concurrent clients loop for ``--seconds`` over a mix of reads and writes in both
organisations: 65 % reads (product lists and details, audit chain checks) and 35 % writes
(``--writes``: new controls, control edits with If-Match — a 412 from a lost race is a correct
answer — and evidence uploads). Prints requests/s, p50 and p99 for reads and writes, every status seen and
the count of 5xx answers (the target is 0), and the throughput as a ratio to a bare FastAPI
endpoint under the same clients. Runs SQLite, then PostgreSQL when PRODSEC_BENCH_POSTGRES_URL or
PRODSEC_TEST_POSTGRES_URL is set (in its own schema, ``prodsec_load``, dropped afterwards).

The same driver (``mixed_load``) runs briefly in tests/api/test_concurrency.py.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # run as a script (bench/ on the path) or imported as bench.load by the tests
    from servers import free_port, postgres_url, reset_schema
except ImportError:
    from bench.servers import free_port, postgres_url, reset_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "prodsec_load"
WRITES = 0.35


@dataclass
class Tenant:
    """One organisation as a client sees it: a bearer token and ids to read and edit."""

    token: str
    product_ids: list[str]
    control_id: str


@dataclass
class LoadResult:
    seconds: float
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    transport_errors: int = 0
    samples: list[str] = field(default_factory=list)  # the first few failures, for the report
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"read": [], "write": []})

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        """5xx answers plus requests that got no answer at all."""
        return sum(n for s, n in self.statuses.items() if s >= 500) + self.transport_errors

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requests": self.requests, "rps": self.requests / self.seconds,
                               "5xx": self.server_errors, "samples": self.samples,
                               "statuses": dict(sorted(self.statuses.items()))}
        for kind, values in self.latencies.items():
            if len(values) >= 2:
                cuts = statistics.quantiles(values, n=100)
                out[kind] = {"requests": len(values), "p50_ms": round(cuts[49] * 1000, 1),
                             "p99_ms": round(cuts[98] * 1000, 1)}
        return out


async def mixed_load(base: str, tenants: list[Tenant], clients: int, seconds: float,
                     seed: int = 1, writes: float = WRITES) -> LoadResult:
    """``clients`` concurrent clients looping over the mix until ``seconds`` have passed;
    ``writes`` of the requests write (new controls 45 %, control edits with If-Match 30 %,
    evidence uploads 25 %), the others read (product lists 52 %, details 40 %, chain checks)."""
    import httpx

    result = LoadResult(seconds)
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def one(rng: random.Random, tenant: Tenant, n: int) -> tuple[str, Any]:
            auth = {"Authorization": f"Bearer {tenant.token}"}
            if rng.random() >= writes:
                roll = rng.random()
                path = (f"/api/v1/products/{rng.choice(tenant.product_ids)}" if roll < 0.4
                        else "/api/v1/audit/verify" if roll > 0.92
                        else f"/api/v1/products?limit=20&offset={rng.randrange(10)}")
                return "read", await client.get(path, headers=auth)
            roll = rng.random()
            if roll < 0.45:
                made = await client.post("/api/v1/controls", headers=auth, json={
                    "name": f"load {seed}-{n}", "requirements": ["uk-psti:schedule-1:1"]})
                return "write", made
            if roll < 0.75:
                url = f"/api/v1/controls/{tenant.control_id}"
                got = await client.get(url, headers=auth)
                if got.status_code != 200:
                    return "read", got
                edited = await client.patch(url, json={"owner": f"owner {n}"}, headers={
                    **auth, "If-Match": got.headers["etag"]})
                return "write", edited
            sent = await client.post("/api/v1/evidence/files", headers=auth,
                                     params={"title": f"upload {n}"},
                                     content=f"evidence {n} {rng.random()}".encode())
            return "write", sent


        async def worker(index: int) -> None:
            rng = random.Random(seed * 1000 + index)
            n = 0
            while time.perf_counter() < deadline:
                n += 1
                started = time.perf_counter()
                try:
                    kind, response = await one(rng, tenants[index % len(tenants)],
                                             index * 1_000_000 + n)
                except httpx.HTTPError as exc:
                    result.transport_errors += 1
                    if len(result.samples) < 5:
                        result.samples.append(f"{type(exc).__name__}: {exc}")
                    continue
                result.latencies[kind].append(time.perf_counter() - started)
                result.statuses[response.status_code] += 1
                if response.status_code >= 400 and response.status_code != 412 \
                        and len(result.samples) < 5:
                    result.samples.append(f"{response.request.method} {response.request.url.path}"
                                          f" {response.status_code}: {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        result.seconds = time.perf_counter() - started
    return result


async def bare_load(base: str, clients: int, seconds: float) -> float:
    """Requests/s of the bare endpoint under the same clients (the baseline)."""
    import httpx

    count, deadline = 0, time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                await client.get("/bare")
                count += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return count / (time.perf_counter() - started)


# ---- seeding and serving (the subprocess) ----------------------------------------------------


def seed(url: str, products: int) -> list[Tenant]:
    """Two organisations with an editor token, ``products`` products and one control each."""
    import yaml
    from sqlalchemy import insert

    from prodsec.db.engine import open_database
    from prodsec.db.models import Product, new_id, utcnow
    from prodsec.services.knowledge import knowledge_base
    from prodsec.workspace import compliance
    from prodsec.workspace.products import profile_hash
    from prodsec.workspace.users import actor_for, create_token, create_user

    db = open_database(url)
    base = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
    tenants = []
    with db.transaction() as session:
        for org in ("Acme", "Globex"):
            user, _ = create_user(session, org, f"load@{org.lower()}.example", "editor", None)
            actor = actor_for(session, user)
            token, _ = create_token(session, actor, user.email, "load")
            rows = [{"id": new_id(), "org_id": actor.org_id, "name": f"{org} {i:04d}",
                     "profile": base | {"name": f"{org} {i:04d}"},
                     "profile_hash": profile_hash(base | {"name": f"{org} {i:04d}"}),
                     "created_at": utcnow(), "updated_at": utcnow(), "version": 1}
                    for i in range(products)]
            session.execute(insert(Product), rows)
            control = compliance.add_control(session, actor, knowledge_base(),
                                              "Unique passwords", ["uk-psti:schedule-1:1"])
            tenants.append(Tenant(token, [r["id"] for r in rows], control.id))
    db.dispose()
    return tenants


def serve(kind: str, url: str, port: int) -> None:
    import uvicorn

    if kind == "bare":
        from fastapi import FastAPI

        app = FastAPI()

        @app.get("/bare")
        def bare() -> dict[str, bool]:
            return {"ok": True}
    else:
        from prodsec.api import create_app
        from prodsec.db.engine import open_database
        from prodsec.services.knowledge import knowledge_base

        app = create_app(open_database(url), knowledge_base())
    # Keep-alive as long as a proxy's (75 s): with uvicorn's 5 s, a client reusing a connection
    # the server is just closing gets a ReadError, which is not the server failing.
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                timeout_keep_alive=75)


def start(kind: str, url: str) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--db", url,
                                "--port", str(port)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):  # at most 60 s to come up
        try:
            httpx.get(f"{base}/bare" if kind == "bare" else f"{base}/health", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the {kind} server did not start")


def run(kind: str, url: str, args: argparse.Namespace, bare_rps: float) -> dict[str, Any]:
    tenants = seed(url, args.products)
    process, base = start("app", url)
    try:
        asyncio.run(mixed_load(base, tenants, min(args.clients, 8), 2, seed=0))  # warm up
        result = asyncio.run(mixed_load(base, tenants, args.clients, args.seconds,
                                        writes=args.writes))
    finally:
        process.terminate()
        process.wait(30)
    summary = result.summary()
    reads, writes = summary.get("read", {}), summary.get("write", {})
    print(f"{kind:<11} {summary['rps']:7.0f} req/s ({100 * summary['rps'] / bare_rps:4.1f} % of "
          f"bare)  reads p50 {reads.get('p50_ms', 0):6.1f} p99 {reads.get('p99_ms', 0):7.1f} ms  "
          f"writes p50 {writes.get('p50_ms', 0):6.1f} p99 {writes.get('p99_ms', 0):7.1f} ms  "
          f"5xx {summary['5xx']}  statuses {summary['statuses']}", flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--products", type=int, default=200, help="per organisation")
    parser.add_argument("--writes", type=float, default=WRITES, help="share of writes")
    parser.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    parser.add_argument("--serve", choices=["app", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.db, args.port)
        return
    print(f"{args.clients} concurrent clients for {args.seconds:.0f} s, {100 * args.writes:.0f} % "
          "writes, two organisations, uvicorn (1 process) on 127.0.0.1")
    process, base = start("bare", "")
    try:
        bare_rps = asyncio.run(bare_load(base, args.clients, min(args.seconds, 10)))
    finally:
        process.terminate()
        process.wait(30)
    print(f"{'bare':<11} {bare_rps:7.0f} req/s", flush=True)
    results: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds,
                               "bare_rps": round(bare_rps)}
    if args.backend in ("all", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["PRODSEC_EVIDENCE_DIR"] = str(Path(tmp) / "evidence")
            results["sqlite"] = run("SQLite", f"sqlite:///{tmp}/load.db", args, bare_rps)
    pg = postgres_url(SCHEMA)
    if pg and args.backend in ("all", "postgresql"):
        reset_schema(pg, SCHEMA, create=True)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                os.environ["PRODSEC_EVIDENCE_DIR"] = str(Path(tmp) / "evidence")
                results["postgresql"] = run("PostgreSQL", pg, args, bare_rps)
        finally:
            reset_schema(pg, SCHEMA, create=False)
    print(json.dumps(results))
    if any(r["5xx"] for r in results.values() if isinstance(r, dict)):
        sys.exit(1)


if __name__ == "__main__":
    main()
