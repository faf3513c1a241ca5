"""Heatmap query latency on the SQLite store and on InfluxDB, same data, same run.

    /work/venv/bin/python bench/heatmap_query.py --repetitions 30

Loads 24 hours of 200 series (4 regions x 10 providers x 5 targets) at one
point a minute, 288,000 points with about 2% failures, into a SQLiteStore
and into a fresh influxd 1.x on loopback. Then it times `heatmap()` with the
p95 statistic for the last hour and for the whole day, alternating stores.
It prints p50 and p95 latency per store and window beside the targets: 1 h
under 50 ms, 24 h under 1 s. "CPU ms" is the CPU time one query costs (the
influxd process, or this process for SQLite), averaged over the repetitions:
on a busy machine it estimates the latency with a free core. Both stores
compute exact nearest-rank percentiles from raw points, and the script
checks that their cells are equal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from collector.store.base import Stat  # noqa: E402
from collector.store.influx import InfluxStore  # noqa: E402
from collector.store.sqlite import SQLiteStore  # noqa: E402
from probe.lineprotocol import ProbeEncoder  # noqa: E402
from probe.models import Measurement, Outcome  # noqa: E402
from probe.writers import V1Writer  # noqa: E402
from tests.support.influx import InfluxServer  # noqa: E402

REGIONS = ("us-east-1", "eu-central-1", "ap-northeast-1", "sa-east-1")
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
END_MS = 1_767_225_600_000 + DAY_MS
TARGETS_MS = {"1h": 50.0, "24h": 1000.0}


def day_of_points(seed: int = 1) -> list[Measurement]:
    rng = random.Random(seed)
    points = []
    for series in range(200):
        region = REGIONS[series // 50]
        provider = f"provider-{series // 5 % 10}"
        target = f"piece-{series % 5}"
        for minute in range(24 * 60):
            failed = rng.random() < 0.02
            points.append(
                Measurement(
                    time_ms=END_MS - DAY_MS + minute * MINUTE_MS + series * 10,
                    target=target,
                    provider=provider,
                    region=region,
                    network="mainnet",
                    outcome=Outcome.TIMEOUT if failed else Outcome.OK,
                    ttfb_ms=None if failed else round(rng.lognormvariate(4, 0.5), 3),
                    status_code=None if failed else 200,
                    bytes=0 if failed else 65536,
                )
            )
    return points


async def load_influx(url: str, points: list[Measurement]) -> None:
    lines = ProbeEncoder().encode_batch(points)
    async with aiohttp.ClientSession() as session:
        for start in range(0, len(lines), 5000):
            body = "\n".join(lines[start : start + 5000])
            params = {"db": "beamwatch", "precision": "ms"}
            async with session.post(f"{url}/write", params=params, data=body) as r:
                if r.status != 204:
                    raise RuntimeError(await r.text())


async def time_heatmap(store: SQLiteStore | InfluxStore, window_ms: int) -> float:
    started = time.perf_counter()
    await store.heatmap(END_MS - window_ms, END_MS, Stat.P95)
    return (time.perf_counter() - started) * 1000.0


def process_cpu_s(pid: int) -> float:
    """Return the user plus system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


async def main(args: argparse.Namespace) -> None:
    points = day_of_points()
    print(f"{len(points):,} points on 200 series over 24 h")
    with tempfile.TemporaryDirectory() as work:
        server = InfluxServer(Path(work) / "influxd", compact_after_s=1)
        server.start()
        sqlite = SQLiteStore(Path(work) / "bench.db")
        influx = InfluxStore(server.url, "beamwatch", V1Writer(server.url, "beamwatch"))
        try:
            server.create_database("beamwatch")
            started = time.perf_counter()
            await sqlite.write(points)
            print(f"SQLite load {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            await load_influx(server.url, points)
            print(f"InfluxDB load {time.perf_counter() - started:.1f} s")
            # A day of data in a running server sits in compacted TSM files,
            # not in the write cache, so give influxd time to compact.
            await asyncio.sleep(args.compaction_wait_s)

            for window_ms in (HOUR_MS, DAY_MS):
                since_ms = END_MS - window_ms
                same = await sqlite.heatmap(since_ms, END_MS, Stat.P95) == (
                    await influx.heatmap(since_ms, END_MS, Stat.P95)
                )
                print(f"{window_ms // HOUR_MS} h window: cells equal on both: {same}")

            assert server.pid is not None
            cpu_clocks = {
                "sqlite": lambda: time.process_time(),
                "influxdb": lambda: process_cpu_s(server.pid or 0),
            }
            stores = {"sqlite": sqlite, "influxdb": influx}
            header = ("store", "window", "p50 ms", "p95 ms", "CPU ms", "target")
            print("\n{:<9} {:>6} {:>8} {:>8} {:>8} {:>8}".format(*header))
            for label, window_ms in (("1h", HOUR_MS), ("24h", DAY_MS)):
                latencies: dict[str, list[float]] = {name: [] for name in stores}
                cpu_s = dict.fromkeys(stores, 0.0)
                for _ in range(args.repetitions):
                    for name, store in stores.items():
                        before = cpu_clocks[name]()
                        latencies[name].append(await time_heatmap(store, window_ms))
                        cpu_s[name] += cpu_clocks[name]() - before
                for name, values in latencies.items():
                    cpu_ms = cpu_s[name] / args.repetitions * 1000
                    print(
                        f"{name:<9} {label:>6} {statistics.median(values):8.1f}"
                        f" {p95(values):8.1f} {cpu_ms:8.1f} {TARGETS_MS[label]:>8.0f}"
                    )
            print(f"load average during the run: {os.getloadavg()[0]:.1f}")
        finally:
            await sqlite.close()
            await influx.close()
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=30)
    parser.add_argument(
        "--compaction-wait-s",
        type=float,
        default=15.0,
        help="Seconds to let influxd compact the loaded points before timing.",
    )
    asyncio.run(main(parser.parse_args()))
