"""Error texts of failed probes: which phase ran out, what refused, and why.

Error texts become a stored field, so they name the host, port, limit or
phase involved and stay under MAX_ERROR_CHARS.
"""

from __future__ import annotations

import ipaddress
import os
import ssl

import aiohttp
from yarl import URL

from probe.models import Target
from probe.timing import PhaseStamps

# Error texts are fields, kept short so a flood of failures stays cheap to store.
MAX_ERROR_CHARS = 300


def family_mismatch(url: URL, target: Target) -> str | None:
    """Describe an IP literal that the target's ip_version rules out."""
    if target.ip_version is None or url.host is None:
        return None
    try:
        address = ipaddress.ip_address(url.host)
    except ValueError:
        return None
    if address.version == target.ip_version:
        return None
    return (
        f"{url.host} is an IPv{address.version} address but ip_version is"
        f" {target.ip_version}; drop the IP version or use an IPv"
        f"{target.ip_version} address"
    )


def phase_reached(stamps: PhaseStamps) -> str:
    """Name the schema phase that was running when a deadline ran out."""
    if stamps.headers_received is not None:
        return "download"
    if stamps.headers_sent is not None:
        return "ttfb"
    if stamps.tls_end is not None or stamps.connect_end is not None:
        return "send request"
    if stamps.tls_start is not None:
        return "tls"
    if stamps.dns_end is not None or stamps.tcp_start is not None:
        return "connect"
    return "dns"


def timeout_text(exc: TimeoutError, target: Target, stamps: PhaseStamps) -> str:
    phase = phase_reached(stamps)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        limit = f"connect_timeout_s={target.connect_timeout_s:g}"
    elif isinstance(exc, aiohttp.SocketTimeoutError):
        limit = f"read_timeout_s={target.read_timeout_s:g}"
    else:
        limit = f"timeout_s={target.timeout_s:g}"
    return f"timed out in the {phase} phase after {limit}"


def connector_error_text(
    action: str, exc: aiohttp.ClientConnectorError | aiohttp.ClientSSLError
) -> str:
    """Describe a failed connection by host, port and cause, without aiohttp's
    repr of the SSL context."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cause: BaseException = exc.certificate_error
    elif isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
    else:
        cause = exc
    reason = str(cause)
    if isinstance(cause, OSError) and not isinstance(cause, ssl.SSLError):
        if cause.errno is not None and cause.errno > 0:
            reason = os.strerror(cause.errno)
        elif cause.strerror:
            reason = cause.strerror
    host = getattr(exc, "host", "?")
    port = getattr(exc, "port", "?")
    return f"{action} {host}:{port} failed: {reason}"[:MAX_ERROR_CHARS]


def error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]
