"""The probe sink for the embedded store: write in the background, keep what fails.

Another process may hold the SQLite file's write lock for a while (someone
running the sqlite3 shell inside a transaction), and a write then fails after
the busy timeout. `RetainingSink` keeps the points of a failed write in memory
and writes them with the next round's, and it writes in a background task, so
a slow or locked store never delays the next probe round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from collector.store.base import StoreUnavailable
from probe.models import Measurement

log = logging.getLogger(__name__)


class RetainingSink:
    """A sink that hands rounds to `write` in order, keeping up to `max_unwritten`."""

    def __init__(
        self,
        write: Callable[[list[Measurement]], Awaitable[None]],
        *,
        max_unwritten: int = 100_000,
    ) -> None:
        self._write = write
        self.max_unwritten = max_unwritten
        self._unwritten: list[Measurement] = []
        self._flushing: asyncio.Task[None] | None = None
        self._failing = False
        self.dropped_points = 0

    @property
    def unwritten_points(self) -> int:
        return len(self._unwritten)

    async def __call__(self, measurements: list[Measurement]) -> None:
        self._unwritten.extend(measurements)
        self._trim()
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="store-writer")

    async def drain(self) -> None:
        """Wait until the write in progress has finished or failed."""
        if self._flushing is not None:
            await self._flushing

    async def close(self) -> None:
        """Wait for the write in progress, then try once more with what is left."""
        await self.drain()
        if self._unwritten:
            await self._flush()
        if self._unwritten:
            log.error(
                "stopping with %d points the store did not take; they are lost",
                len(self._unwritten),
            )

    async def _flush(self) -> None:
        while self._unwritten:
            batch, self._unwritten = self._unwritten, []
            try:
                await self._write(batch)
            except StoreUnavailable as exc:
                # Older points go first again, ahead of any that came meanwhile.
                self._unwritten = batch + self._unwritten
                self._trim()
                log.warning(
                    "store write failed, %d points held to write with the next"
                    " round: %s",
                    len(self._unwritten),
                    exc,
                )
                self._failing = True
                return
            if self._failing:
                log.info(
                    "store write succeeded again; the unwritten points are written"
                )
                self._failing = False

    def _trim(self) -> None:
        excess = len(self._unwritten) - self.max_unwritten
        if excess > 0:
            self.dropped_points += excess
            log.error(
                "dropping the %d oldest unwritten points: more than %d are held"
                " while the store fails",
                excess,
                self.max_unwritten,
            )
            del self._unwritten[:excess]
