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


NON_ASCII_OR_PADDED = [
    pytest.param("/api/metrics?window=1h%0A", "window", id="window-newline"),
    pytest.param("/api/metrics?window=%D9%A1h", "window", id="window-arabic-digit"),
    pytest.param("/api/metrics?window=%EF%BC%91h", "window", id="window-fullwidth"),
    pytest.param("/api/metrics?window=%201h", "window", id="window-space"),
    pytest.param("/api/heatmap?window=1h%0A", "window", id="heatmap-newline"),
    pytest.param("/api/alerts?since=7d%0A", "since", id="since-newline"),
    pytest.param("/api/alerts?limit=1.0", "limit", id="limit-decimal"),
    pytest.param("/api/alerts?limit=%201", "limit", id="limit-space"),
    pytest.param("/api/alerts?limit=1%20", "limit", id="limit-trailing-space"),
    pytest.param("/api/alerts?limit=%2B1", "limit", id="limit-plus"),
    pytest.param("/api/alerts?limit=1_0", "limit", id="limit-underscore"),
    pytest.param("/api/alerts?limit=%D9%A1", "limit", id="limit-arabic-digit"),
    pytest.param("/api/alerts?limit=1%0A", "limit", id="limit-newline"),
]


@pytest.mark.parametrize(("url", "name"), NON_ASCII_OR_PADDED)
async def test_only_ascii_digits_accepted(client: Client, url: str, name: str) -> None:
    response = await client.get(url)
    body = await response.json()

    assert response.status == 400
    assert f"invalid query parameter '{name}'" in body["error"]


async def test_plain_digits_still_accepted(client: Client) -> None:
    metrics = await client.get("/api/metrics?window=90m")
    alerts = await client.get("/api/alerts?limit=007&since=30d")

    assert metrics.status == 200
    assert (await metrics.json())["window"] == "90m"
    assert alerts.status == 200


async def test_empty_parameter_name_is_named(client: Client) -> None:
    response = await client.get("/api/metrics?=1h")
    body = await response.json()

    assert response.status == 400
    assert body["error"].startswith("invalid query parameter '' (empty name):")
    assert "'query'" not in body["error"]


async def test_long_value_is_json_400(client: Client) -> None:
    response = await client.get("/api/metrics?region=" + "a" * 10_000)
    body = await response.json()

    assert response.status == 400
    assert "'region'" in body["error"]
    assert "10000 characters long; use at most 256" in body["error"]
    assert "a" * 257 not in body["error"]


async def test_long_name_is_cut_in_message(client: Client) -> None:
    response = await client.get("/api/alerts?" + "x" * 300 + "=1")
    body = await response.json()

    assert response.status == 400
    assert "(300 characters)" in body["error"]
    assert "allowed: limit, since" in body["error"]
    assert "x" * 33 not in body["error"]


async def test_value_at_cap_reaches_validation(client: Client) -> None:
    response = await client.get("/api/metrics?region=" + "a" * 256)
    body = await response.json()

    assert response.status == 400
    assert body["error"].startswith("invalid query parameter 'region': ")
    assert "characters long" not in body["error"]
