"""/api/stream: what a client that connects during a store outage receives first."""

from __future__ import annotations

import asyncio

from collector.store.sqlite import SQLiteStore
from tests.collector.conftest import MakeClient
from tests.collector.sse import next_event
from tests.collector.test_api_store_down import SwitchableStore


async def test_outage_comes_before_points(
    store: SQLiteStore, make_client: MakeClient
) -> None:
    switch = SwitchableStore(store)
    client = await make_client(switch)  # type: ignore[arg-type]
    await asyncio.sleep(0.2)

    async with client.get("/api/stream") as first:
        await next_event(first)
        switch.down = True
        outage = await next_event(first)
        async with client.get("/api/stream") as late:
            event = await next_event(late)

    assert outage.data["status"] == "unavailable"
    assert event.event == "store"
    assert event.data["status"] == "unavailable"
