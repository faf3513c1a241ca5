"""Cache keys of the API: parsed parameters, and bounded counters in /api/health."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.cache import REPORTED_KEYS

Client = TestClient[Any, Any]


async def loads_by_key(client: Client) -> dict[str, int]:
    health = await (await client.get("/api/health")).json()
    counts: dict[str, int] = health["cache"]["loads_by_key"]
    return counts


async def test_health_body_stays_bounded(client: Client) -> None:
    for _ in range(3):
        assert (await client.get("/api/metrics")).status == 200
    empty_body = await (await client.get("/api/health")).read()

    for n in range(300):
        response = await client.get("/api/metrics", params={"region": f"r{n}"})
        assert response.status == 200
    response = await client.get("/api/health")
    body = await response.read()
    health = await response.json()

    assert len(health["cache"]["loads_by_key"]) == REPORTED_KEYS
    assert health["cache"]["loads"] == 301
    assert health["cache"]["entries"] == 301
    assert len(body) < len(empty_body) + REPORTED_KEYS * 40


async def test_busiest_key_stays_reported(store: Any, make_client: Any) -> None:
    client = await make_client(store, cache_ttl_s=0.001)
    # An expired entry is refreshed in the background, so request the heatmap
    # until a second load has ended.
    for _ in range(100):
        assert (await client.get("/api/heatmap")).status == 200
        if (await loads_by_key(client)).get("heatmap 1h p95", 0) >= 2:
            break
        await asyncio.sleep(0.05)
    for n in range(50):
        response = await client.get("/api/metrics", params={"region": f"r{n}"})
        assert response.status == 200

    counts = await loads_by_key(client)

    assert len(counts) == REPORTED_KEYS
    assert counts["heatmap 1h p95"] >= 2


EQUAL_QUERIES = [
    pytest.param("/api/metrics", "window=1h", "window=0001h", id="window-zeros"),
    pytest.param("/api/metrics", "", "window=1h", id="window-default"),
    pytest.param("/api/heatmap", "stat=p95", "stat=p95&window=01h", id="heatmap"),
    pytest.param("/api/alerts", "limit=50", "limit=0050", id="limit-zeros"),
    pytest.param("/api/alerts", "since=7d", "since=007d", id="since-zeros"),
]


@pytest.mark.parametrize(("path", "first", "second"), EQUAL_QUERIES)
async def test_equal_queries_share_entry(
    client: Client, path: str, first: str, second: str
) -> None:
    one = await client.get(f"{path}?{first}")
    other = await client.get(f"{path}?{second}")
    counts = await loads_by_key(client)

    assert one.status == 200
    assert other.status == 200
    assert await one.read() == await other.read()
    assert sum(counts.values()) == 1


async def test_window_echoed_without_zeros(client: Client) -> None:
    response = await client.get("/api/metrics?window=0090m")
    body = await response.json()

    assert response.status == 200
    assert body["window"] == "90m"
