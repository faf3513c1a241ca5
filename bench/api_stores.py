"""Stores for bench/api_load.py: the seeded data, influxd, and timing helpers.

The data is a day of points: 4 regions x 10 providers x 5 targets at one point
a minute. This module loads it into a SQLite file or a fresh influxd. It also
holds the CPU meter, which reads /proc, and times each store query alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from collector.params import pulse_bucket_ms  # noqa: E402
from collector.store.base import QueryFilter, Stat  # noqa: E402
from collector.store.influx import InfluxStore  # noqa: E402
from collector.store.sqlite import SQLiteStore  # noqa: E402
from probe.lineprotocol import ProbeEncoder  # noqa: E402
from probe.models import Measurement, Outcome  # noqa: E402
from probe.writers import V1Writer  # noqa: E402
from tests.support.influx import InfluxServer  # noqa: E402

REGIONS = ("us-east-1", "eu-central-1", "ap-northeast-1", "sa-east-1")
PROVIDERS = tuple(f"sp-{n:02d}" for n in range(10))
TARGETS = tuple(f"piece-{n}" for n in range(5))
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
DATABASE = "beamwatch"
STORES = ("sqlite", "influxdb")


def series_round(time_ms: int, salt: int) -> list[Measurement]:
    """Build one point per series; about 2% are http_error, TTFB 40-400 ms."""
    points = []
    index = 0
    for region in REGIONS:
        for provider in PROVIDERS:
            for target in TARGETS:
                index += 1
                failed = (index * 31 + salt) % 50 == 0
                points.append(
                    Measurement(
                        time_ms=time_ms + index,
                        target=target,
                        provider=provider,
                        region=region,
                        network="mainnet",
                        outcome=Outcome.HTTP_ERROR if failed else Outcome.OK,
                        ttfb_ms=None if failed else 40.0 + (index * 7 + salt) % 360,
                        status_code=502 if failed else 200,
                    )
                )
    return points


Store = SQLiteStore | InfluxStore


def open_store(kind: str, location: str) -> Store:
    """Open a SQLite file, or the `beamwatch` database of the influxd at a URL."""
    if kind == "influxdb":
        return InfluxStore(location, DATABASE, V1Writer(location, DATABASE))
    return SQLiteStore(Path(location))


async def seed(path: Path, now_ms: int) -> int:
    store = SQLiteStore(path)
    batch: list[Measurement] = []
    for minute in range(24 * 60, 0, -1):
        batch.extend(series_round(now_ms - minute * 60_000, minute))
        if len(batch) >= 20_000:
            await store.write(batch)
            batch.clear()
    await store.write(batch)
    count = await store.count()
    await store.close()
    return count


async def seed_influx(url: str, now_ms: int) -> None:
    """Post the same day of points as prebuilt line protocol, 5,000 lines a request."""
    encoder = ProbeEncoder()
    lines = [
        line
        for minute in range(24 * 60, 0, -1)
        for line in encoder.encode_batch(series_round(now_ms - minute * 60_000, minute))
    ]
    params = {"db": DATABASE, "precision": "ms"}
    async with aiohttp.ClientSession() as session:
        for start in range(0, len(lines), 5000):
            body = "\n".join(lines[start : start + 5000])
            async with session.post(f"{url}/write", params=params, data=body) as r:
                if r.status != 204:
                    text = await r.text()
                    raise RuntimeError(f"influxd /write failed: {r.status} {text}")


def wait_for_compaction(server: InfluxServer, pid: int, limit_s: float) -> None:
    """Wait until influxd has written its cache to TSM files and gone idle.

    With compact_after_s=1 influxd snapshots and compacts once writes pause
    for a second. It counts as done after at least 3 s, with a TSM file on
    disk, in the first second it uses under 20 ms of CPU. Gives up after
    `limit_s`.
    """
    started = time.perf_counter()
    before = process_cpu_s(pid)
    tsm_files = 0
    while time.perf_counter() - started < limit_s:
        time.sleep(1.0)
        now = process_cpu_s(pid)
        tsm_files = len(list((server.work / "data").rglob("*.tsm")))
        if time.perf_counter() - started >= 3 and now - before < 0.02 and tsm_files:
            break
        before = now
    print(
        f"waited {time.perf_counter() - started:.0f} s for influxd to compact;"
        f" {tsm_files} TSM files"
    )


def start_influxd(work: Path, compaction_wait_s: float) -> InfluxServer:
    """Start a fresh influxd on free loopback ports, seed and compact it."""
    server = InfluxServer(work / "influxd", compact_after_s=1)
    server.start()
    assert server.pid is not None
    try:
        server.create_database(DATABASE)
        started = time.perf_counter()
        asyncio.run(seed_influx(server.url, int(time.time() * 1000)))
        count = server.count(DATABASE)
        print(
            f"seeded {count} points in influxd in {time.perf_counter() - started:.1f} s"
        )
        wait_for_compaction(server, server.pid, compaction_wait_s)
    except BaseException:
        server.stop()
        raise
    return server


def process_cpu_s(pid: int) -> float:
    """Return the user + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time used since `mark()` by the named processes and by this one."""

    def __init__(self, pids: dict[str, int], own_name: str = "load generator") -> None:
        self._pids = pids
        self._own_name = own_name
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        used = {name: process_cpu_s(pid) for name, pid in self._pids.items()}
        used[self._own_name] = time.process_time()
        return used

    def mark(self) -> None:
        self._start = self._read()

    def spent(self, calls: int = 0) -> str:
        """Return each one's CPU seconds since `mark()`, or ms per call with `calls`."""
        now = self._read()
        if calls:
            return ", ".join(
                f"{k} {(now[k] - self._start[k]) * 1000 / calls:.1f} ms" for k in now
            )
        return ", ".join(f"{k} {now[k] - self._start[k]:.1f} s" for k in now)


