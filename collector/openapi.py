"""The OpenAPI 3.1 description of the API, served at /api/openapi.json.

Query parameters come from the same pydantic models that validate requests,
so they cannot drift. Response schemas are written here by hand; a test
validates every endpoint's live responses against them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from collector.params import Params

NUMBER_OR_NULL: dict[str, Any] = {"type": ["number", "null"]}
INTEGER_OR_NULL: dict[str, Any] = {"type": ["integer", "null"]}
SCHEMA_REF = "#/components/schemas/{model}"


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    params: type[Params]
    summary: str
    auth: bool = False


def _object(properties: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = sorted(properties)
    return schema


ERROR = _object({"error": {"type": "string"}})

SUMMARY = _object(
    {
        "count": {"type": "integer"},
        "success_rate": NUMBER_OR_NULL,
        "p50_ms": NUMBER_OR_NULL,
        "p95_ms": NUMBER_OR_NULL,
        "p99_ms": NUMBER_OR_NULL,
        "by_outcome": {"type": "object", "additionalProperties": {"type": "integer"}},
    }
)

PULSE_POINT = _object(
    {
        "time_ms": {"type": "integer"},
        "p50_ms": NUMBER_OR_NULL,
        "p95_ms": NUMBER_OR_NULL,
        "count": {"type": "integer"},
    }
)

HEATMAP_CELL = _object(
    {
        "region": {"type": "string"},
        "provider": {"type": "string"},
        "value": NUMBER_OR_NULL,
        "count": {"type": "integer"},
        "success_rate": NUMBER_OR_NULL,
        "latest_ms": INTEGER_OR_NULL,
    }
)

ALERT_EVENT = _object(
    {
        name: {"type": "integer" if name == "time_ms" else "string"}
        for name in ("time_ms", "rule", "subject", "severity", "state", "message")
    }
)

ACCOUNT = _object(
    {
        "network": {"type": "string"},
        "payer": {"type": "string"},
        "token": {"type": "string"},
        "funds": {"type": "number"},
        "lockup_current": {"type": "number"},
        "lockup_rate_per_epoch": {"type": "number"},
        "lockup_rate_per_day": {"type": "number"},
        "runway_days": NUMBER_OR_NULL,
        "funded_until_ms": INTEGER_OR_NULL,
        "updated_ms": {"type": "integer"},
        "daily_spend": {
            "type": "array",
            "items": _object({"day": {"type": "string"}, "spend": {"type": "number"}}),
        },
    }
)

COUNTERS = {"type": "object", "additionalProperties": {"type": "number"}}

RESPONSES: dict[str, dict[str, Any]] = {
    "/api/health": _object(
        {
            "status": {"enum": ["ok", "unavailable"]},
            "version": {"type": "string"},
            "store": {"type": "string"},
            "store_reachable": {"type": "boolean"},
            "stream_clients": {"type": "integer"},
            "cache": {"type": "object"},
            "last_point_ms": COUNTERS,
            "last_point_age_s": COUNTERS,
        },
        required=False,
    ),
    "/api/metrics": _object(
        {
            "window": {"type": "string"},
            "since_ms": {"type": "integer"},
            "until_ms": {"type": "integer"},
            "bucket_ms": {"type": "integer"},
            "series": {
                "type": "array",
                "items": _object(
                    {
                        "region": {"type": "string"},
                        "points": {"type": "array", "items": PULSE_POINT},
                    }
                ),
            },
            "summary": SUMMARY,
        }
    ),
    "/api/heatmap": _object(
        {
            "window": {"type": "string"},
            "stat": {"enum": ["p50", "p95", "p99", "success_rate"]},
            "until_ms": {"type": "integer"},
            "regions": {"type": "array", "items": {"type": "string"}},
            "providers": {"type": "array", "items": {"type": "string"}},
            "cells": {"type": "array", "items": HEATMAP_CELL},
        }
    ),
    "/api/costs": _object(
        {
            "accounts": {"type": "array", "items": ACCOUNT},
            "runway_warning_days": {"type": "number"},
        }
    ),
    "/api/alerts": _object({"alerts": {"type": "array", "items": ALERT_EVENT}}),
    "/api/routing": _object(
        {
            "routes": {
                "type": "array",
                "items": _object(
                    {
                        "provider": {"type": "string"},
                        "state": {"type": "string"},
                        "since_ms": {"type": "integer"},
                        "reason": {"type": "string"},
                    }
                ),
            }
        }
    ),
    "/api/openapi.json": {"type": "object"},
}

STREAM_DESCRIPTION = (
    "text/event-stream. `event: points` with data"
    ' `{"latest_ms": int, "regions": {region: latest_ms}}` when new points arrive;'
    " `event: alert` with one alert event; `event: store` with"
    ' `{"status": "unavailable" | "ok"}` when the store goes down or comes back;'
    " a `: keep-alive` comment when idle."
)


def query_parameters(
    model: type[Params], components: dict[str, Any]
) -> list[dict[str, Any]]:
    """Describe each field of a parameter model as an OpenAPI query parameter.

    Shared definitions such as the `Stat` enum go into `components`, which
    becomes the document's components/schemas.
    """
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    components.update(schema.get("$defs", {}))
    parameters = []
    for name, field_schema in schema.get("properties", {}).items():
        field_schema = dict(field_schema)
        field_schema.pop("title", None)
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", []),
                "schema": field_schema,
            }
        )
    return parameters


def _error_responses(route: Route) -> dict[str, Any]:
    content = {"application/json": {"schema": ERROR}}
    unavailable = "Store unavailable"
    responses: dict[str, Any] = {
        "400": {
            "description": "Invalid query parameter, named in the message",
            "content": content,
        },
    }
    if route.auth:
        responses["401"] = {
            "description": "Missing or wrong bearer token",
            "content": content,
        }
        unavailable += ", or no API token configured"
    responses["503"] = {"description": unavailable, "content": content}
    return responses


def build_openapi(routes: Sequence[Route], version: str) -> dict[str, Any]:
    """Build the OpenAPI document for `routes`."""
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    for route in routes:
        if route.path == "/api/stream":
            ok = {
                "description": STREAM_DESCRIPTION,
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        else:
            ok = {
                "description": route.summary,
                "content": {"application/json": {"schema": RESPONSES[route.path]}},
            }
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__,
            "parameters": query_parameters(route.params, components),
            "responses": {"200": ok, **_error_responses(route)},
        }
        if route.auth:
            operation["security"] = [{"bearer": []}]
        paths[route.path] = {"get": operation}
    return {
        "openapi": "3.1.0",
        "info": {"title": "beamwatch collector API", "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
