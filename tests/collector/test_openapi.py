"""/api/openapi.json against the app's routes, parameter models and live responses."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from collector.api import ROUTES
from collector.store.sqlite import SQLiteStore
from tests.collector.conftest import TOKEN, funds_snapshot

Client = TestClient[Any, Any]


async def fetch_spec(client: Client) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    spec: dict[str, Any] = await response.json()
    return spec


async def test_openapi_document_is_valid(client: Client) -> None:
    spec = await fetch_spec(client)

    validate(spec)
    assert spec["openapi"].startswith("3.1")


async def test_openapi_paths_match_routes(client: Client) -> None:
    spec = await fetch_spec(client)
    registered = {
        resource.canonical
        for resource in client.app.router.resources()
        if resource.canonical.startswith("/api/") and "{" not in resource.canonical
    }

    assert set(spec["paths"]) == registered
    for path in registered:
        assert set(spec["paths"][path]) == {"get"}, path


async def test_openapi_parameters_match_models(client: Client) -> None:
    spec = await fetch_spec(client)

    for route in ROUTES:
        operation = spec["paths"][route.path]["get"]
        documented = {p["name"] for p in operation["parameters"]}
        assert documented == set(route.params.model_fields), route.path
        for parameter in operation["parameters"]:
            assert parameter["in"] == "query"


async def test_openapi_window_parameter_has_default(client: Client) -> None:
    spec = await fetch_spec(client)

    parameters = spec["paths"]["/api/heatmap"]["get"]["parameters"]
    stat = next(p for p in parameters if p["name"] == "stat")
    assert stat["schema"]["default"] == "p95"


LIVE_REQUESTS = [
    pytest.param("/api/health", {}, id="health"),
    pytest.param("/api/metrics", {"window": "24h"}, id="metrics"),
    pytest.param("/api/metrics", {"region": "nowhere"}, id="metrics-empty"),
    pytest.param("/api/heatmap", {"stat": "success_rate"}, id="heatmap"),
    pytest.param("/api/alerts", {}, id="alerts"),
    pytest.param("/api/routing", {}, id="routing"),
    pytest.param("/api/costs", {}, id="costs"),
    pytest.param("/api/openapi.json", {}, id="openapi"),
]


@pytest.mark.parametrize(("path", "query"), LIVE_REQUESTS)
async def test_live_answers_match_schema(
    store: SQLiteStore,
    client: Client,
    now_ms: int,
    path: str,
    query: dict[str, str],
) -> None:
    await store.record_funds(funds_snapshot(now_ms - 3_600_000, 1000, 12.0))
    await store.record_funds(funds_snapshot(now_ms, 1120, 11.88))
    spec = await fetch_spec(client)

    response = await client.get(
        path, params=query, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    body = await response.json()

    assert response.status == 200
    schema = spec["paths"][path]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    jsonschema.Draft202012Validator(schema).validate(body)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/api/heatmap?stat=bad", "400", id="400"),
        pytest.param("/api/costs", "401", id="401"),
    ],
)
async def test_error_answers_match_schema(
    client: Client, path: str, status: str
) -> None:
    spec = await fetch_spec(client)
    api_path = path.split("?")[0]

    response = await client.get(path)
    body = await response.json()

    assert str(response.status) == status
    schema = spec["paths"][api_path]["get"]["responses"][status]["content"][
        "application/json"
    ]["schema"]
    jsonschema.Draft202012Validator(schema).validate(body)
