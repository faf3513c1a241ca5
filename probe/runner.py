"""The probe runner: probes every target on its interval and hands points to sinks.

Targets that share an interval form a group that runs in rounds. In a round
each target starts at its own offset, spread over the first half of the
interval with a little jitter so that many targets never fire at once, and
at most `concurrency` probes run at a time. A round for a group starts only
after the previous one finished, so one target is never probed twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import statistics
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from probe.http import ProbeClient
from probe.models import Measurement, Outcome, Target, start_measurement

log = logging.getLogger(__name__)

MeasurementSink = Callable[[list[Measurement]], Awaitable[None]]

# Loop lag above this is logged, since probes then start late and the phases
# stamped in loop callbacks (DNS, and all of them where the kernel stamps are
# missing) grow by the lag.
LOOP_LAG_WARN_MS = 5.0


@dataclass(slots=True)
class RoundSummary:
    interval_s: float
    number: int
    measurements: list[Measurement]
    elapsed_s: float

    def describe(self) -> str:
        outcomes = Counter(m.outcome.value for m in self.measurements)
        ttfbs = [m.ttfb_ms for m in self.measurements if m.ttfb_ms is not None and m.ok]
        median = f"{statistics.median(ttfbs):.1f} ms" if ttfbs else "n/a"
        outcome_text = ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items()))
        probes = (
            "1 probe"
            if len(self.measurements) == 1
            else f"{len(self.measurements)} probes"
        )
        return (
            f"round {self.number} (every {self.interval_s:g} s):"
            f" {probes}, {outcome_text};"
            f" median ok TTFB {median}; took {self.elapsed_s:.2f} s"
        )


def start_offset_s(target: Target, interval_s: float) -> float:
    """Return a stable offset for a target inside the first half of its interval."""
    fraction = zlib.crc32(f"{target.region}/{target.name}".encode()) / 2**32
    return fraction * interval_s * 0.5


class Runner:
    """Runs probe rounds until stopped; every finished round goes to `sink`."""

    def __init__(
        self,
        targets: Sequence[Target],
        sink: MeasurementSink,
        *,
        concurrency: int = 100,
        jitter_s: float = 0.05,
        on_round: Callable[[RoundSummary], None] | None = None,
        lag_period_s: float = 0.5,
        kernel_stamps: bool = False,
    ) -> None:
        if not targets:
            raise ValueError("the runner needs at least one target")
        self._targets = list(targets)
        self._kernel_stamps = kernel_stamps
        self._sink = sink
        self._semaphore = asyncio.Semaphore(concurrency)
        self._jitter_s = jitter_s
        self._on_round = on_round or (
            lambda summary: log.info("%s", summary.describe())
        )
        self._lag_period_s = lag_period_s
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, *, rounds: int | None = None) -> None:
        """Probe until `stop()` is called, or for `rounds` rounds per group."""
        groups: dict[float, list[Target]] = {}
        for target in self._targets:
            groups.setdefault(target.interval_s, []).append(target)
        async with ProbeClient(kernel_stamps=self._kernel_stamps) as client:
            lag_watch = asyncio.create_task(self._watch_loop_lag())
            workers = [
                asyncio.create_task(
                    self._run_group(client, interval_s, members, rounds)
                )
                for interval_s, members in sorted(groups.items())
            ]
            try:
                await asyncio.gather(*workers)
            finally:
                lag_watch.cancel()
                for worker in workers:
                    worker.cancel()

    async def _run_group(
        self,
        client: ProbeClient,
        interval_s: float,
        targets: list[Target],
        rounds: int | None,
    ) -> None:
        number = 0
        next_start = time.monotonic()
        while not self._stopping.is_set() and (rounds is None or number < rounds):
            number += 1
            started = time.monotonic()
            results = await asyncio.gather(
                *(self._probe_at(client, target, interval_s) for target in targets)
            )
            # Targets whose start offset had not come when stop() was called
            # are skipped, so a stop waits only for probes already running
            # (tests/cli/test_run_errors.py checks this with a 600 s interval).
            measurements = [m for m in results if m is not None]
            if not measurements:
                break
            summary = RoundSummary(
                interval_s, number, list(measurements), time.monotonic() - started
            )
            self._on_round(summary)
            try:
                await self._sink(list(measurements))
            except Exception:
                # A sink that raises must not stop probing; its own retries and
                # spool are what keep the points, so this is a bug to report.
                log.exception(
                    "sink failed for round %d; %d points dropped",
                    number,
                    len(measurements),
                )

            next_start += interval_s
            lateness = time.monotonic() - next_start
            if lateness > 0:
                log.warning(
                    "round %d of the %g s group ran %.1f s past its interval;"
                    " starting the next round now",
                    number,
                    interval_s,
                    lateness,
                )
                next_start = time.monotonic()
            if rounds is not None and number >= rounds:
                break
            await self._sleep_until(next_start)

    async def _probe_at(
        self, client: ProbeClient, target: Target, interval_s: float
    ) -> Measurement | None:
        """Probe `target` at its offset in the round; None if stopped before it."""
        delay = start_offset_s(target, interval_s) + random.uniform(0, self._jitter_s)
        await self._sleep_until(time.monotonic() + delay)
        if self._stopping.is_set():
            return None
        async with self._semaphore:
            if self._stopping.is_set():
                return None
            try:
                return await client.probe(target)
            except Exception as exc:
                # probe() turns every failure of the target into an outcome, so
                # reaching this is a bug; keep the other targets probing.
                log.exception(
                    "probe of target %s in region %s raised; recorded as %s",
                    target.name,
                    target.region,
                    Outcome.PROTOCOL_ERROR.value,
                )
                measurement = start_measurement(target, Outcome.PROTOCOL_ERROR)
                measurement.error = (
                    f"internal error in the probe: {type(exc).__name__}: {exc}"
                )
                return measurement

    async def _sleep_until(self, deadline: float) -> None:
        remaining_s = max(0.0, deadline - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=remaining_s)

    async def _watch_loop_lag(self) -> None:
        """Log when the event loop runs late, since lag inflates every timing."""
        period_s = self._lag_period_s
        while not self._stopping.is_set():
            before = time.monotonic()
            await asyncio.sleep(period_s)
            lag_ms = (time.monotonic() - before - period_s) * 1000.0
            if lag_ms > LOOP_LAG_WARN_MS:
                log.warning(
                    "event loop lag %.1f ms: probes of this moment started late"
                    " and their DNS times may be inflated by up to that much",
                    lag_ms,
                )
