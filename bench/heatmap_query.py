"""Heatmap query latency on the SQLite store and on InfluxDB, same data, same run.

    /work/venv/bin/python bench/heatmap_query.py --repetitions 20

Loads 24 hours of 200 series (4 regions x 10 providers x 5 targets) at one
point a minute, 288,000 points with about 2% failures, into a SQLiteStore
and into a fresh influxd 1.x on loopback, and lets influxd compact them.
Then it plays a dashboard: each repetition writes the next minute of points
to both stores, moves the window on by that minute and times `heatmap()`
with the p95 statistic for the last hour and for the whole day.

Three stores run the query: SQLite; InfluxDB as the collector uses it, where a
heatmap of up to 6 h is computed from raw points held in memory and checked
against InfluxDB's counts (collector.store.recent); and InfluxDB asked for
every percentile ("influxdb-direct", recent_points_hours = 0). The first
InfluxDB query, which reads the whole hour of raw points, is timed apart as
"cold". It prints p50 and p95 latency beside the targets (1 h under 50 ms,
24 h under 1 s) and checks after every query that all stores returned equal
cells. "CPU ms" is the CPU time one query costs: the influxd process, or this
process for SQLite. On a busy machine it estimates the latency with a free
core. All stores compute exact nearest-rank percentiles from raw points.
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

from collector.store.base import HeatmapCell, Stat  # noqa: E402
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


def minute_of_points(minute: int, rng: random.Random) -> list[Measurement]:
    """Return one point per series for minute `minute` after the day's start."""
    points = []
    for series in range(200):
        failed = rng.random() < 0.02
        points.append(
            Measurement(
                time_ms=END_MS - DAY_MS + minute * MINUTE_MS + series * 10,
                target=f"piece-{series % 5}",
                provider=f"provider-{series // 5 % 10}",
                region=REGIONS[series // 50],
                network="mainnet",
                outcome=Outcome.TIMEOUT if failed else Outcome.OK,
                ttfb_ms=None if failed else round(rng.lognormvariate(4, 0.5), 3),
                status_code=None if failed else 200,
                bytes=0 if failed else 65536,
            )
        )
    return points


def day_of_points(rng: random.Random) -> list[Measurement]:
    return [p for minute in range(24 * 60) for p in minute_of_points(minute, rng)]


async def load_influx(url: str, points: list[Measurement]) -> None:
    lines = ProbeEncoder().encode_batch(points)
    async with aiohttp.ClientSession() as session:
        for start in range(0, len(lines), 5000):
            body = "\n".join(lines[start : start + 5000])
            params = {"db": "beamwatch", "precision": "ms"}
            async with session.post(f"{url}/write", params=params, data=body) as r:
                if r.status != 204:
                    raise RuntimeError(await r.text())


Store = SQLiteStore | InfluxStore


async def time_heatmap(
    store: Store, since_ms: int, until_ms: int
) -> tuple[float, list[HeatmapCell]]:
    started = time.perf_counter()
    cells = await store.heatmap(since_ms, until_ms, Stat.P95)
    return (time.perf_counter() - started) * 1000.0, cells


def process_cpu_s(pid: int) -> float:
    """Return the user plus system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def print_row(name: str, label: str, values: list[float], cpu_ms: float) -> None:
    print(
        f"{name:<16} {label:>6} {statistics.median(values):8.1f}"
        f" {p95(values):8.1f} {cpu_ms:8.1f} {TARGETS_MS.get(label, 0):>8.0f}"
    )


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(1)
    points = day_of_points(rng)
    print(f"{len(points):,} points on 200 series over 24 h")
    with tempfile.TemporaryDirectory() as work:
        server = InfluxServer(Path(work) / "influxd", compact_after_s=1)
        server.start()
        assert server.pid is not None
        influxd_pid = server.pid
        sqlite = SQLiteStore(Path(work) / "bench.db")
        writer = V1Writer(server.url, "beamwatch")
        influx = InfluxStore(server.url, "beamwatch", writer)
        direct = InfluxStore(
            server.url,
            "beamwatch",
            V1Writer(server.url, "beamwatch"),
            recent_points_hours=0,
        )
        stores: dict[str, Store] = {
            "sqlite": sqlite,
            "influxdb": influx,
            "influxdb-direct": direct,
        }
        try:
            server.create_database("beamwatch")
            started = time.perf_counter()
            await sqlite.write(points)
            print(f"SQLite load {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            await load_influx(server.url, points)
            print(f"InfluxDB load {time.perf_counter() - started:.1f} s")
            # A day of data in a running server sits mostly in TSM files, so
            # let influxd compact; the minutes written below stay in its cache.
            await asyncio.sleep(args.compaction_wait_s)

            def cpu_s(name: str) -> float:
                if name == "sqlite":
                    return time.process_time()
                return process_cpu_s(influxd_pid)

            header = ("store", "window", "p50 ms", "p95 ms", "CPU ms", "target")
            print("\n{:<16} {:>6} {:>8} {:>8} {:>8} {:>8}".format(*header))
            end_ms = END_MS
            minute = 24 * 60
            for label, window_ms in (("1h", HOUR_MS), ("24h", DAY_MS)):
                names = list(stores) if window_ms == HOUR_MS else ["sqlite", "influxdb"]
                latencies: dict[str, list[float]] = {name: [] for name in names}
                cpu_total = dict.fromkeys(names, 0.0)
                unequal = 0
                for repetition in range(args.repetitions + 1):
                    fresh = minute_of_points(minute, rng)
                    minute += 1
                    end_ms += MINUTE_MS
                    await sqlite.write(fresh)
                    await influx.write(fresh)
                    answers = []
                    for name in names:
                        before = cpu_s(name)
                        elapsed, cells = await time_heatmap(
                            stores[name], end_ms - window_ms, end_ms
                        )
                        spent = cpu_s(name) - before
                        answers.append(cells)
                        if repetition == 0 and name == "influxdb" and label == "1h":
                            print_row("influxdb cold", label, [elapsed], spent * 1000)
                        elif repetition > 0:
                            latencies[name].append(elapsed)
                            cpu_total[name] += spent
                    unequal += any(cells != answers[0] for cells in answers)
                for name, values in latencies.items():
                    print_row(name, label, values, cpu_total[name] / len(values) * 1000)
                print(f"{label}: answers that differed between stores: {unequal}")
            recent = influx.recent_points
            print(
                f"recent points: {recent.full_loads} full loads,"
                f" {recent.reloaded_cells} cells read again"
            )
            print(f"load average during the run: {os.getloadavg()[0]:.1f}")
        finally:
            await sqlite.close()
            await influx.close()
            await direct.close()
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
