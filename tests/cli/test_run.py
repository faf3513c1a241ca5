"""`beamwatch run` end to end: real origins, the real command, the stored points."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.support.servers import Nginx, free_port, stop_process, wait_for_port

REGIONS = ("us-east-1", "eu-central-1")


def write_config(path: Path, nginx: Nginx, origin: TestServer, api_port: int) -> None:
    targets = []
    for region in REGIONS:
        targets.append(
            f"""
[[targets]]
name = "nginx-small"
provider = "nginx"
region = "{region}"
url = "{nginx.base_url}/small.bin"

[[targets]]
name = "delayed"
provider = "aiohttp"
region = "{region}"
url = "http://127.0.0.1:{origin.port}/delay/300?bytes=2048"
"""
        )
    path.write_text(
        f"""
[probe]
interval_s = 1
timeout_s = 5

[store]
kind = "sqlite"
path = "{path.parent / "points.db"}"

[api]
port = {api_port}
"""
        + "".join(targets)
    )


@pytest.fixture
def running(
    tmp_path: Path, nginx: Nginx, delay_origin: TestServer
) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    api_port = free_port()
    config = tmp_path / "beamwatch.toml"
    write_config(config, nginx, delay_origin, api_port)
    process = subprocess.Popen(
        [sys.executable, "-m", "collector", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for_port("127.0.0.1", api_port)
        yield process, api_port, tmp_path / "points.db"
    finally:
        stop_process(process)


async def get_json(url: str) -> dict[str, object]:
    # The origin shares this test's event loop, so waits here must not block it.
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body: dict[str, object] = await response.json()
        return body


async def test_run_stores_and_serves_heatmap(
    running: tuple[subprocess.Popen[str], int, Path],
) -> None:
    process, api_port, database = running
    deadline = time.monotonic() + 20
    cells: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        heatmap = await get_json(f"http://127.0.0.1:{api_port}/api/heatmap?window=15m")
        cells = heatmap["cells"]  # type: ignore[assignment]
        if len(cells) == 4 and all(cell["count"] for cell in cells):
            break
        await asyncio.sleep(0.5)
    assert sorted((c["region"], c["provider"]) for c in cells) == sorted(
        (region, provider) for region in REGIONS for provider in ("aiohttp", "nginx")
    )
    assert all(cell["value"] is not None for cell in cells)

    process.send_signal(signal.SIGINT)
    stdout, stderr = await asyncio.to_thread(process.communicate, timeout=15)
    assert process.returncode == 0, stderr
    assert f"dashboard: http://127.0.0.1:{api_port}/" in stdout
    assert "round 1 (every 1 s): 4 probes, ok=4" in stderr

    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT ttfb_ms, outcome FROM probe WHERE target = 'delayed'"
        ).fetchall()
    assert len(rows) >= 2
    assert {outcome for _, outcome in rows} == {"ok"}
    ttfbs = sorted(ttfb_ms for ttfb_ms, _ in rows)
    # The origin delays its headers by 300 ms, so nothing may come in under that.
    # A busy machine can make the origin itself respond late now and then, so
    # the upper bound applies to the median rather than to every attempt.
    assert ttfbs[0] >= 300
    assert statistics.median(ttfbs) < 320


def test_run_rejects_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[targets]]\nname = "x"\nprovider = "y"\nurl = "nope"\n')
    result = subprocess.run(
        [sys.executable, "-m", "collector", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "targets[0].url" in result.stderr
