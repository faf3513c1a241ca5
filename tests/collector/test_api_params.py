"""Bad query parameters: each gets a 400 with a message naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]

BAD_PARAMETERS = [
    pytest.param("/api/metrics", {"window": "forever"}, "window", id="window-text"),
    pytest.param("/api/metrics", {"window": "31d"}, "window", id="window-too-long"),
    pytest.param("/api/metrics", {"window": "30s"}, "window", id="window-too-short"),
    pytest.param("/api/metrics", {"window": "-1h"}, "window", id="window-negative"),
    pytest.param("/api/metrics", {"window": ""}, "window", id="window-empty"),
    pytest.param("/api/metrics", {"region": "eu west"}, "region", id="region-space"),
    pytest.param("/api/metrics", {"provider": "a'b"}, "provider", id="provider-quote"),
    pytest.param("/api/metrics", {"target": "x" * 65}, "target", id="target-long"),
    pytest.param("/api/metrics", {"stat": "p50"}, "stat", id="metrics-unknown"),
    pytest.param("/api/heatmap", {"stat": "p42"}, "stat", id="stat-unknown"),
    pytest.param("/api/heatmap", {"window": "1w"}, "window", id="heatmap-window"),
    pytest.param("/api/heatmap", {"region": "eu"}, "region", id="heatmap-unknown"),
    pytest.param("/api/alerts", {"limit": "0"}, "limit", id="limit-zero"),
    pytest.param("/api/alerts", {"limit": "1001"}, "limit", id="limit-too-big"),
    pytest.param("/api/alerts", {"limit": "ten"}, "limit", id="limit-text"),
    pytest.param("/api/alerts", {"since": "yesterday"}, "since", id="since-text"),
    pytest.param("/api/routing", {"provider": "a"}, "provider", id="routing-unknown"),
    pytest.param("/api/health", {"verbose": "1"}, "verbose", id="health-unknown"),
    pytest.param("/api/stream", {"since": "1h"}, "since", id="stream-unknown"),
]


@pytest.mark.parametrize(("path", "query", "name"), BAD_PARAMETERS)
async def test_bad_parameter_is_named(
    client: Client, path: str, query: dict[str, str], name: str
) -> None:
    response = await client.get(path, params=query)
    body = await response.json()

    assert response.status == 400
    assert f"'{name}'" in body["error"]


async def test_repeated_parameter_is_rejected(client: Client) -> None:
    response = await client.get("/api/heatmap?stat=p50&stat=p95")
    body = await response.json()

    assert response.status == 400
    assert "'stat'" in body["error"]
    assert "more than once" in body["error"]


async def test_unknown_parameter_lists_allowed(client: Client) -> None:
    response = await client.get("/api/alerts", params={"limt": "5"})
    body = await response.json()

    assert "allowed: limit, since" in body["error"]


async def test_bad_window_message_gives_fix(client: Client) -> None:
    response = await client.get("/api/metrics", params={"window": "90d"})
    body = await response.json()

    assert "between 1m and 30d" in body["error"]
