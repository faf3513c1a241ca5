"""An aiohttp origin with the awkward behaviours a probe has to survive.

Routes:
- `/bytes/{n}`: n bytes of `x`.
- `/text`: a short text body, for the body checks.
- `/gzip`: a gzip-encoded body that decodes to GZIP_PLAIN.
- `/chunked`: CHUNKS sent with chunked transfer encoding.
- `/trickle`: headers at once, then one body byte every TRICKLE_PERIOD_S.
- `/redirect/{n}`: n redirects in a chain, ending at `/text`.
- `/loop/a` and `/loop/b`: redirect to each other forever.
- `/filbeam/{status}/{cid}`: that status with FilBeam's X-Data-Set-ID and
  cf-ray headers, for a FilBeam target whose base URL is `/filbeam/{status}`.
"""

from __future__ import annotations

import asyncio
import gzip

from aiohttp import web

TEXT = "hello from the beamwatch test origin\n"
GZIP_PLAIN = b"compressible " * 1000
CHUNKS = (b"a" * 1000, b"b" * 2000, b"c" * 3000)
TRICKLE_PERIOD_S = 0.1
DATA_SET_ID = "1234"
CF_RAY = "8f1e2d3c4b5a6978-FRA"


async def sized(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * int(request.match_info["n"]))


async def text(_request: web.Request) -> web.Response:
    return web.Response(text=TEXT)


async def gzipped(_request: web.Request) -> web.Response:
    return web.Response(
        body=gzip.compress(GZIP_PLAIN),
        headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
    )


async def chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for chunk in CHUNKS:
        await response.write(chunk)
        await asyncio.sleep(0.01)
    await response.write_eof()
    return response


async def trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_length = 1_000_000
    await response.prepare(request)
    for _ in range(1_000_000):
        await response.write(b"t")
        await asyncio.sleep(TRICKLE_PERIOD_S)
    return response


async def redirect_chain(request: web.Request) -> web.Response:
    remaining = int(request.match_info["n"])
    location = "/text" if remaining <= 1 else f"/redirect/{remaining - 1}"
    raise web.HTTPFound(location)


async def loop_a(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop/b")


async def loop_b(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop/a")


async def filbeam(request: web.Request) -> web.Response:
    return web.Response(
        status=int(request.match_info["status"]),
        text="filbeam test answer\n",
        headers={"X-Data-Set-ID": DATA_SET_ID, "cf-ray": CF_RAY},
    )


def create_origin_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/bytes/{n}", sized)
    app.router.add_get("/text", text)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/trickle", trickle)
    app.router.add_get("/redirect/{n}", redirect_chain)
    app.router.add_get("/loop/a", loop_a)
    app.router.add_get("/loop/b", loop_b)
    app.router.add_get("/filbeam/{status}/{cid}", filbeam)
    return app
