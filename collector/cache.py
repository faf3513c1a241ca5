"""A short-lived, single-flight cache of API responses, refreshed in the background.

However many requests want the same key at once, one loader call (one set
of store queries) runs, and every waiter gets its result. A key is loaded at
most once per TTL, plus once per `refresh()` that names its kind.

- Fresh (younger than the TTL): returned at once.
- Stale (older than the TTL, younger than `max_stale_factor` TTLs): returned
  at once while one background load refreshes it, so no request waits for
  the store once a key is warm.
- Older than that, or never loaded: the request waits for the load.

A load that raises is not cached. Its waiters get the error (a store outage
becomes 503), and a failed background refresh keeps the stale value until
it is too old. `refresh()` reloads the entries of some kinds (the first
element of a key) at once. The live stream calls it when new points or
alerts arrive, before it tells the dashboards to fetch again.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Loader = Callable[[], Awaitable[Any]]

# /api/health lists the load counts of only this many keys, the most loaded
# ones, so its size does not grow with the number of distinct queries sent.
REPORTED_KEYS = 20


@dataclass(slots=True)
class _Entry:
    load: Loader
    ttl_s: float
    # The last good value and when it was loaded; None before the first load.
    value: Any = None
    loaded_at: float | None = None
    used_at: float = 0.0
    # Loads started for this key. The count goes when the entry is dropped, so
    # the counters are bounded by `max_entries` as the entries are.
    loads: int = 0
    # The load in flight, shared by everyone who waits for it.
    pending: asyncio.Future[Any] | None = None


@dataclass(slots=True)
class CacheStats:
    """Counters of the whole cache, kept for as long as the process runs."""

    hits: int = 0
    stale_hits: int = 0
    loads: int = 0
    errors: int = 0


class TTLCache:
    """Map a key to the result of one loader call, reused for `ttl_s` seconds."""

    def __init__(self, *, max_stale_factor: float = 5.0, max_entries: int = 1024):
        self._entries: dict[Hashable, _Entry] = {}
        self._max_stale_factor = max_stale_factor
        self._max_entries = max_entries
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = CacheStats()

    def report(self) -> dict[str, Any]:
        """Return the counters that /api/health shows and the load benchmark reads.

        `loads_by_key` maps the label of each of the REPORTED_KEYS most loaded
        keys still cached to its loads. `loads` counts every load since start.
        """
        busiest = heapq.nlargest(
            REPORTED_KEYS, self._entries.items(), key=lambda item: item[1].loads
        )
        loads_by_key = {
            _key_label(key): entry.loads for key, entry in busiest if entry.loads
        }
        return {
            "hits": self.stats.hits,
            "stale_hits": self.stats.stale_hits,
            "loads": self.stats.loads,
            "errors": self.stats.errors,
            "entries": len(self._entries),
            "loads_by_key": dict(sorted(loads_by_key.items())),
        }

    def loads_of(self, key: Hashable) -> int:
        """Return the loads started for `key` while it has been cached."""
        entry = self._entries.get(key)
        return 0 if entry is None else entry.loads

    async def get(self, key: Hashable, ttl_s: float, load: Loader) -> Any:
        """Return the value for `key`, sharing one load among concurrent requests."""
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self._max_entries:
                self._evict()
            entry = self._entries[key] = _Entry(load, ttl_s)
        entry.load = load
        now = time.monotonic()
        entry.used_at = now

        if entry.loaded_at is not None:
            age_s = now - entry.loaded_at
            if age_s < ttl_s:
                self.stats.hits += 1
                return entry.value
            if age_s < ttl_s * self._max_stale_factor:
                self.stats.stale_hits += 1
                self._start_load(key, entry)
                return entry.value

        if entry.pending is not None:
            self.stats.hits += 1
        # shield: a waiter that is cancelled must not cancel the shared load.
        return await asyncio.shield(self._start_load(key, entry))

    async def refresh(self, kinds: Collection[str]) -> None:
        """Reload the recently requested entries of `kinds`, and wait.

        An entry not requested within its stale limit is dropped instead,
        so keys that dashboards stopped using cost no more store queries.
        """
        now = time.monotonic()
        loads = []
        for key, entry in list(self._entries.items()):
            if _kind(key) not in kinds:
                continue
            if now - entry.used_at > entry.ttl_s * self._max_stale_factor:
                del self._entries[key]
                continue
            loads.append(self._start_load(key, entry))
        await asyncio.gather(*loads, return_exceptions=True)

    def _start_load(self, key: Hashable, entry: _Entry) -> asyncio.Future[Any]:
        if entry.pending is not None:
            return entry.pending
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry.pending = future
        self.stats.loads += 1
        entry.loads += 1
        task = asyncio.create_task(self._fill(key, entry, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return future

    async def _fill(
        self, key: Hashable, entry: _Entry, future: asyncio.Future[Any]
    ) -> None:
        try:
            value = await entry.load()
        except asyncio.CancelledError:
            entry.pending = None
            future.cancel()
            raise
        except Exception as exc:
            self.stats.errors += 1
            entry.pending = None
            log.warning("cache load failed for %s: %s", _key_label(key), exc)
            future.set_exception(exc)
            # A background refresh may have no waiter, so mark the exception retrieved.
            future.exception()
            return
        entry.value = value
        entry.loaded_at = time.monotonic()
        entry.pending = None
        future.set_result(value)

    def _evict(self) -> None:
        """Drop entries unused within their stale limit, or all if none is."""
        now = time.monotonic()
        for key, entry in list(self._entries.items()):
            limit_s = entry.ttl_s * self._max_stale_factor
            if entry.pending is None and now - entry.used_at > limit_s:
                del self._entries[key]
        if len(self._entries) >= self._max_entries:
            self._entries.clear()


def _kind(key: Hashable) -> Hashable:
    return key[0] if isinstance(key, tuple) else key


def _key_label(key: Hashable) -> str:
    if isinstance(key, tuple):
        return " ".join("-" if part is None else str(part) for part in key)
    return str(key)
