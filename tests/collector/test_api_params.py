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
    assert body["error"].startswith("invalid query parameter 'region': 'aaa")
    assert "(256 characters) is not a tag value" in body["error"]
    assert "characters long" not in body["error"]


MESSAGES = [
    pytest.param(
        "/api/metrics?region=a%20b",
        "invalid query parameter 'region': 'a b' is not a tag value; use 1-64"
        " letters, digits, '.', '_', ':' or '-', starting with a letter or digit,"
        " e.g. eu-central-1",
        id="region-space",
    ),
    pytest.param(
        "/api/metrics?provider=-x",
        "invalid query parameter 'provider': '-x' is not a tag value; use 1-64"
        " letters, digits, '.', '_', ':' or '-', starting with a letter or digit,"
        " e.g. sp-01",
        id="provider-dash",
    ),
    pytest.param(
        "/api/heatmap?stat=p90",
        "invalid query parameter 'stat': 'p90' is not a statistic; use one of p50,"
        " p95, p99, success_rate",
        id="stat-unknown",
    ),
    pytest.param(
        "/api/alerts?limit=0",
        "invalid query parameter 'limit': '0' is out of range; use 1 to 1000",
        id="limit-zero",
    ),
    pytest.param(
        "/api/alerts?limit=1001",
        "invalid query parameter 'limit': '1001' is out of range; use 1 to 1000",
        id="limit-too-big",
    ),
    pytest.param(
        "/api/metrics?window=99999999999999999999999h",
        "invalid query parameter 'window': '99999999999999999999999h' is too large;"
        " use a window between 1m and 30d, e.g. 1h",
        id="window-huge",
    ),
    pytest.param(
        "/api/metrics?window=0m",
        "invalid query parameter 'window': '0m' is too small;"
        " use a window between 1m and 30d, e.g. 1h",
        id="window-zero",
    ),
    pytest.param(
        "/api/alerts?since=yesterday",
        "invalid query parameter 'since': 'yesterday' is not a window; use a whole"
        " number and a unit s, m, h or d, e.g. 1h or 7d",
        id="since-text",
    ),
]


@pytest.mark.parametrize(("url", "message"), MESSAGES)
async def test_message_echoes_value_and_rule(
    client: Client, url: str, message: str
) -> None:
    response = await client.get(url)
    body = await response.json()

    assert response.status == 400
    assert body["error"] == message


async def test_message_shows_no_regex(client: Client) -> None:
    for url in ("/api/metrics?region=a%20b", "/api/metrics?target=" + "x" * 65):
        body = await (await client.get(url)).json()

        assert "pattern" not in body["error"]
        assert "^" not in body["error"]


async def test_echoed_value_is_cut_and_escaped(client: Client) -> None:
    response = await client.get("/api/metrics?region=%0A" + "y" * 200)
    body = await response.json()

    assert response.status == 400
    assert body["error"].startswith("invalid query parameter 'region': '\\n" + "y" * 63)
    assert "'... (201 characters) is not a tag value" in body["error"]
    assert "y" * 64 not in body["error"]
    assert "\n" not in body["error"]


async def test_echoed_value_escapes_controls(client: Client) -> None:
    response = await client.get("/api/metrics?window=1h%E2%80%AE%1B")
    body = await response.json()

    assert response.status == 400
    assert "'1h\\u202e\\x1b' is not a window" in body["error"]
