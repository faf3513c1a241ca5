"""/api/stream: server-sent events from one shared store poll."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.api import HUB_KEY
from collector.store.base import AlertEvent
from collector.store.sqlite import SQLiteStore
from collector.stream import CLIENT_QUEUE_SIZE, StreamHub
from tests.collector.conftest import measurement
from tests.collector.sse import next_comment, next_event

Client = TestClient[Any, Any]


async def test_stream_headers_and_first_state(client: Client, now_ms: int) -> None:
    await asyncio.sleep(0.2)  # let the first poll learn the current state
    async with client.get("/api/stream") as response:
        event = await next_event(response)

        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        assert event.event == "points"
        assert event.data["regions"] == {"eu": now_ms - 60_000, "us": now_ms - 60_000}


async def test_stream_pushes_new_point(
    store: SQLiteStore, client: Client, now_ms: int
) -> None:
    await asyncio.sleep(0.2)
    async with client.get("/api/stream") as response:
        await next_event(response)

        await store.write([measurement(now_ms, "eu", "alpha", 123.0)])
        event = await next_event(response)

        assert event.event == "points"
        assert event.data["latest_ms"] == now_ms
        assert event.data["regions"]["eu"] == now_ms


async def test_new_point_refreshes_cached_metrics(
    store: SQLiteStore, client: Client, now_ms: int
) -> None:
    await asyncio.sleep(0.2)
    before = await (await client.get("/api/metrics")).json()
    async with client.get("/api/stream") as response:
        await next_event(response)
        await store.write([measurement(now_ms, "eu", "alpha", 123.0)])
        await next_event(response)
    after = await (await client.get("/api/metrics")).json()

    assert after["summary"]["count"] == before["summary"]["count"] + 1


async def test_stream_pushes_new_alert(
    store: SQLiteStore, client: Client, now_ms: int
) -> None:
    await asyncio.sleep(0.2)
    async with client.get("/api/stream") as response:
        await next_event(response)

        alert = AlertEvent(now_ms, "runway", "mainnet", "warning", "firing", "low")
        await store.record_alert(alert)
        event = await next_event(response)

        assert event.event == "alert"
        assert event.data == {
            "time_ms": now_ms,
            "rule": "runway",
            "subject": "mainnet",
            "severity": "warning",
            "state": "firing",
            "message": "low",
        }


async def test_stream_sends_keepalive_comment(client: Client) -> None:
    async with client.get("/api/stream") as response:
        comment = await next_comment(response, timeout_s=3)

        assert comment == ": keep-alive"


async def test_many_streams_share_one_poll(client: Client) -> None:
    hub = client.app[HUB_KEY]
    streams = [await client.get("/api/stream") for _ in range(20)]
    try:
        for stream in streams:
            await next_event(stream)
        polls_before = hub.polls
        await asyncio.sleep(0.5)
        polls = hub.polls - polls_before
    finally:
        for stream in streams:
            stream.close()

    assert hub.client_count <= 20
    # One poll every 0.05 s, whatever the number of clients: about 10.
    assert 3 <= polls <= 15


async def test_stream_limit_answers_503(store: SQLiteStore, make_client: Any) -> None:
    client = await make_client(store, max_stream_clients=1)
    async with client.get("/api/stream") as first:
        await next_event(first)
        second = await client.get("/api/stream")
        body = await second.json()

        assert second.status == 503
        assert "max_stream_clients" in body["error"]


async def test_no_polls_without_clients(client: Client) -> None:
    hub = client.app[HUB_KEY]
    await asyncio.sleep(0.3)

    assert hub.polls == 0


async def test_head_request_returns_at_once(client: Client) -> None:
    response = await client.head("/api/stream")

    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"


async def test_stream_ends_on_shutdown(client: Client) -> None:
    async with client.get("/api/stream") as response:
        await next_event(response)

        await client.app[HUB_KEY].stop()

        with pytest.raises(EOFError):
            await next_event(response, timeout_s=2)


async def test_same_millisecond_alerts_each_sent_once(
    store: SQLiteStore, client: Client, now_ms: int
) -> None:
    await asyncio.sleep(0.2)
    async with client.get("/api/stream") as response:
        await next_event(response)

        first = AlertEvent(now_ms, "p95_ttfb", "alpha", "warning", "firing", "a")
        second = AlertEvent(now_ms, "p95_ttfb", "gamma", "warning", "firing", "b")
        await store.record_alert(first)
        received = [await next_event(response)]
        await store.record_alert(second)
        received.append(await next_event(response))
        await asyncio.sleep(0.2)
        await store.write([measurement(now_ms, "eu", "alpha", 1.0)])
        received.append(await next_event(response))

    assert [event.event for event in received] == ["alert", "alert", "points"]
    assert received[0].data["subject"] == "alpha"
    assert received[1].data["subject"] == "gamma"


async def test_slow_client_is_dropped(store: SQLiteStore, now_ms: int) -> None:
    hub = StreamHub(store, poll_s=1, now_ms=lambda: now_ms)
    queue = hub.subscribe()

    for step in range(CLIENT_QUEUE_SIZE + 1):
        await store.write([measurement(now_ms + step, "eu", "alpha", 1.0)])
        await hub.poll_once()

    assert hub.client_count == 0
    assert queue.get_nowait() is None
