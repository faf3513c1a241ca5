"""A database that accepts connections and never replies gets a worded timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from collector.store.base import Stat, StoreUnavailable
from collector.store.influx import InfluxStore
from probe.writers import TransientWriteError, V1Writer


@pytest.fixture
async def silent_url() -> AsyncIterator[str]:
    """Yield the URL of a loopback server that reads requests and never replies."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_query_timeout_names_limit_and_setting(silent_url: str) -> None:
    writer = V1Writer(silent_url, "beamwatch", timeout_s=0.2)
    store = InfluxStore(silent_url, "beamwatch", writer, timeout_s=0.2)
    try:
        with pytest.raises(StoreUnavailable) as ping_error:
            await store.ping()
        with pytest.raises(StoreUnavailable) as query_error:
            await store.heatmap(0, 60_000, Stat.P95)
    finally:
        await store.close()
    for error in (ping_error, query_error):
        assert "timed out after 0.2 s" in str(error.value)
        assert "timeout_s" in str(error.value)


async def test_write_timeout_names_limit(silent_url: str) -> None:
    writer = V1Writer(silent_url, "beamwatch", timeout_s=0.2)
    try:
        with pytest.raises(TransientWriteError) as error:
            await writer.write("probe ok=true 1")
    finally:
        await writer.close()
    assert "timed out after 0.2 s" in str(error.value)
