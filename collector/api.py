"""The collector's HTTP API and the dashboard's static files, on aiohttp.

Responses of /api/metrics, /api/heatmap, /api/alerts and /api/routing are
cached for `cache_ttl_s` and /api/costs for `costs_cache_ttl_s`, shared by all
clients and refreshed in the background (see collector.cache). When the live
stream finds new points or alerts it refreshes the matching responses first, so
a dashboard that fetches on the event gets them. Errors follow
collector.middleware. The routes and their parameter models are listed once,
in `ROUTES`, which also feeds the OpenAPI description at /api/openapi.json.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import SecretStr

import dashboard
from collector import __version__
from collector.cache import TTLCache
from collector.costs import costs_view
from collector.middleware import cors_middleware, error_middleware, json_error
from collector.openapi import Route, build_openapi
from collector.params import (
    AlertsParams,
    HeatmapParams,
    MetricsParams,
    NoParams,
    describe_value,
    parse_params,
    pulse_bucket_ms,
)
from collector.settings import ApiServerSettings, load_api_settings
from collector.store.base import HeatmapCell, Store, StoreUnavailable
from collector.stream import StreamHub, serve_stream

log = logging.getLogger(__name__)

STORE_KEY = web.AppKey("store", Store)
LAYOUT_KEY = web.AppKey("layout", dict)
SETTINGS_KEY = web.AppKey("settings", ApiServerSettings)
CACHE_KEY = web.AppKey("cache", TTLCache)
HUB_KEY = web.AppKey("hub", StreamHub)
OPENAPI_KEY = web.AppKey("openapi", bytes)

# aiohttp rejects a longer request line with a plain-text 400 before any
# handler runs and logs it at ERROR. Its default of 8190 bytes is raised so
# that a query parameter over MAX_PARAMETER_CHARS still reaches parse_params
# and gets a JSON 400 naming it.
MAX_REQUEST_LINE_BYTES = 16_384

# /api/costs reports this many days of daily spend.
COSTS_HISTORY_MS = 30 * 86_400_000


def now_ms() -> int:
    return int(time.time() * 1000)


def json_body(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def json_bytes_response(
    body: bytes, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(body=body, content_type="application/json", headers=headers)


async def cached(
    request: web.Request, key: tuple[Any, ...], load: Callable[[], Awaitable[Any]]
) -> web.Response:
    """Return a response from the shared cache, calling `load` only on a miss.

    `key` is the endpoint's name followed by its parsed parameters
    (`Params.cache_key`), so spellings of one request share an entry.
    """

    async def encode() -> bytes:
        return json_body(await load())

    ttl_s = request.app[SETTINGS_KEY].cache_ttl_s
    return json_bytes_response(await request.app[CACHE_KEY].get(key, ttl_s, encode))


async def health(request: web.Request) -> web.Response:
    parse_params(NoParams, request)
    store = request.app[STORE_KEY]
    body: dict[str, Any] = {
        "version": __version__,
        "store": store.name,
        "store_reachable": False,
        "stream_clients": request.app[HUB_KEY].client_count,
        "cache": request.app[CACHE_KEY].report(),
    }
    try:
        await store.ping()
        latest = await store.latest_by_region()
    except StoreUnavailable as exc:
        log.warning("health check: store unavailable: %s", exc)
        body.update(status="unavailable", error=f"store unavailable: {exc}")
        return web.json_response(body, status=503)
    current = now_ms()
    body["status"] = "ok"
    body["store_reachable"] = True
    body["last_point_ms"] = dict(sorted(latest.items()))
    body["last_point_age_s"] = {
        region: round((current - latest_ms) / 1000, 1)
        for region, latest_ms in sorted(latest.items())
    }
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    params = parse_params(MetricsParams, request)
    store = request.app[STORE_KEY]

    async def load() -> dict[str, Any]:
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
        return {
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

    return await cached(request, ("metrics", *params.cache_key()), load)


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
    store = request.app[STORE_KEY]
    layout = request.app[LAYOUT_KEY]

    async def load() -> dict[str, Any]:
        until_ms = now_ms()
        cells = await store.heatmap(until_ms - params.window_ms, until_ms, params.stat)
        cells = fill_heatmap(cells, layout)
        return {
            "window": params.window,
            "stat": params.stat.value,
            "until_ms": until_ms,
            "regions": sorted({cell.region for cell in cells}),
            "providers": sorted({cell.provider for cell in cells}),
            "cells": [asdict(cell) for cell in cells],
        }

    return await cached(request, ("heatmap", *params.cache_key()), load)


async def alerts(request: web.Request) -> web.Response:
    params = parse_params(AlertsParams, request)
    store = request.app[STORE_KEY]

    async def load() -> dict[str, Any]:
        since_ms = now_ms() - params.since_ms
        events = await store.alerts(since_ms, params.limit)
        return {"alerts": [asdict(event) for event in events]}

    return await cached(request, ("alerts", *params.cache_key()), load)


async def routing(request: web.Request) -> web.Response:
    parse_params(NoParams, request)
    store = request.app[STORE_KEY]

    async def load() -> dict[str, Any]:
        entries = await store.routing()
        return {"routes": [asdict(entry) for entry in entries]}

    return await cached(request, ("routing",), load)


def check_bearer_token(request: web.Request, token: SecretStr | None) -> None:
    """Raise 503 when no token is configured and 401 unless the request carries it."""
    if token is None:
        raise web.HTTPServiceUnavailable(
            text=json.dumps(
                {
                    "error": "/api/costs is disabled because no API token is set;"
                    " set BEAMWATCH_API_TOKEN or `token` in the [api] table"
                }
            ),
            content_type="application/json",
        )
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="beamwatch"'}
    if scheme.lower() != "bearer" or not presented.strip():
        log.info("rejected %s from %s: no bearer token", request.path, request.remote)
        raise web.HTTPUnauthorized(
            text=json.dumps(
                {"error": "missing bearer token; send Authorization: Bearer <token>"}
            ),
            content_type="application/json",
            headers=challenge,
        )
    expected = token.get_secret_value().encode()
    if not hmac.compare_digest(presented.strip().encode(), expected):
        log.info("rejected %s from %s: wrong token", request.path, request.remote)
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "invalid bearer token; check the API token"}),
            content_type="application/json",
            headers=challenge,
        )


async def costs(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    check_bearer_token(request, settings.token)
    parse_params(NoParams, request)
    store = request.app[STORE_KEY]

    async def load() -> bytes:
        current_ms = now_ms()
        latest = await store.latest_funds()
        history = await store.funds_history(current_ms - COSTS_HISTORY_MS, current_ms)
        view = costs_view(latest, history, current_ms, settings.runway_warning_days)
        return json_body(view)

    body = await request.app[CACHE_KEY].get(
        ("costs",), settings.costs_cache_ttl_s, load
    )
    return json_bytes_response(body, headers={"Cache-Control": "no-store"})


async def stream(request: web.Request) -> web.StreamResponse:
    parse_params(NoParams, request)
    if request.method == "HEAD":
        return web.Response(content_type="text/event-stream")
    settings = request.app[SETTINGS_KEY]
    hub = request.app[HUB_KEY]
    if hub.client_count >= settings.max_stream_clients:
        log.warning("rejected a live stream: %d clients open", hub.client_count)
        return json_error(
            503,
            f"too many live streams open ({hub.client_count}); retry later, or raise"
            " max_stream_clients",
        )
    return await serve_stream(request, hub, settings.stream_keepalive_s)


async def openapi(request: web.Request) -> web.Response:
    parse_params(NoParams, request)
    return json_bytes_response(request.app[OPENAPI_KEY])


async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(dashboard.STATIC_DIR / "index.html")


async def not_found(request: web.Request) -> web.Response:
    return json_error(404, f"no API endpoint at {request.path}; see /api/openapi.json")


def file_not_found(request: web.Request) -> web.Response:
    path = describe_value(request.path)
    return json_error(404, f"no file at {path}; the dashboard is at /")


async def static_file(request: web.Request) -> web.StreamResponse:
    """Serve a dashboard file, or a JSON 404 for a path that names none.

    aiohttp's static handler (3.14) returns an empty 404 for a missing file
    and a 500 for a file name over the OS limit, so files are looked up here.
    """
    static_dir = dashboard.STATIC_DIR
    try:
        file = (static_dir / request.match_info["path"]).resolve()
        found = file.is_relative_to(static_dir) and file.is_file()
    except (OSError, ValueError):
        # ValueError comes from a NUL byte in the path, OSError from a name
        # too long for the file system.
        found = False
    if not found:
        return file_not_found(request)
    return web.FileResponse(file)


@web.middleware
async def file_not_found_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Return a JSON 404 for an unknown path outside /api, as the API does."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if request.path.startswith("/api"):
            raise
        return file_not_found(request)


async def method_not_allowed(request: web.Request) -> web.Response:
    """Reject any method but GET and HEAD on an endpoint that exists."""
    return json_error(
        405,
        f"method {request.method} is not allowed on {request.path}; use GET",
        headers={"Allow": "GET, HEAD"},
    )


ROUTES = (
    Route("/api/health", health, NoParams, "Store reachability and data age"),
    Route("/api/metrics", metrics, MetricsParams, "Pulse series and summary"),
    Route("/api/heatmap", heatmap, HeatmapParams, "Region x provider statistic"),
    Route("/api/costs", costs, NoParams, "Funds and runway", auth=True),
    Route("/api/alerts", alerts, AlertsParams, "Alert history, newest first"),
    Route("/api/routing", routing, NoParams, "Current routing table"),
    Route("/api/stream", stream, NoParams, "Live updates (server-sent events)"),
    Route("/api/openapi.json", openapi, NoParams, "This description"),
)


def create_app(
    store: Store,
    *,
    layout: dict[str, set[str]] | None = None,
    settings: ApiServerSettings | None = None,
) -> web.Application:
    """Build the API app around `store`.

    `layout` maps each configured region to its providers, so the heatmap can
    show cells that have no data yet. `settings` defaults to the environment
    (BEAMWATCH_API_*) over built-in defaults.
    """
    settings = settings or load_api_settings()
    middlewares: list[Middleware] = [error_middleware, file_not_found_middleware]
    if settings.cors_origins:
        middlewares.insert(0, cors_middleware(settings.cors_origins))
    app = web.Application(
        middlewares=middlewares,
        handler_args={"max_line_size": MAX_REQUEST_LINE_BYTES},
    )
    cache = TTLCache()
    app[STORE_KEY] = store
    app[LAYOUT_KEY] = layout or {}
    app[SETTINGS_KEY] = settings
    app[CACHE_KEY] = cache
    app[HUB_KEY] = StreamHub(
        store,
        poll_s=settings.stream_poll_s,
        now_ms=now_ms,
        on_new_points=lambda: cache.refresh(("metrics", "heatmap")),
        on_new_alerts=lambda: cache.refresh(("alerts", "routing")),
    )
    app[OPENAPI_KEY] = json_body(build_openapi(ROUTES, __version__))

    for route in ROUTES:
        app.router.add_get(route.path, route.handler)
        # Without this, other methods fall through to the catch-all below and
        # get a 404 for a path that exists.
        app.router.add_route("*", route.path, method_not_allowed)
    app.router.add_route("*", "/api", not_found)
    app.router.add_route("*", "/api/{tail:.*}", not_found)
    app.router.add_get("/", index)
    app.router.add_get("/static/{path:.*}", static_file)

    async def start_hub(app: web.Application) -> None:
        app[HUB_KEY].start()

    async def stop_hub(app: web.Application) -> None:
        # On shutdown, not cleanup: open streams must end before the runner
        # waits for handlers to finish.
        await app[HUB_KEY].stop()

    app.on_startup.append(start_hub)
    app.on_shutdown.append(stop_hub)
    return app
