"""`run_service` with kind = "influxdb": probes reach influxd and the API reads them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from collector.config import parse_config
from collector.service import run_service
from tests.support.influx import InfluxServer, influxd, wait_until
from tests.support.servers import free_port

__all__ = ["influxd"]


async def test_service_writes_and_serves_influx(
    tmp_path: Path, influxd: InfluxServer, delay_origin: TestServer
) -> None:
    api_port = free_port()
    config = parse_config(
        f"""
[probe]
interval_s = 0.5

[store]
kind = "influxdb"
url = "{influxd.url}"
database = "beamwatch"
flush_interval_s = 0.1
spool_path = "{tmp_path / "spool.db"}"

[api]
port = {api_port}

[[targets]]
name = "delayed"
provider = "aiohttp"
region = "eu-central-1"
url = "{delay_origin.make_url("/delay/5")}"
"""
    )
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(config, stop, announce=lambda _: None))

    await asyncio.to_thread(wait_until, lambda: influxd.count("beamwatch") >= 2)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://127.0.0.1:{api_port}/api/heatmap", params={"window": "1h"}
        ) as reply,
    ):
        body = await reply.json()
    stop.set()
    await service

    assert reply.status == 200, body
    cells = [cell for cell in body["cells"] if cell["provider"] == "aiohttp"]
    assert cells[0]["region"] == "eu-central-1"
    assert cells[0]["count"] >= 2
    assert (tmp_path / "spool.db").exists()
