"""TTLCache: single-flight loads, TTL, errors not cached, invalidation by kind."""

from __future__ import annotations

import asyncio

import pytest

from collector.cache import REPORTED_KEYS, TTLCache


class CountingLoader:
    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.calls = 0
        self.delay_s = delay_s
        self.fail = fail

    async def __call__(self) -> int:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("store query failed")
        return self.calls


async def test_concurrent_gets_load_once() -> None:
    cache = TTLCache()
    load = CountingLoader(delay_s=0.05)

    results = await asyncio.gather(
        *(cache.get(("heatmap", "1h"), 10, load) for _ in range(100))
    )

    assert load.calls == 1
    assert set(results) == {1}
    assert cache.loads_of(("heatmap", "1h")) == 1
    assert cache.stats.hits == 99


async def test_stale_entry_answers_while_refreshing() -> None:
    cache = TTLCache()
    load = CountingLoader(delay_s=0.02)

    first = await cache.get(("k",), 0.05, load)
    cached = await cache.get(("k",), 0.05, load)
    await asyncio.sleep(0.08)
    stale = await cache.get(("k",), 0.05, load)
    await asyncio.sleep(0.04)
    refreshed = await cache.get(("k",), 0.05, load)

    assert (first, cached, stale, refreshed) == (1, 1, 1, 2)
    assert cache.stats.stale_hits == 1


async def test_too_stale_entry_waits_for_load() -> None:
    cache = TTLCache(max_stale_factor=2)
    load = CountingLoader()

    await cache.get(("k",), 0.02, load)
    await asyncio.sleep(0.05)
    fresh = await cache.get(("k",), 0.02, load)

    assert fresh == 2


async def test_keys_are_independent() -> None:
    cache = TTLCache()
    load = CountingLoader()

    await cache.get(("metrics", "1h"), 10, load)
    await cache.get(("metrics", "24h"), 10, load)

    assert load.calls == 2


async def test_failed_load_is_not_cached() -> None:
    cache = TTLCache()
    failing = CountingLoader(delay_s=0.02, fail=True)

    outcomes = await asyncio.gather(
        *(cache.get(("k",), 10, failing) for _ in range(5)), return_exceptions=True
    )
    retry = await cache.get(("k",), 10, CountingLoader())

    assert failing.calls == 1
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert retry == 1
    assert cache.stats.errors == 1


async def test_refresh_reloads_only_given_kinds() -> None:
    cache = TTLCache()
    load = CountingLoader()
    await cache.get(("metrics", "1h"), 10, load)
    await cache.get(("costs",), 10, load)

    await cache.refresh(("metrics", "heatmap"))
    metrics = await cache.get(("metrics", "1h"), 10, load)
    costs = await cache.get(("costs",), 10, load)

    assert metrics == 3
    assert costs == 2
    assert load.calls == 3


async def test_failed_refresh_keeps_stale_answer() -> None:
    cache = TTLCache()
    load = CountingLoader()
    await cache.get(("k",), 0.03, load)
    await asyncio.sleep(0.04)

    load.fail = True
    await cache.refresh(("k",))
    stale = await cache.get(("k",), 0.03, load)

    assert stale == 1
    assert cache.stats.errors == 1


async def test_cancelled_waiter_keeps_shared_load() -> None:
    cache = TTLCache()
    load = CountingLoader(delay_s=0.05)
    impatient = asyncio.create_task(cache.get(("k",), 10, load))
    patient = asyncio.create_task(cache.get(("k",), 10, load))
    await asyncio.sleep(0.01)

    impatient.cancel()

    assert await patient == 1
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_dropped_key_takes_its_count() -> None:
    cache = TTLCache(max_entries=4)
    load = CountingLoader()

    for n in range(10):
        await cache.get(("metrics", n), 10, load)
    report = cache.report()

    assert load.calls == 10
    assert report["loads"] == 10
    assert report["entries"] <= 4
    assert len(report["loads_by_key"]) <= 4
    assert cache.loads_of(("metrics", 0)) == 0


async def test_report_lists_busiest_keys() -> None:
    cache = TTLCache()
    load = CountingLoader()

    for n in range(REPORTED_KEYS + 5):
        await cache.get(("metrics", n), 10, load)
    for _ in range(3):
        # A TTL of 0 makes every get wait for a new load.
        await cache.get(("heatmap", "1h"), 0, load)
    report = cache.report()

    assert len(report["loads_by_key"]) == REPORTED_KEYS
    assert report["loads_by_key"]["heatmap 1h"] == 3
    assert report["loads"] == REPORTED_KEYS + 8