async def time_query(
    name: str, query: Callable[[], Awaitable[object]], repetitions: int, cpu: CpuMeter
) -> None:
    """Print the first call of `query`, then the median of `repetitions` more."""
    cpu.mark()
    started = time.perf_counter()
    await query()
    first_ms = (time.perf_counter() - started) * 1000
    print(f"  {name:<26} first {first_ms:7.1f} ms; CPU {cpu.spent(calls=1)}")
    wall_ms: list[float] = []
    cpu.mark()
    for _ in range(repetitions):
        started = time.perf_counter()
        await query()
        wall_ms.append((time.perf_counter() - started) * 1000)
    print(
        f"  {'':<26} median {statistics.median(wall_ms):6.1f} ms,"
        f" max {max(wall_ms):6.1f} ms; CPU per call {cpu.spent(calls=repetitions)}"
    )


async def time_store_queries(
    location: str, args: argparse.Namespace, cpu: CpuMeter
) -> None:
    """Time each store method the dashboard endpoints call, alone, on a 1 h window."""
    print(f"store queries alone ({args.store}), {args.query_repetitions} repetitions:")
    store = open_store(args.store, location)
    no_filter = QueryFilter()

    def window() -> tuple[int, int]:
        until_ms = int(time.time() * 1000)
        return until_ms - HOUR_MS, until_ms

    queries: dict[str, Callable[[], Awaitable[object]]] = {
        "heatmap 1h p95": lambda: store.heatmap(*window(), Stat.P95),
        "pulse 1h (metrics)": lambda: store.pulse(
            *window(), pulse_bucket_ms(HOUR_MS), no_filter
        ),
        "summary 1h (metrics)": lambda: store.summary(*window(), no_filter),
        "latest_by_region (stream)": store.latest_by_region,
    }
    try:
        for name, query in queries.items():
            await time_query(name, query, args.query_repetitions, cpu)
    finally:
        await store.close()
