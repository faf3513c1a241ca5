"""Sinks that write measurements to InfluxDB as line protocol, losing none.

`BatchingSink` batches points, retries transient errors with tenacity
(exponential backoff with jitter, or the server's Retry-After), and after the
last attempt puts the batch in the `Spool`. Spooled batches are replayed oldest
first before any new batch is written, so the database receives points in order.
A replay may repeat points InfluxDB already stored (a timeout after a write
that succeeded); InfluxDB identifies a point by series and timestamp, so the
repeat overwrites it with the same values.

Another process can mark failed batches pending again (`beamwatch spool
retry`). The sink reads the spool for pending batches at most every
`spool_check_interval_s` while it believes the spool empty, so it replays them
within seconds, without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from probe.lineprotocol import ProbeEncoder
from probe.models import Measurement
from probe.spool import FAILED, Spool
from probe.writers import LineWriter, PermanentWriteError, TransientWriteError

log = logging.getLogger(__name__)


def _wait_for(
    base: wait_random_exponential, max_wait_s: float
) -> Callable[[RetryCallState], float]:
    """Wait for the server's Retry-After (capped), else exponentially with jitter."""

    def wait(state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, TransientWriteError) and error.retry_after_s is not None:
            return min(error.retry_after_s, max_wait_s)
        return float(base(state))

    return wait


