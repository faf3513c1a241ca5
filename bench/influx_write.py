"""Write rate of the InfluxDB sink against posting prebuilt line protocol.

    /work/venv/bin/python bench/influx_write.py --points 1000000

Starts its own influxd 1.x on loopback with a temporary data dir, then alternates two
ways of writing the same points into a fresh database each time:

- direct: the lines are encoded before the clock starts and posted to
  /write?precision=ms in batches, one request at a time. This is what the
  server takes when the client costs nothing.
- sink: `BatchingSink` with `V1Writer` gets the `Measurement` objects in
  rounds of --round-size, as the probe runner hands them over, and encodes,
  batches and posts them itself.

Prints each run, the medians, and sink/direct as a ratio (target >= 0.5).
It also times the encoder against `influxdb_client.Point` on the same points.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from influxdb_client import Point, WritePrecision  # noqa: E402

from probe.lineprotocol import ProbeEncoder  # noqa: E402
from probe.models import Measurement, Outcome  # noqa: E402
from probe.sinks import BatchingSink  # noqa: E402
from probe.spool import Spool  # noqa: E402
from probe.writers import V1Writer  # noqa: E402
from tests.support.influx import InfluxServer  # noqa: E402

REGIONS = ("us-east-1", "eu-central-1", "ap-northeast-1", "sa-east-1")
START_MS = 1_767_225_600_000


def make_points(count: int) -> list[Measurement]:
    """Return `count` points on 200 series, each series one point per second."""
    points = []
    for i in range(count):
        series = i % 200
        points.append(
            Measurement(
                time_ms=START_MS + (i // 200) * 1000,
                target=f"piece-{series % 5}",
                provider=f"provider-{series // 5 % 10}",
                region=REGIONS[series // 50],
                network="mainnet",
                outcome=Outcome.OK,
                dns_ms=0.4 + (i % 7) / 10,
                connect_ms=1.25,
                tls_ms=3.5 + (i % 3),
                ttfb_ms=40.0 + (i % 997) / 10,
                download_ms=2.0,
                total_ms=50.0 + (i % 997) / 10,
                status_code=200,
                bytes=65536,
                http_version="1.1",
                remote_ip="127.0.0.1",
            )
        )
    return points


async def write_direct(url: str, database: str, bodies: list[bytes]) -> None:
    params = {"db": database, "precision": "ms"}
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            async with session.post(f"{url}/write", params=params, data=body) as reply:
                if reply.status != 204:
                    raise RuntimeError(f"direct write failed: {await reply.text()}")


async def write_sink(
    url: str, database: str, points: list[Measurement], round_size: int, batch: int
) -> int:
    with tempfile.TemporaryDirectory() as work:
        spool = Spool(Path(work) / "spool.db")
        sink = BatchingSink(V1Writer(url, database), spool, batch_size=batch)
        await sink.start()
        for start in range(0, len(points), round_size):
            await sink(points[start : start + round_size])
        await sink.flush()
        await sink.close()
        spooled = sink.spooled_points
        spool.close()
    return spooled


def time_encoders(points: list[Measurement]) -> tuple[float, float]:
    """Return lines per second of ProbeEncoder and of influxdb_client.Point."""
    encoder = ProbeEncoder()
    started = time.perf_counter()
    encoder.encode_batch(points)
    fast = len(points) / (time.perf_counter() - started)

    started = time.perf_counter()
    for m in points:
        point = Point("probe").time(m.time_ms, WritePrecision.MS)
        for tag in ("region", "provider", "target", "network"):
            point.tag(tag, getattr(m, tag))
        point.tag("outcome", m.outcome.value)
        for name in ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "download_ms"):
            point.field(name, getattr(m, name))
        point.field("total_ms", m.total_ms)
        point.field("status_code", m.status_code)
        point.field("bytes", m.bytes)
        point.field("redirects", m.redirects)
        point.field("ok", m.ok)
        point.field("connection_reused", m.connection_reused)
        point.field("http_version", m.http_version)
        point.field("remote_ip", m.remote_ip)
        point.to_line_protocol()
    slow = len(points) / (time.perf_counter() - started)
    return fast, slow


async def main(args: argparse.Namespace) -> None:
    print(f"building {args.points:,} points ...", flush=True)
    points = make_points(args.points)
    lines = ProbeEncoder().encode_batch(points)
    bodies = [
        "\n".join(lines[i : i + args.batch_size]).encode()
        for i in range(0, len(lines), args.batch_size)
    ]
    mean_bytes = sum(len(b) for b in bodies) / len(lines)
    print(f"{len(bodies)} batches of {args.batch_size}, {mean_bytes:.0f} bytes a line")

    fast, slow = time_encoders(points[:100_000])
    print(f"encoder: ProbeEncoder {fast:,.0f} lines/s, Point {slow:,.0f} lines/s")

    rates: dict[str, list[float]] = {"direct": [], "sink": []}
    with tempfile.TemporaryDirectory() as work:
        server = InfluxServer(Path(work) / "influxd")
        server.start()
        try:
            for run in range(args.repetitions):
                order = ("direct", "sink") if run % 2 == 0 else ("sink", "direct")
                for mode in order:
                    database = f"bench_{mode}_{run}"
                    server.create_database(database)
                    started = time.perf_counter()
                    if mode == "direct":
                        await write_direct(server.url, database, bodies)
                        spooled = 0
                    else:
                        spooled = await write_sink(
                            server.url,
                            database,
                            points,
                            args.round_size,
                            args.batch_size,
                        )
                    elapsed = time.perf_counter() - started
                    stored = server.count(database)
                    rate = len(points) / elapsed
                    rates[mode].append(rate)
                    print(
                        f"run {run} {mode:>6}: {elapsed:6.2f} s, {rate:9,.0f} points/s,"
                        f" stored {stored:,}, spooled {spooled}",
                        flush=True,
                    )
                    server.query(f'DROP DATABASE "{database}"')
        finally:
            server.stop()

    direct = statistics.median(rates["direct"])
    sink = statistics.median(rates["sink"])
    print(f"median direct {direct:,.0f} points/s, sink {sink:,.0f} points/s")
    print(f"sink/direct ratio {sink / direct:.2f} (target >= 0.50)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--round-size", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
