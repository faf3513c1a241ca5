"""Middleware of the API: JSON errors, security headers and CORS.

Every error under /api is JSON `{"error": "..."}`: 400 for a bad parameter,
401 for a missing or wrong token, 404 for an unknown path, 503 when the store
does not respond. The API itself stays up while the store is down.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from collector.store.base import StoreUnavailable

log = logging.getLogger(__name__)

# The dashboard loads its scripts, styles and data from this origin only, and
# draws charts on canvas or inline SVG, which needs no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " font-src 'self'; connect-src 'self'; manifest-src 'self';"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

CORS_MAX_AGE_S = 600


def json_error(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Turn store outages and HTTP errors into JSON responses with security headers."""
    try:
        response = await handler(request)
    except StoreUnavailable as exc:
        log.warning("store unavailable for %s: %s", request.path, exc)
        response = json_error(503, f"store unavailable: {exc}; retry shortly")
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or not request.path.startswith(
            "/api"
        ):
            for name, value in SECURITY_HEADERS.items():
                exc.headers.setdefault(name, value)
            raise
        response = json_error(exc.status, exc.reason)
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def cors_middleware(origins: list[str]) -> Middleware:
    """Allow cross-origin GETs under /api from the exact `origins` listed.

    A preflight (OPTIONS with Access-Control-Request-Method) is handled here,
    before routing, because the API registers GET handlers only.
    """
    allowed = frozenset(origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or not request.path.startswith("/api"):
            return await handler(request)
        if origin not in allowed:
            # No CORS headers: the browser blocks the page from reading it.
            return await handler(request)

        cors_headers = {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
        }
        if request.method == "OPTIONS" and (
            "Access-Control-Request-Method" in request.headers
        ):
            preflight = web.Response(status=204, headers=cors_headers)
            preflight.headers["Access-Control-Allow-Methods"] = "GET, HEAD"
            preflight.headers["Access-Control-Allow-Headers"] = "Authorization"
            preflight.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_S)
            for name, value in SECURITY_HEADERS.items():
                preflight.headers.setdefault(name, value)
            return preflight

        response = await handler(request)
        if not response.prepared:
            response.headers.update(cors_headers)
        return response

    return middleware
