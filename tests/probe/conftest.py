"""Fixtures for the probe tests: the test origin, a raw TCP server, a client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from probe.http import ProbeClient
from tests.probe.origins import create_origin_app


@pytest.fixture
async def origin() -> AsyncIterator[TestServer]:
    """The awkward-behaviour origin on 127.0.0.1."""
    server = TestServer(create_origin_app(), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def client() -> AsyncIterator[ProbeClient]:
    async with ProbeClient() as probe_client:
        yield probe_client


@pytest.fixture
async def garbage_server() -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 that responds to any request with a non-HTTP line."""

    async def answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SPDY/9 banana\r\nnot a header line\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/"
    server.close()
    await server.wait_closed()
