"""A store that does not respond: 503 on every store endpoint, and the API stays up.

Two kinds of outage: a real SQLite store whose database path is a directory,
so every query fails inside sqlite3, and a real store behind a switch that
raises StoreUnavailable while it is off, to show recovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.store.base import StoreUnavailable
from collector.store.sqlite import SQLiteStore
from tests.collector.conftest import TOKEN, MakeClient
from tests.collector.sse import next_event

Client = TestClient[Any, Any]

STORE_PATHS = [
    "/api/health",
    "/api/metrics",
    "/api/heatmap",
    "/api/alerts",
    "/api/routing",
    "/api/costs",
]


class SwitchableStore:
    """Delegate to a real store, or raise StoreUnavailable while `down` is set."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.name = store.name
        self.down = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailable("switched off by the test")
            return await method(*args, **kwargs)

        return call


@pytest.fixture
async def broken_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    database_path = tmp_path / "not-a-file.db"
    database_path.mkdir()
    store = SQLiteStore(database_path)
    yield store
    await store.close()


@pytest.mark.parametrize("path", STORE_PATHS)
async def test_unreadable_store_answers_503(
    broken_store: SQLiteStore, make_client: MakeClient, path: str
) -> None:
    client = await make_client(broken_store)

    response = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    body = await response.json()

    assert response.status == 503
    assert "store unavailable" in body["error"]
    assert "not-a-file.db" in body["error"]


async def test_api_stays_up_without_store(
    broken_store: SQLiteStore, make_client: MakeClient
) -> None:
    client = await make_client(broken_store)

    for _ in range(3):
        assert (await client.get("/api/heatmap")).status == 503
    health = await client.get("/api/health")
    openapi = await client.get("/api/openapi.json")

    assert (await health.json())["store_reachable"] is False
    assert openapi.status == 200


async def test_stream_reports_store_outage(
    broken_store: SQLiteStore, make_client: MakeClient
) -> None:
    client = await make_client(broken_store)

    async with client.get("/api/stream") as response:
        event = await next_event(response)

        assert response.status == 200
        assert event.event == "store"
        assert event.data["status"] == "unavailable"


async def test_store_recovers_after_outage(
    store: SQLiteStore, make_client: MakeClient
) -> None:
    switch = SwitchableStore(store)
    client = await make_client(switch)  # type: ignore[arg-type]
    await asyncio.sleep(0.2)

    async with client.get("/api/stream") as stream:
        await next_event(stream)
        switch.down = True
        during = await client.get("/api/metrics")
        outage = await next_event(stream)
        switch.down = False
        after = await client.get("/api/metrics")
        recovered = await next_event(stream)

    assert during.status == 503
    assert after.status == 200
    assert outage.data["status"] == "unavailable"
    assert recovered.data == {"status": "ok"}
