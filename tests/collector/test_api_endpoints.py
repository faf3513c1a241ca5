"""Every endpoint of the API on a running app with a seeded SQLite store."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.middleware import SECURITY_HEADERS
from tests.collector.conftest import MakeClient

Client = TestClient[Any, Any]


async def test_health_reports_age_per_region(client: Client, now_ms: int) -> None:
    response = await client.get("/api/health")
    body = await response.json()

    assert response.status == 200
    assert body["status"] == "ok"
    assert body["store_reachable"] is True
    assert body["store"] == "sqlite"
    assert body["version"]
    assert set(body["last_point_age_s"]) == {"eu", "us"}
    assert 55 <= body["last_point_age_s"]["eu"] <= 120
    assert body["last_point_ms"]["us"] == now_ms - 60_000


async def test_metrics_summary_and_series(client: Client) -> None:
    response = await client.get("/api/metrics", params={"window": "1h"})
    body = await response.json()

    assert response.status == 200
    assert body["window"] == "1h"
    assert body["bucket_ms"] == 60_000
    assert body["until_ms"] - body["since_ms"] == 3_600_000
    summary = body["summary"]
    assert summary["count"] == 30
    assert summary["by_outcome"] == {"ok": 25, "http_error": 5}
    assert summary["success_rate"] == 25 / 30
    assert summary["p50_ms"] is not None
    assert [s["region"] for s in body["series"]] == ["eu", "us"]
    eu_points = body["series"][0]["points"]
    assert len(eu_points) == 10
    assert {p["count"] for p in eu_points} == {1}


async def test_metrics_filter_by_region(client: Client) -> None:
    response = await client.get("/api/metrics", params={"region": "eu"})
    body = await response.json()

    assert response.status == 200
    assert body["summary"]["count"] == 10
    assert body["summary"]["p50_ms"] == 140.0
    assert body["summary"]["p99_ms"] == 190.0
    assert [s["region"] for s in body["series"]] == ["eu"]


async def test_metrics_filter_by_provider_and_target(client: Client) -> None:
    response = await client.get(
        "/api/metrics", params={"provider": "beta", "target": "piece-1"}
    )
    body = await response.json()

    assert body["summary"]["count"] == 10
    assert body["summary"]["by_outcome"] == {"ok": 5, "http_error": 5}


async def test_heatmap_cells_with_explicit_empties(client: Client) -> None:
    response = await client.get("/api/heatmap", params={"stat": "p50"})
    body = await response.json()

    assert response.status == 200
    assert body["stat"] == "p50"
    assert body["regions"] == ["eu", "us"]
    assert body["providers"] == ["alpha", "beta", "gamma"]
    cells = {(c["region"], c["provider"]): c for c in body["cells"]}
    assert len(cells) == 5
    assert cells[("eu", "alpha")]["value"] == 140.0
    assert cells[("eu", "alpha")]["count"] == 10
    assert cells[("eu", "alpha")]["latest_ms"] is not None
    assert cells[("us", "beta")]["success_rate"] == 0.5
    for empty in (("eu", "beta"), ("us", "gamma")):
        assert cells[empty]["value"] is None
        assert cells[empty]["count"] == 0
        assert cells[empty]["latest_ms"] is None


async def test_heatmap_success_rate_stat(client: Client) -> None:
    response = await client.get(
        "/api/heatmap", params={"stat": "success_rate", "window": "15m"}
    )
    body = await response.json()

    cells = {(c["region"], c["provider"]): c for c in body["cells"]}
    assert cells[("us", "beta")]["value"] == 0.5
    assert cells[("us", "alpha")]["value"] == 1.0


async def test_alerts_newest_first_with_limit(client: Client, now_ms: int) -> None:
    response = await client.get("/api/alerts", params={"limit": "2"})
    body = await response.json()

    assert response.status == 200
    times = [event["time_ms"] for event in body["alerts"]]
    assert times == [now_ms - 600_000, now_ms - 1_200_000]
    assert body["alerts"][0]["state"] == "firing"
    assert set(body["alerts"][0]) == {
        "time_ms",
        "rule",
        "subject",
        "severity",
        "state",
        "message",
    }


async def test_alerts_since_excludes_older(client: Client) -> None:
    response = await client.get("/api/alerts", params={"since": "15m"})
    body = await response.json()

    assert len(body["alerts"]) == 1


async def test_routing_latest_state_per_provider(client: Client) -> None:
    response = await client.get("/api/routing")
    body = await response.json()

    assert response.status == 200
    assert [r["provider"] for r in body["routes"]] == ["alpha", "beta"]
    beta = body["routes"][1]
    assert beta["state"] == "banned"
    assert beta["reason"] == "p95 TTFB above 2000 ms"
    assert set(beta) == {"provider", "state", "since_ms", "reason"}


async def test_unknown_path_is_json_404(client: Client) -> None:
    response = await client.get("/api/nothing")
    body = await response.json()

    assert response.status == 404
    assert "/api/nothing" in body["error"]


async def test_bare_api_path_is_json_404(client: Client) -> None:
    response = await client.get("/api")
    body = await response.json()

    assert response.status == 404
    assert body["error"] == "no API endpoint at /api; see /api/openapi.json"


async def test_openapi_rejects_unknown_parameter(client: Client) -> None:
    response = await client.get("/api/openapi.json?x=1")
    body = await response.json()

    assert response.status == 400
    assert body["error"].startswith("invalid query parameter 'x': unknown parameter")


@pytest.mark.parametrize(
    "path",
    ["/static/nonexistent.js", "/static/a/b.css", "/static/", "/nothing", "/index.htm"],
)
async def test_unknown_file_is_json_404(client: Client, path: str) -> None:
    response = await client.get(path)
    body = await response.json()

    assert response.status == 404
    assert response.content_type == "application/json"
    assert body["error"] == f"no file at '{path}'; the dashboard is at /"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_long_missing_path_is_cut(client: Client) -> None:
    response = await client.get("/static/" + "x" * 1000)
    body = await response.json()

    assert response.status == 404
    assert "(1008 characters)" in body["error"]
    assert "x" * 100 not in body["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/%2E%2E/collector/api.py",
        "/static/..%2F..%2Fpyproject.toml",
        "/static/app.js%00.css",
    ],
)
async def test_static_path_escape_is_404(client: Client, path: str) -> None:
    response = await client.get(path)
    body = await response.json()

    assert response.status == 404
    assert body["error"].startswith("no file at '/")


async def test_static_file_still_served(client: Client) -> None:
    response = await client.get("/static/app.js")
    nested = await client.get("/static/vendor/chart.js/chart.umd.js")
    head = await client.head("/static/dashboard.css")

    assert response.status == 200
    assert response.content_type.endswith("javascript")
    assert nested.status == 200
    assert head.status == 200
    assert head.content_type == "text/css"


ENDPOINTS = [
    "/api/health",
    "/api/metrics",
    "/api/heatmap",
    "/api/costs",
    "/api/alerts",
    "/api/routing",
    "/api/stream",
    "/api/openapi.json",
]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ENDPOINTS)
async def test_other_method_is_json_405(client: Client, path: str, method: str) -> None:
    response = await client.request(method, path)
    body = await response.json()

    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert body == {"error": f"method {method} is not allowed on {path}; use GET"}
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


async def test_head_still_allowed_on_endpoints(client: Client) -> None:
    for path in ("/api/health", "/api/heatmap", "/api/stream"):
        response = await client.head(path)
        assert response.status == 200, path


async def test_security_headers_on_every_answer(client: Client) -> None:
    for path in ("/api/health", "/api/heatmap?stat=bad", "/api/nothing", "/api/costs"):
        response = await client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy


async def test_cors_allows_listed_origin_only(
    store: Any, make_client: MakeClient
) -> None:
    client = await make_client(store, cors_origins=["https://dash.example.org"])

    allowed = await client.get(
        "/api/heatmap", headers={"Origin": "https://dash.example.org"}
    )
    other = await client.get("/api/heatmap", headers={"Origin": "https://evil.test"})
    preflight = await client.options(
        "/api/costs",
        headers={
            "Origin": "https://dash.example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://dash.example.org"
    assert "Access-Control-Allow-Origin" not in other.headers
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Headers"] == "Authorization"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD"


async def test_cors_origin_gets_405_for_post(
    store: Any, make_client: MakeClient
) -> None:
    client = await make_client(store, cors_origins=["https://dash.example.org"])

    response = await client.post(
        "/api/metrics", headers={"Origin": "https://dash.example.org"}
    )

    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.headers["Access-Control-Allow-Origin"] == "https://dash.example.org"


async def test_repeated_requests_share_one_query(client: Client) -> None:
    for _ in range(5):
        response = await client.get("/api/heatmap", params={"stat": "p95"})
        assert response.status == 200
    health = await (await client.get("/api/health")).json()

    assert health["cache"]["loads_by_key"] == {"heatmap 1h p95": 1}
    assert health["cache"]["hits"] == 4
