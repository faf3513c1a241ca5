"""Load the collector API the way a crowd of dashboards does, then find its limit.

    /work/venv/bin/python bench/api_load.py --clients 200 --duration-s 60
    /work/venv/bin/python bench/api_load.py --store influxdb

1. Seeds a store with 24 hours x 200 series at one point a minute (288,000
   points; 4 regions x 10 providers x 5 targets). SQLite (the default): a
   new file, or the one --db names. InfluxDB: a fresh influxd 1.x on loopback
   in a temporary dir, loaded with prebuilt line protocol and given time to
   compact, as a day of data in a running server would be. It is stopped at
   the end.
2. Times each store query the endpoints make (heatmap, pulse, summary, the
   stream's newest-point poll) alone, in this process, before any load.
3. Starts the API in its own process (`serve`), so the load generator and the
   server each get a core.
4. Dashboard phase: N clients each hold one /api/stream, poll /api/heatmap and
   /api/metrics once a second, and fetch both again on every `points` event.
   A writer adds one round of points (one per series) every --write-every-s,
   so the stream has something to announce. Prints errors, latency
   percentiles and store loads per cache key per TTL from /api/health.
5. Rate phase: open-loop requests at rising rates, half /api/heatmap and half
   /api/metrics, each step beside a reference step at the same rate on
   /api/openapi.json (fixed bytes, no store and no cache). Latency counts from
   the request's scheduled time, so a backlog in the generator shows too.
   Stops at the first step whose p99 passes --p99-limit-ms.

Each phase prints the CPU seconds of the server process, of influxd and of
this load generator, to show where the work goes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from api_stores import (  # noqa: E402
    PROVIDERS,
    REGIONS,
    STORES,
    CpuMeter,
    open_store,
    seed,
    series_round,
    start_influxd,
    time_store_queries,
)

from collector.api import create_app  # noqa: E402
from collector.settings import ApiServerSettings  # noqa: E402
from tests.support.influx import InfluxServer  # noqa: E402
from tests.support.servers import free_port, stop_process, wait_for_port  # noqa: E402

DASHBOARD_PATHS = ("/api/heatmap", "/api/metrics")
# Fixed bytes from the same app, with no store query and no cache: the floor.
REFERENCE_PATHS = ("/api/openapi.json", "/api/openapi.json")


def serve(
    kind: str, location: str, port: int, cache_ttl_s: float, switch_interval_ms: float
) -> None:
    """Run the API on 127.0.0.1:port until killed (the `serve` subcommand)."""
    if switch_interval_ms > 0:
        sys.setswitchinterval(switch_interval_ms / 1000)
    store = open_store(kind, location)
    settings = ApiServerSettings(cache_ttl_s=cache_ttl_s, max_stream_clients=5000)
    layout = {region: set(PROVIDERS) for region in REGIONS}
    app = create_app(store, layout=layout, settings=settings)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    events: int = 0

    def summary(self) -> str:
        if not self.latencies_ms:
            return "no requests"
        ordered = sorted(self.latencies_ms)
        return (
            f"{len(ordered)} requests, {len(self.errors)} errors,"
            f" p50 {pct(ordered, 50):.1f} ms, p95 {pct(ordered, 95):.1f} ms,"
            f" p99 {pct(ordered, 99):.1f} ms, max {ordered[-1]:.1f} ms"
        )


def pct(ordered: list[float], percent: float) -> float:
    index = min(len(ordered) - 1, max(0, round(len(ordered) * percent / 100) - 1))
    return ordered[index]


async def timed_get(
    session: aiohttp.ClientSession, url: str, tally: Tally, start: float
) -> None:
    try:
        async with session.get(url) as response:
            await response.read()
            if response.status != 200:
                tally.errors.append(f"{url}: HTTP {response.status}")
    except aiohttp.ClientError as exc:
        tally.errors.append(f"{url}: {exc!r}")
    tally.latencies_ms.append((time.perf_counter() - start) * 1000)


@dataclass
class DashboardTallies:
    """Polls after the warm-up, re-fetches on events, and the warm-up itself."""

    polls: Tally = field(default_factory=Tally)
    refetches: Tally = field(default_factory=Tally)
    warmup: Tally = field(default_factory=Tally)

    @property
    def errors(self) -> list[str]:
        return self.polls.errors + self.refetches.errors + self.warmup.errors

    def steady(self) -> Tally:
        return Tally(
            self.polls.latencies_ms + self.refetches.latencies_ms,
            self.polls.errors + self.refetches.errors,
            self.refetches.events,
        )


async def dashboard_client(
    base: str,
    paths: tuple[str, ...],
    tallies: DashboardTallies,
    warm_until: float,
    stop_at: float,
    offset_s: float,
    jitter_s: float,
) -> None:
    """Run one dashboard: a live stream, a poll per second, a re-fetch per event."""
    urls = [base + path for path in paths]
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    refetches: set[asyncio.Task[None]] = set()
    rng = random.Random(offset_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def fetch_all(tally: Tally | None = None) -> None:
            start = time.perf_counter()
            if tally is None:
                tally = tallies.warmup if start < warm_until else tallies.polls
            await asyncio.gather(*(timed_get(session, u, tally, start) for u in urls))

        async def refetch() -> None:
            if jitter_s < 0:
                return
            await asyncio.sleep(rng.uniform(0, jitter_s))
            if time.perf_counter() < stop_at:
                await fetch_all(tallies.refetches)

        async def listen() -> None:
            async with session.get(f"{base}/api/stream") as stream:
                async for line in stream.content:
                    if line.startswith(b"event: points"):
                        tallies.refetches.events += 1
                        task = asyncio.create_task(refetch())
                        refetches.add(task)
                        task.add_done_callback(refetches.discard)

        listener = asyncio.create_task(listen())
        await asyncio.sleep(offset_s)
        next_poll = time.perf_counter()
        while next_poll < stop_at:
            await fetch_all()
            next_poll += 1.0
            await asyncio.sleep(max(0.0, next_poll - time.perf_counter()))
        listener.cancel()
        await asyncio.gather(*refetches, return_exceptions=True)


async def writer(kind: str, location: str, every_s: float, stop_at: float) -> int:
    store = open_store(kind, location)
    rounds = 0
    while time.perf_counter() + every_s < stop_at:
        await asyncio.sleep(every_s)
        await store.write(series_round(int(time.time() * 1000), rounds))
        rounds += 1
    await store.close()
    return rounds


async def health(base: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/api/health") as response,
    ):
        body: dict[str, Any] = await response.json()
        return body


async def dashboard_phase(
    base: str,
    location: str,
    args: argparse.Namespace,
    cpu: CpuMeter,
    paths: tuple[str, ...] = DASHBOARD_PATHS,
) -> bool:
    before = (await health(base))["cache"]["loads_by_key"]
    cpu.mark()
    tallies = DashboardTallies()
    started = time.perf_counter()
    warm_until = started + args.warmup_s
    stop_at = started + args.duration_s
    clients = [
        dashboard_client(
            base, paths, tallies, warm_until, stop_at, i / args.clients, args.jitter_s
        )
        for i in range(args.clients)
    ]
    *_, rounds = await asyncio.gather(
        *clients, writer(args.store, location, args.write_every_s, stop_at)
    )
    spent = cpu.spent()
    after = await health(base)
    loads_by_key = after["cache"]["loads_by_key"]
    loads = {k: v - before.get(k, 0) for k, v in loads_by_key.items()}
    windows = args.duration_s / args.cache_ttl_s

    refetch = f"jitter 0-{args.jitter_s} s" if args.jitter_s >= 0 else "off"
    print(
        f"dashboard phase: {args.clients} clients, {args.duration_s:.0f} s,"
        f" re-fetch on points events: {refetch}"
    )
    print(f"  first {args.warmup_s:.0f} s (cold cache): {tallies.warmup.summary()}")
    print(f"  polls after that:        {tallies.polls.summary()}")
    print(f"  re-fetches on events:    {tallies.refetches.summary()}")
    print(f"  all after warm-up:       {tallies.steady().summary()}")
    print(
        f"  points events received: {tallies.refetches.events} ({rounds} write rounds)"
    )
    print(
        f"  CPU used over {args.duration_s:.0f} s: {spent};"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    for key, count in sorted(loads.items()):
        if count:
            print(
                f"  store loads {key!r}: {count} in {windows:.0f} TTL windows"
                f" of {args.cache_ttl_s} s = {count / windows:.2f} per window"
            )
    for error in tallies.errors[:5]:
        print(f"  error: {error}")
    ordered = sorted(tallies.steady().latencies_ms)
    return not tallies.errors and bool(ordered) and pct(ordered, 99) < 50


async def open_loop(base: str, paths: list[str], rate: float, seconds: float) -> Tally:
    """Send `rate` requests a second for `seconds`, round-robin over `paths`."""
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=2000)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        tasks = []
        for n in range(int(rate * seconds)):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            url = base + paths[n % len(paths)]
            tasks.append(asyncio.create_task(timed_get(session, url, tally, scheduled)))
        await asyncio.gather(*tasks)
    return tally


async def rate_phase(base: str, args: argparse.Namespace, cpu: CpuMeter) -> None:
    print(f"rate phase: {args.step_s} s per step, p99 limit {args.p99_limit_ms} ms")
    print(
        f"  {'req/s':>6}  {'API p50':>8} {'API p99':>8} {'err':>4}   reference p50/p99"
        "   CPU during the API step"
    )
    api = ["/api/heatmap", "/api/metrics"]
    for rate in args.rates:
        # Warm the cache first: the previous phase may have left it expired.
        await open_loop(base, api, 10, 0.2)
        cpu.mark()
        tally = await open_loop(base, api, rate, args.step_s)
        spent = cpu.spent()
        reference = await open_loop(base, ["/api/openapi.json"], rate, args.step_s)
        ordered = sorted(tally.latencies_ms)
        floor = sorted(reference.latencies_ms)
        print(
            f"  {rate:>6.0f}  {pct(ordered, 50):>6.1f}ms {pct(ordered, 99):>6.1f}ms"
            f" {len(tally.errors):>4}   {pct(floor, 50):.1f}/{pct(floor, 99):.1f} ms"
            f"   {spent}"
        )
        if pct(ordered, 99) > args.p99_limit_ms:
            print(f"  p99 passes {args.p99_limit_ms} ms at about {rate:.0f} req/s")
            return
    print("  p99 stayed under the limit at every rate tried")


async def load(
    base: str, location: str, cpu: CpuMeter, args: argparse.Namespace
) -> None:
    passed = await dashboard_phase(base, location, args, cpu)
    print(f"  target (no errors, p99 < 50 ms): {'met' if passed else 'NOT met'}")
    if args.reference_s > 0:
        print(f"reference: the same clients on /api/openapi.json, {args.reference_s} s")
        reference = argparse.Namespace(**{**vars(args), "duration_s": args.reference_s})
        await dashboard_phase(base, location, reference, cpu, paths=REFERENCE_PATHS)
    if args.rates:
        await rate_phase(base, args, cpu)


def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="beamwatch-bench-"))
    influxd: InfluxServer | None = None
    pids: dict[str, int] = {}
    if args.store == "influxdb":
        influxd = start_influxd(work, args.compaction_wait_s)
        assert influxd.pid is not None
        location = influxd.url
        pids["influxd"] = influxd.pid
    else:
        db = args.db or work / "bench.db"
        if not db.exists():
            started = time.perf_counter()
            count = asyncio.run(seed(db, int(time.time() * 1000)))
            print(f"seeded {count} points in {time.perf_counter() - started:.1f} s")
        location = str(db)
    server: subprocess.Popen[bytes] | None = None
    try:
        if args.query_repetitions > 0:
            # SQLite queries run on a thread of this process, so its CPU counts them.
            meter = CpuMeter(pids, own_name="this process")
            asyncio.run(time_store_queries(location, args, meter))
        port = free_port()
        command = [sys.executable, __file__, "serve", location, str(port)]
        command += ["--store", args.store, "--cache-ttl-s", str(args.cache_ttl_s)]
        command += ["--switch-interval-ms", str(args.switch_interval_ms)]
        server = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(REPO)})
        wait_for_port("127.0.0.1", port)
        cpu = CpuMeter({"server": server.pid, **pids})
        asyncio.run(load(f"http://127.0.0.1:{port}", location, cpu, args))
    finally:
        if server is not None:
            stop_process(server)
        if influxd is not None:
            influxd.stop()
        # Removes the seeded SQLite file or influxd's data; a --db file is elsewhere.
        shutil.rmtree(work, ignore_errors=True)


def parse_rates(text: str) -> list[float]:
    return [float(rate) for rate in text.split(",") if rate]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="run the API (used by the benchmark)")
    serve_parser.add_argument("location", help="SQLite file, or influxd URL")
    serve_parser.add_argument("port", type=int)
    serve_parser.add_argument("--store", choices=STORES, default="sqlite")
    serve_parser.add_argument("--cache-ttl-s", type=float, default=2.0)
    serve_parser.add_argument("--switch-interval-ms", type=float, default=0)

    add = parser.add_argument
    add("--store", choices=STORES, default="sqlite", help="store the API serves from")
    add("--db", type=Path, help="seeded SQLite file to reuse, or to create")
    add(
        "--compaction-wait-s",
        type=float,
        default=60,
        help="with --store influxdb, the longest wait for influxd to compact the seed",
    )
    add(
        "--query-repetitions",
        type=int,
        default=10,
        help="times each store query is timed alone before the load; 0 skips",
    )
    add("--clients", type=int, default=200, help="dashboard clients")
    add("--duration-s", type=float, default=60, help="dashboard phase, seconds")
    add("--warmup-s", type=float, default=5, help="first seconds reported apart")
    add("--cache-ttl-s", type=float, default=2.0, help="API cache TTL, seconds")
    add("--write-every-s", type=float, default=10, help="seconds between rounds")
    add(
        "--reference-s",
        type=float,
        default=20,
        help="seconds of the reference phase on /api/openapi.json; 0 skips it",
    )
    add(
        "--jitter-s",
        type=float,
        default=-1,
        help="re-fetch on each points event after a random 0..N s delay;"
        " negative (the default) does not re-fetch, only polls",
    )
    add(
        "--switch-interval-ms",
        type=float,
        default=0,
        help="set the server's sys.setswitchinterval; 0 keeps Python's 5 ms",
    )
    add("--step-s", type=float, default=8, help="seconds per rate step")
    add("--p99-limit-ms", type=float, default=100, help="p99 that ends the ramp")
    add(
        "--rates",
        type=parse_rates,
        default=[500, 1000, 1500, 2000, 2500, 3000, 4000, 5000],
        help="comma-separated request rates (req/s) of the rate phase; empty skips",
    )
    args = parser.parse_args()

    if args.command == "serve":
        serve(
            args.store,
            args.location,
            args.port,
            args.cache_ttl_s,
            args.switch_interval_ms,
        )
        return
    if args.db is not None and args.store != "sqlite":
        parser.error(
            f"--db {args.db} names a SQLite file; drop it with --store influxdb"
        )
    run(args)


if __name__ == "__main__":
    main()
