"""The collector's HTTP API and the dashboard's static files, on aiohttp.

Every error is JSON `{"error": "..."}` with a fitting status: 400 for a bad
parameter (the message names it), 404 for an unknown path, 503 when the
store cannot answer. The API stays up while the store is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeVar

from aiohttp import web
from pydantic import ValidationError

import dashboard
from collector import __version__
from collector.params import (
    AlertsParams,
    HeatmapParams,
    MetricsParams,
    Params,
    parse_window_ms,
    pulse_bucket_ms,
)
from collector.store.base import HeatmapCell, Store, StoreUnavailable

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Params)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STORE_KEY = web.AppKey("store", Store)
LAYOUT_KEY = web.AppKey("layout", dict)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self';"
        " img-src 'self' data:; connect-src 'self'; frame-ancestors 'none';"
        " base-uri 'none'; form-action 'none'"
    ),
}


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def parse_params(model: type[P], request: web.Request) -> P:
    """Validate the query string against `model`; raise a 400 naming the parameter."""
    query = dict(request.query)
    if len(query) != len(request.query):
        raise web.HTTPBadRequest(
            text='{"error": "each query parameter may be given only once"}',
            content_type="application/json",
        )
    try:
        return model.model_validate(query)
    except ValidationError as exc:
        problems = []
        for item in exc.errors():
            name = ".".join(str(part) for part in item["loc"]) or "query"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                allowed = ", ".join(model.model_fields)
                message = f"unknown parameter; allowed: {allowed}"
            problems.append(f"invalid query parameter {name!r}: {message}")
        raise web.HTTPBadRequest(
            text=web.json_response({"error": "; ".join(problems)}).text,
            content_type="application/json",
        ) from None


@web.middleware
async def error_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except StoreUnavailable as exc:
        log.warning("store unavailable for %s: %s", request.path, exc)
        response = json_error(503, f"store unavailable: {exc}; retry shortly")
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or not request.path.startswith(
            "/api"
        ):
            raise
        response = json_error(exc.status, exc.reason)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def now_ms() -> int:
    return int(time.time() * 1000)


async def health(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    body: dict[str, Any] = {"version": __version__, "store": store.name}
    try:
        await store.ping()
        latest = await store.latest_by_region()
    except StoreUnavailable as exc:
        body.update(status="unavailable", error=f"store unavailable: {exc}")
        return web.json_response(body, status=503)
    current = now_ms()
    body["status"] = "ok"
    body["last_point_age_s"] = {
        region: round((current - latest_ms) / 1000, 1)
        for region, latest_ms in sorted(latest.items())
    }
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    params = parse_params(MetricsParams, request)
    store = request.app[STORE_KEY]
    until_ms = now_ms()
    since_ms = until_ms - params.window_ms
    bucket_ms = pulse_bucket_ms(params.window_ms)
    points = await store.pulse(since_ms, until_ms, bucket_ms, params.where)
    summary = await store.summary(since_ms, until_ms, params.where)

    series: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        series.setdefault(point.region, []).append(
            {
                "time_ms": point.time_ms,
                "p50_ms": point.p50_ms,
                "p95_ms": point.p95_ms,
                "count": point.count,
            }
        )
    return web.json_response(
        {
            "window": params.window,
            "since_ms": since_ms,
            "until_ms": until_ms,
            "bucket_ms": bucket_ms,
            "series": [{"region": r, "points": p} for r, p in sorted(series.items())],
            "summary": {
                "count": summary.count,
                "success_rate": summary.success_rate,
                "p50_ms": summary.p50_ms,
                "p95_ms": summary.p95_ms,
                "p99_ms": summary.p99_ms,
                "by_outcome": summary.by_outcome,
            },
        }
    )


def fill_heatmap(
    cells: Sequence[HeatmapCell], layout: dict[str, set[str]]
) -> list[HeatmapCell]:
    """Add an explicit empty cell per configured (region, provider) without data."""
    present = {(cell.region, cell.provider) for cell in cells}
    filled = list(cells)
    for region, providers in layout.items():
        for provider in providers:
            if (region, provider) not in present:
                filled.append(HeatmapCell(region, provider, None, 0, None, None))
    return sorted(filled, key=lambda cell: (cell.region, cell.provider))


async def heatmap(request: web.Request) -> web.Response:
    params = parse_params(HeatmapParams, request)
    until_ms = now_ms()
    cells = await request.app[STORE_KEY].heatmap(
        until_ms - params.window_ms, until_ms, params.stat
    )
    cells = fill_heatmap(cells, request.app[LAYOUT_KEY])
    return web.json_response(
        {
            "window": params.window,
            "stat": params.stat.value,
            "regions": sorted({cell.region for cell in cells}),
            "providers": sorted({cell.provider for cell in cells}),
            "cells": [asdict(cell) for cell in cells],
        }
    )


async def alerts(request: web.Request) -> web.Response:
    params = parse_params(AlertsParams, request)
    since_ms = now_ms() - parse_window_ms(params.since)
    events = await request.app[STORE_KEY].alerts(since_ms, params.limit)
    return web.json_response({"alerts": [asdict(event) for event in events]})


async def routing(request: web.Request) -> web.Response:
    entries = await request.app[STORE_KEY].routing()
    return web.json_response({"routes": [asdict(entry) for entry in entries]})


async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(dashboard.STATIC_DIR / "index.html")


async def not_found(request: web.Request) -> web.Response:
    return json_error(404, f"no API endpoint at {request.path}; see /api/health")


def create_app(
    store: Store, *, layout: dict[str, set[str]] | None = None
) -> web.Application:
    """Build the API app around `store`.

    `layout` maps each configured region to its providers, so the heatmap can
    show cells that have no data yet.
    """
    app = web.Application(middlewares=[error_middleware])
    app[STORE_KEY] = store
    app[LAYOUT_KEY] = layout or {}
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/metrics", metrics)
    app.router.add_get("/api/heatmap", heatmap)
    app.router.add_get("/api/alerts", alerts)
    app.router.add_get("/api/routing", routing)
    app.router.add_route("*", "/api/{tail:.*}", not_found)
    app.router.add_get("/", index)
    app.router.add_static("/static/", dashboard.STATIC_DIR, show_index=False)
    return app
