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
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Hashable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Loader = Callable[[], Awaitable[Any]]


@dataclass(slots=True)
class _Entry:
    load: Loader
    ttl_s: float
    # The last good value and when it was loaded; None before the first load.
    value: Any = None
    loaded_at: float | None = None
    used_at: float = 0.0
    # The load in flight, shared by everyone who waits for it.
    pending: asyncio.Future[Any] | None = None


@dataclass(slots=True)
class CacheStats:
    """Counters that the load benchmark reads through /api/health."""

    hits: int = 0
    stale_hits: int = 0
    loads: Counter[str] = field(default_factory=Counter)
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "stale_hits": self.stale_hits,
            "loads": sum(self.loads.values()),
            "loads_by_key": dict(sorted(self.loads.items())),
            "errors": self.errors,
        }


class TTLCache:
    """Map a key to the result of one loader call, reused for `ttl_s` seconds."""

    def __init__(self, *, max_stale_factor: float = 5.0, max_entries: int = 1024):
        self._entries: dict[Hashable, _Entry] = {}
        self._max_stale_factor = max_stale_factor
        self._max_entries = max_entries
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = CacheStats()

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
        self.stats.loads[_key_label(key)] += 1
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
