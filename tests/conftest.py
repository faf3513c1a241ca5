"""Fixtures shared by every test package: loopback origins with known delays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from collector.demo import create_demo_app
from tests.support.servers import Nginx, run_nginx


@pytest.fixture
async def delay_origin() -> AsyncIterator[TestServer]:
    """An aiohttp origin on 127.0.0.1: /delay/{ms}?bytes=N and /status/{code}."""
    server = TestServer(create_demo_app(), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    with run_nginx(tmp_path / "nginx") as server:
        yield server