class BatchingSink:
    """A `MeasurementSink` for the probe runner that writes batches in the background.

    Calling the sink encodes points and queues full batches. It waits only when
    `max_queued_batches` batches are already queued, so memory stays bounded
    while the database is slow. Call `start()` first and `close()` last: `close()`
    writes or spools everything still in memory. Points still in memory when
    the process is killed are lost; everything handed to the spool is not.
    """

    def __init__(
        self,
        writer: LineWriter,
        spool: Spool,
        *,
        batch_size: int = 5000,
        flush_interval_s: float = 1.0,
        retry_attempts: int = 5,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        max_queued_batches: int = 4,
        spool_check_interval_s: float = 5.0,
    ) -> None:
        self._writer = writer
        self.spool = spool
        self._encoder = ProbeEncoder()
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._retry_attempts = retry_attempts
        self._retry_wait = _wait_for(
            wait_random_exponential(multiplier=retry_initial_s, max=retry_max_s),
            retry_max_s,
        )
        self._buffer: list[str] = []
        self._queue: asyncio.Queue[list[str]] = asyncio.Queue(max_queued_batches)
        self._spool_has_pending = False
        self._spool_check_interval_s = spool_check_interval_s
        self._next_spool_check = 0.0
        self._task: asyncio.Task[None] | None = None
        self.written_points = 0
        self.spooled_points = 0
        self.rejected_batches = 0

    async def start(self) -> None:
        self._spool_has_pending = await asyncio.to_thread(self.spool.has_pending)
        self._next_spool_check = time.monotonic() + self._spool_check_interval_s
        self._task = asyncio.create_task(self._deliver_forever(), name="influx-sink")

    async def __call__(self, measurements: list[Measurement]) -> None:
        self._buffer.extend(self._encoder.encode_batch(measurements))
        while len(self._buffer) >= self._batch_size:
            batch = self._buffer[: self._batch_size]
            del self._buffer[: self._batch_size]
            await self._queue.put(batch)

    async def flush(self) -> None:
        """Queue the partial batch; wait until every batch is written or spooled."""
        if self._buffer:
            batch, self._buffer = self._buffer, []
            await self._queue.put(batch)
        await self._queue.join()

    async def close(self) -> None:
        """Flush, replay the spool if the database is back, then close the writer.

        The spool stays open; its owner closes it.
        """
        await self.flush()
        if self._task is not None:
            # An empty batch signals the loop to stop after the work queued before it.
            await self._queue.put([])
            await self._task
            self._task = None
        await self.replay()
        await self._writer.close()

    async def _deliver_forever(self) -> None:
        while True:
            from_queue = True
            try:
                batch = await asyncio.wait_for(
                    self._queue.get(), timeout=self._flush_interval_s
                )
            except TimeoutError:
                # Quiet moment: send the partial batch, or retry the spool.
                if not self._buffer:
                    await self._check_spool()
                    if self._spool_has_pending:
                        await self.replay()
                    continue
                batch, self._buffer = self._buffer, []
                from_queue = False
            if not batch:
                self._queue.task_done()
                return
            try:
                await self._deliver(batch)
            except Exception:
                # A bug here must not stop the sink; spool so the points survive.
                log.exception("sink failed on a batch of %d points", len(batch))
                await self._spool_batch(batch, "sink error; see the log", FAILED)
            finally:
                if from_queue:
                    self._queue.task_done()

    async def _check_spool(self) -> None:
        """Query the spool for pending batches, at most every `spool_check_interval_s`.

        The flag already covers batches this sink spooled, so the query runs
        only while the flag is clear, and finds batches that another process
        marked pending (`beamwatch spool retry`). `_deliver` calls this too,
        because a busy sink has no quiet moments.
        """
        now = time.monotonic()
        if self._spool_has_pending or now < self._next_spool_check:
            return
        self._next_spool_check = now + self._spool_check_interval_s
        if await asyncio.to_thread(self.spool.has_pending):
            log.info(
                "found pending batches in the spool %s; replaying", self.spool.path
            )
            self._spool_has_pending = True

    async def _deliver(self, batch: list[str]) -> None:
        await self._check_spool()
        if self._spool_has_pending:
            await self.replay()
        if self._spool_has_pending:
            # Older points wait in the spool; this batch queues behind them.
            await self._spool_batch(batch, "queued behind spooled batches")
            return
        body = "\n".join(batch)
        try:
            await self._write_with_retries(body)
        except TransientWriteError as exc:
            log.warning(
                "spooling %d points after %d attempts: %s",
                len(batch),
                self._retry_attempts,
                exc,
            )
            await self._spool_batch(batch, str(exc))
        except PermanentWriteError as exc:
            self.rejected_batches += 1
            # A wrong database name rejects every batch: log the first and
            # then every hundredth, with the count, instead of each one.
            if self.rejected_batches % 100 == 1:
                log.error(
                    "database rejected a batch of %d points (rejected batches so"
                    " far: %d), kept as failed in the spool %s: %s%s",
                    len(batch),
                    self.rejected_batches,
                    self.spool.path,
                    exc,
                    rejection_hint(exc),
                )
            await self._spool_batch(batch, str(exc), FAILED)
        else:
            self.written_points += len(batch)

    async def _write_with_retries(self, body: str) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry_attempts),
            wait=self._retry_wait,
            retry=retry_if_exception_type(TransientWriteError),
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._writer.write(body)

    async def _spool_batch(
        self, batch: list[str], reason: str, status: str = "pending"
    ) -> None:
        await asyncio.to_thread(
            self.spool.put, "\n".join(batch), len(batch), status=status, error=reason
        )
        self.spooled_points += len(batch)
        if status != FAILED:
            if not self._spool_has_pending:
                log.warning("spooling points until the database responds again")
            self._spool_has_pending = True

    async def replay(self) -> int:
        """Write spooled batches oldest first until one fails; return points written.

        One attempt per batch: a transient failure leaves the batch for the
        next replay, a permanent one marks it failed and moves on.
        """
        written = 0
        while True:
            spooled = await asyncio.to_thread(self.spool.oldest_pending)
            if spooled is None:
                if self._spool_has_pending and written:
                    log.info("spool drained; %d points replayed in this pass", written)
                elif self._spool_has_pending:
                    log.info(
                        "no pending batches left in the spool; the rest failed for"
                        " good (see `beamwatch spool status`)"
                    )
                self._spool_has_pending = False
                return written
            try:
                await self._writer.write(spooled.lines)
            except TransientWriteError as exc:
                await asyncio.to_thread(self.spool.record_attempt, spooled.id, str(exc))
                log.debug("replay of spooled batch %d failed: %s", spooled.id, exc)
                return written
            except PermanentWriteError as exc:
                log.error(
                    "database rejected spooled batch %d (%d points): %s%s",
                    spooled.id,
                    spooled.points,
                    exc,
                    rejection_hint(exc),
                )
                await asyncio.to_thread(self.spool.mark_failed, spooled.id, str(exc))
                continue
            await asyncio.to_thread(self.spool.delete, spooled.id)
            written += spooled.points
            self.written_points += spooled.points
            log.info(
                "replayed spooled batch %d (%d points)", spooled.id, spooled.points
            )


def rejection_hint(exc: PermanentWriteError) -> str:
    """Return what an operator does about a rejected write, after '; '."""
    if exc.status == 404:
        fix = "create the database with `beamwatch influx setup`"
    elif exc.status in (401, 403):
        fix = "check [store] token, or username and password"
    else:
        return ""
    return f"; {fix}, then run `beamwatch spool retry`"


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    wait_s = state.next_action.sleep if state.next_action is not None else 0.0
    log.warning(
        "write attempt %d failed, retrying in %.1f s: %s",
        state.attempt_number,
        wait_s,
        error,
    )
