"""The runner: spread, jitter, bounded concurrency, no overlap, loop lag."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from probe.models import Measurement, Outcome, Target
from probe.runner import RoundSummary, Runner, start_offset_s


@dataclass
class InFlight:
    """Requests in progress at a counting origin, overall and per path."""

    now: int = 0
    peak: int = 0
    per_path: Counter[str] = field(default_factory=Counter)
    peak_per_path: int = 0


@pytest.fixture
async def counting_origin() -> AsyncIterator[tuple[TestServer, InFlight]]:
    """An origin whose /slow/{name}?ms=N responds after N ms and counts overlap."""
    in_flight = InFlight()

    async def slow(request: web.Request) -> web.Response:
        path = request.path
        in_flight.now += 1
        in_flight.per_path[path] += 1
        in_flight.peak = max(in_flight.peak, in_flight.now)
        in_flight.peak_per_path = max(in_flight.peak_per_path, in_flight.per_path[path])
        try:
            await asyncio.sleep(int(request.query.get("ms", "50")) / 1000)
        finally:
            in_flight.now -= 1
            in_flight.per_path[path] -= 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/slow/{name}", slow)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, in_flight
    await server.close()


def make_targets(
    server: TestServer, count: int, *, interval_s: float, delay_ms: int
) -> list[Target]:
    return [
        Target(
            name=f"t{index}",
            provider="local",
            url=str(server.make_url(f"/slow/t{index}?ms={delay_ms}")),
            interval_s=interval_s,
        )
        for index in range(count)
    ]


class Collected:
    def __init__(self) -> None:
        self.batches: list[list[Measurement]] = []

    async def __call__(self, batch: list[Measurement]) -> None:
        self.batches.append(batch)


def test_offsets_spread_over_half_interval() -> None:
    targets = [
        Target(name=f"t{index}", provider="p", url="http://127.0.0.1:1/")
        for index in range(200)
    ]
    offsets = [start_offset_s(target, 60.0) for target in targets]

    assert all(0 <= offset < 30.0 for offset in offsets)
    assert len({round(offset, 3) for offset in offsets}) > 190
    assert min(offsets) < 3.0
    assert max(offsets) > 27.0


def test_offset_is_stable_per_target() -> None:
    target = Target(name="same", provider="p", url="http://127.0.0.1:1/")

    assert start_offset_s(target, 60.0) == start_offset_s(target, 60.0)


def test_runner_rejects_empty_targets() -> None:
    async def sink(_batch: list[Measurement]) -> None:
        return None

    with pytest.raises(ValueError, match="at least one target"):
        Runner([], sink)


async def test_concurrency_bounds_probes_in_flight(
    counting_origin: tuple[TestServer, InFlight],
) -> None:
    server, in_flight = counting_origin
    targets = make_targets(server, 8, interval_s=0.02, delay_ms=50)
    sink = Collected()
    runner = Runner(targets, sink, concurrency=2, on_round=lambda _summary: None)

    await runner.run(rounds=1)

    assert in_flight.peak == 2
    assert len(sink.batches) == 1
    assert [m.outcome for m in sink.batches[0]] == [Outcome.OK] * 8


async def test_slow_round_never_overlaps_next(
    counting_origin: tuple[TestServer, InFlight],
) -> None:
    server, in_flight = counting_origin
    # Each probe takes 150 ms, three times the 50 ms interval.
    targets = make_targets(server, 3, interval_s=0.05, delay_ms=150)
    sink = Collected()
    rounds: list[RoundSummary] = []
    runner = Runner(targets, sink, concurrency=10, on_round=rounds.append)

    await runner.run(rounds=3)

    assert in_flight.peak_per_path == 1
    assert [summary.number for summary in rounds] == [1, 2, 3]
    assert len(sink.batches) == 3


async def test_failing_sink_keeps_probing(
    counting_origin: tuple[TestServer, InFlight], caplog: pytest.LogCaptureFixture
) -> None:
    server, _in_flight = counting_origin
    targets = make_targets(server, 1, interval_s=0.02, delay_ms=1)
    calls: list[int] = []

    async def broken_sink(batch: list[Measurement]) -> None:
        calls.append(len(batch))
        raise RuntimeError("database gone")

    runner = Runner(targets, broken_sink, on_round=lambda _summary: None)
    with caplog.at_level(logging.ERROR, logger="probe.runner"):
        await runner.run(rounds=2)

    assert calls == [1, 1]
    assert "sink failed for round 1; 1 points dropped" in caplog.text


async def test_blocked_loop_logs_lag(
    counting_origin: tuple[TestServer, InFlight], caplog: pytest.LogCaptureFixture
) -> None:
    server, _in_flight = counting_origin
    targets = make_targets(server, 1, interval_s=0.3, delay_ms=1)

    async def blocking_sink(_batch: list[Measurement]) -> None:
        # Holds the event loop, as a CPU-heavy sink or a sync call would.
        time.sleep(0.2)  # noqa: ASYNC251

    runner = Runner(
        targets, blocking_sink, on_round=lambda _summary: None, lag_period_s=0.05
    )
    with caplog.at_level(logging.WARNING, logger="probe.runner"):
        await runner.run(rounds=2)

    assert "event loop lag" in caplog.text


def test_round_summary_counts_one_probe() -> None:
    measurement = Measurement(
        time_ms=0,
        target="a",
        provider="p",
        region="r",
        network="local",
        outcome=Outcome.OK,
        ttfb_ms=12.0,
    )
    summary = RoundSummary(10.0, 3, [measurement], 0.5)

    assert summary.describe() == (
        "round 3 (every 10 s): 1 probe, ok=1; median ok TTFB 12.0 ms; took 0.50 s"
    )
