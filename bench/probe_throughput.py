"""Probe throughput per CPU-second, beamwatch against blackbox_exporter, and
TTFB accuracy while beamwatch probes 10,000 targets a minute.

    /work/venv/bin/python bench/probe_throughput.py --probes 5000

Part 1 sends `--probes` probes of nginx's 1 KiB file on loopback through each
prober, `--concurrency` at a time, each on a fresh connection. beamwatch runs
ProbeClient in a child process; blackbox_exporter gets one /probe request per
probe. Each prober's own CPU time (user + system, from getrusage for the
child and /proc for the exporter) divides the probe count; RSS is the peak
resident size of that process.

Part 2 runs the real Runner in a child process with enough nginx targets for
10,000 probes a minute (the runner fires them in the first half of each
interval, so the peak rate is twice that). In the same event loop, beamwatch
probes an aiohttp origin that delays its headers by 300 ms, first at idle and
then under that load. curl starts on the same origin each time beamwatch
does. It prints the paired differences in TTFB, beamwatch minus curl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from probe_accuracy import curl_timings, run_blackbox, run_origin  # noqa: E402

from probe.http import ProbeClient  # noqa: E402
from probe.models import Measurement, Target  # noqa: E402
from probe.runner import Runner  # noqa: E402
from tests.support.servers import run_nginx  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOAD_INTERVAL_S = 12.0
LOAD_ROUNDS = 2
TARGETS_PER_MINUTE = 10_000
IDLE_PROBES = 20
LOAD_PROBES = 30


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def own_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def beamwatch_cpu_worker(url: str, probes: int, concurrency: int) -> None:
    target = Target(name="nginx", provider="bench", url=url)
    limit = asyncio.Semaphore(concurrency)

    async def one(client: ProbeClient) -> Measurement:
        async with limit:
            return await client.probe(target)

    async with ProbeClient() as client:
        await one(client)
        cpu_before, wall_before = own_cpu_s(), time.perf_counter()
        results = await asyncio.gather(*(one(client) for _ in range(probes)))
        cpu_s, wall_s = own_cpu_s() - cpu_before, time.perf_counter() - wall_before
    print(
        json.dumps(
            {
                "cpu_s": cpu_s,
                "wall_s": wall_s,
                "ok": sum(m.ok for m in results),
                "rss_mib": own_peak_rss_mib(),
            }
        )
    )


def load_targets(nginx_url: str) -> list[Target]:
    count = int(TARGETS_PER_MINUTE * LOAD_INTERVAL_S / 60)
    return [
        Target(name=f"n{index}", provider="nginx", url=nginx_url, interval_s=12.0)
        for index in range(count)
    ]


async def origin_probes(
    client: ProbeClient, origin_url: str, count: int, pause_s: float
) -> list[float | None]:
    """Probe the origin `count` times, announcing each probe on stdout first.

    The parent process starts curl on the same origin when it reads the
    announcement, so each beamwatch TTFB has a curl TTFB taken alongside.
    """
    target = Target(name="origin", provider="origin", url=origin_url)
    ttfbs: list[float | None] = []
    for _ in range(count):
        print(json.dumps({"event": "origin-probe"}), flush=True)
        measurement = await client.probe(target)
        ttfbs.append(measurement.ttfb_ms if measurement.ok else None)
        await asyncio.sleep(pause_s)
    return ttfbs


async def beamwatch_load_worker(nginx_url: str, origin_url: str) -> None:
    lag_warnings: list[str] = []

    class LagCounter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "event loop lag" in record.getMessage():
                lag_warnings.append(record.getMessage())

    logging.getLogger("probe.runner").addHandler(LagCounter())
    async with ProbeClient() as client:
        idle = await origin_probes(client, origin_url, IDLE_PROBES, 0.2)

        loaded: list[Measurement] = []

        async def sink(batch: list[Measurement]) -> None:
            loaded.extend(batch)

        runner = Runner(
            load_targets(nginx_url), sink, concurrency=500, on_round=lambda _s: None
        )
        cpu_before = own_cpu_s()
        load = asyncio.create_task(runner.run(rounds=LOAD_ROUNDS))
        await asyncio.sleep(0.5)
        under_load = await origin_probes(client, origin_url, LOAD_PROBES, 0.4)
        await load
        cpu_s = own_cpu_s() - cpu_before
    print(
        json.dumps(
            {
                "event": "done",
                "idle_ttfb_ms": idle,
                "load_ttfb_ms": under_load,
                "probes": len(loaded),
                "ok": sum(m.ok for m in loaded),
                "cpu_s": cpu_s,
                "rss_mib": own_peak_rss_mib(),
                "lag_warnings": lag_warnings,
            }
        ),
        flush=True,
    )


def run_worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", *args],
        stdout=subprocess.PIPE,
        text=True,
    )


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of /proc/PID/stat, utime and stime, counted from 1.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def drive_blackbox(
    base_url: str, url: str, probes: int, concurrency: int
) -> tuple[int, float]:
    query = urllib.parse.urlencode({"target": url, "module": "http_fresh"})
    limit = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> bool:
            async with limit, session.get(f"{base_url}/probe?{query}") as reply:
                return "\nprobe_success 1" in await reply.text()

        await one()
        started = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(probes)))
        return sum(results), time.perf_counter() - started


def blackbox_pid(base_url: str) -> int:
    port = base_url.rsplit(":", 1)[1]
    output = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True
    ).stdout
    return int(output.split("pid=")[1].split(",")[0])


def cpu_part(
    nginx_url: str, blackbox_url: str, probes: int, concurrency: int, loop_kind: str
) -> None:
    worker = run_worker("cpu", loop_kind, nginx_url, str(probes), str(concurrency))
    output, _ = worker.communicate()
    ours = json.loads(output)

    pid = blackbox_pid(blackbox_url)
    cpu_before = process_cpu_s(pid)
    ok, wall_s = asyncio.run(
        drive_blackbox(blackbox_url, nginx_url, probes, concurrency)
    )
    theirs = {
        "cpu_s": process_cpu_s(pid) - cpu_before,
        "wall_s": wall_s,
        "ok": ok,
        "rss_mib": process_peak_rss_mib(pid),
    }

    print(f"\nPart 1: {probes} probes of {nginx_url}, {concurrency} at a time")
    print(
        f"  {'prober':<12}{'ok':>6}{'CPU s':>8}{'probes/CPU-s':>14}"
        f"{'probes/s':>10}{'peak RSS':>11}"
    )
    rates = {}
    for name, row in (("beamwatch", ours), ("blackbox", theirs)):
        rates[name] = row["ok"] / row["cpu_s"]
        print(
            f"  {name:<12}{row['ok']:>6}{row['cpu_s']:>8.2f}{rates[name]:>14.0f}"
            f"{row['ok'] / row['wall_s']:>10.0f}{row['rss_mib']:>8.1f} MiB"
        )
    print(
        f"  beamwatch / blackbox probes per CPU-second: "
        f"{rates['beamwatch'] / rates['blackbox']:.2f}"
    )


def paired_differences(
    ours: list[float | None], curl: list[float | None]
) -> list[float]:
    return [
        mine - theirs
        for mine, theirs in zip(ours, curl, strict=True)
        if mine is not None and theirs is not None
    ]


def load_part(nginx_url: str, origin_url: str, loop_kind: str) -> None:
    worker = run_worker("load", loop_kind, nginx_url, origin_url)
    assert worker.stdout is not None
    curl: list[float | None] = []
    result: dict[str, Any] = {}
    for line in worker.stdout:
        event = json.loads(line)
        if event["event"] == "origin-probe":
            curl.append(curl_timings(origin_url)["ttfb_ms"])
        elif event["event"] == "done":
            result = event
    worker.wait()

    idle = paired_differences(result["idle_ttfb_ms"], curl[:IDLE_PROBES])
    loaded = paired_differences(result["load_ttfb_ms"], curl[IDLE_PROBES:])
    rate = result["probes"] / (LOAD_INTERVAL_S * LOAD_ROUNDS / 60)
    print(
        f"\nPart 2: Runner at {rate:,.0f} probes a minute on nginx"
        f" ({result['ok']}/{result['probes']} ok, {result['cpu_s']:.1f} CPU s,"
        f" peak RSS {result['rss_mib']:.1f} MiB,"
        f" {len(result['lag_warnings'])} loop lag warnings)"
    )
    print("  TTFB on the 300 ms origin, beamwatch minus curl started alongside (ms)")
    print(f"  {'':<12}{'n':>4}{'median d':>11}{'median |d|':>12}")
    for name, values in (("idle", idle), ("under load", loaded)):
        print(
            f"  {name:<12}{len(values):>4}{statistics.median(values):>+11.3f}"
            f"{statistics.median(abs(v) for v in values):>12.3f}"
        )
    ours_idle = statistics.median(v for v in result["idle_ttfb_ms"] if v)
    ours_load = statistics.median(v for v in result["load_ttfb_ms"] if v)
    print(f"  beamwatch median TTFB: idle {ours_idle:.2f}, under load {ours_load:.2f}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        mode, loop_kind, *rest = sys.argv[2:]
        loop_factory = None
        if loop_kind == "uvloop":
            import uvloop

            loop_factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            if mode == "cpu":
                work = beamwatch_cpu_worker(rest[0], int(rest[1]), int(rest[2]))
            else:
                work = beamwatch_load_worker(rest[0], rest[1])
            runner.run(work)
        return

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probes", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="event loop for beamwatch; uvloop bypasses the socket stamps",
    )
    parser.add_argument(
        "--part",
        choices=("both", "cpu", "load"),
        default="both",
        help="run part 1 (CPU), part 2 (load) or both",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="beamwatch-bench-") as work,
        run_nginx(Path(work) / "nginx") as nginx,
        run_origin() as origin,
        run_blackbox(Path(work) / "blackbox") as blackbox_url,
    ):
        nginx_url = f"{nginx.base_url}/small.bin"
        print(
            f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        if args.part in ("both", "cpu"):
            cpu_part(nginx_url, blackbox_url, args.probes, args.concurrency, args.loop)
        if args.part in ("both", "load"):
            load_part(nginx_url, f"{origin}/delay/300", args.loop)
        print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
