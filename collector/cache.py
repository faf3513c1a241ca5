"""A short-lived, single-flight cache of API answers.

However many requests ask for the same key at once, one loader call (one set
of store queries) runs per key per TTL, and every waiter gets its result.
A loader that raises is not cached, so the next request after a store outage
queries again. `invalidate()` drops entries by kind (the first element of a
key), which the live stream does when new points or alerts arrive, so a
dashboard that re-fetches on that event sees them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    expires_at: float
    future: asyncio.Future[T]


@dataclass(slots=True)
class CacheStats:
    """Counters that the load benchmark reads through /api/health."""

    hits: int = 0
    loads: Counter[str] = field(default_factory=Counter)
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "loads": sum(self.loads.values()),
            "loads_by_key": dict(sorted(self.loads.items())),
            "errors": self.errors,
        }


class TTLCache:
    """Map a key to the result of one loader call, reused for `ttl_s` seconds."""

    def __init__(self, *, max_entries: int = 4096) -> None:
        self._entries: dict[Hashable, _Entry[Any]] = {}
        self._max_entries = max_entries
        self._loading: set[asyncio.Task[None]] = set()
        self.stats = CacheStats()

    def invalidate(self, kinds: Collection[str] | None = None) -> None:
        """Drop entries whose key starts with one of `kinds`, or all entries.

        Loads already running finish and answer the requests that wait for
        them, but later requests start a new load.
        """
        for key in list(self._entries):
            kind = key[0] if isinstance(key, tuple) else key
            if kinds is None or kind in kinds:
                del self._entries[key]

    async def get(
        self, key: Hashable, ttl_s: float, load: Callable[[], Awaitable[T]]
    ) -> T:
        """Return the cached result for `key`, or run `load` once and share it."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and (not entry.future.done() or entry.expires_at > now):
            self.stats.hits += 1
            # shield: one cancelled waiter must not cancel the shared load.
            return await asyncio.shield(entry.future)

        if len(self._entries) >= self._max_entries:
            self._evict(now)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        entry = _Entry(now + ttl_s, future)
        self._entries[key] = entry
        self.stats.loads[_key_label(key)] += 1
        task = asyncio.create_task(self._fill(key, entry, ttl_s, load))
        self._loading.add(task)
        task.add_done_callback(self._loading.discard)
        return await asyncio.shield(future)

    async def _fill(
        self,
        key: Hashable,
        entry: _Entry[T],
        ttl_s: float,
        load: Callable[[], Awaitable[T]],
    ) -> None:
        try:
            result = await load()
        except asyncio.CancelledError:
            self._forget(key, entry)
            entry.future.cancel()
            raise
        except Exception as exc:
            self.stats.errors += 1
            self._forget(key, entry)
            entry.future.set_exception(exc)
            # Waiters may all have gone; this marks the exception as retrieved.
            entry.future.exception()
            return
        # The TTL counts from when the answer is ready, not from the request.
        entry.expires_at = time.monotonic() + ttl_s
        entry.future.set_result(result)

    def _forget(self, key: Hashable, entry: _Entry[Any]) -> None:
        if self._entries.get(key) is entry:
            del self._entries[key]

    def _evict(self, now: float) -> None:
        for key, entry in list(self._entries.items()):
            if entry.future.done() and entry.expires_at <= now:
                del self._entries[key]
        if len(self._entries) >= self._max_entries:
            self._entries.clear()


def _key_label(key: Hashable) -> str:
    if isinstance(key, tuple):
        return " ".join("-" if part is None else str(part) for part in key)
    return str(key)
