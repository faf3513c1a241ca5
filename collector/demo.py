"""A local origin with set delays, so a first `beamwatch run` has real targets.

`GET /delay/{ms}?bytes=N` delays its headers for `ms` milliseconds, then sends
N bytes; `GET /status/{code}` responds with that status. Nothing is faked: the
probes measure this server over loopback like any other.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

MAX_DELAY_MS = 60_000
MAX_BODY_BYTES = 16 * 1024 * 1024


def _bounded_int(request: web.Request, text: str, name: str, upper: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f"{name} must be an integer, got {text!r}"
        ) from None
    if not 0 <= value <= upper:
        raise web.HTTPBadRequest(text=f"{name} must be between 0 and {upper}")
    return value


async def delayed(request: web.Request) -> web.Response:
    delay_ms = _bounded_int(request, request.match_info["ms"], "delay", MAX_DELAY_MS)
    size = _bounded_int(
        request, request.query.get("bytes", "1024"), "bytes", MAX_BODY_BYTES
    )
    await asyncio.sleep(delay_ms / 1000)
    return web.Response(body=b"b" * size, content_type="application/octet-stream")


async def status(request: web.Request) -> web.Response:
    code = _bounded_int(request, request.match_info["code"], "status", 599)
    if code < 200:
        raise web.HTTPBadRequest(text="status must be between 200 and 599")
    return web.Response(status=code, text=f"demo status {code}\n")


def create_demo_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/delay/{ms}", delayed)
    app.router.add_get("/status/{code}", status)
    return app
