"""Error texts of failed probes: which phase ran out, what refused, and why.

Error texts become a stored field, so they name the host, port, limit or
phase involved and stay under MAX_ERROR_CHARS.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl

import aiohttp
from yarl import URL

from probe.models import Target
from probe.timing import PhaseStamps

# Error texts are fields, kept short so a flood of failures stays cheap to store.
MAX_ERROR_CHARS = 300
# The query and fragment of an http(s) URL inside an error message.
URL_QUERY = re.compile(r"(https?://[^\s'\"?#]+)[?#][^\s'\"]*")


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
    """Describe an error in one line, with URL queries hidden.

    aiohttp reports a response it cannot parse as ClientResponseError with a
    status 400 of its own and the request URL, whose query may carry a token,
    so only its message is kept.
    """
    if isinstance(exc, aiohttp.ClientResponseError):
        text = f"invalid HTTP response: {exc.message}"
    elif str(exc):
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = type(exc).__name__
    text = URL_QUERY.sub(r"\1?(query hidden)", " ".join(text.split()))
    return text[:MAX_ERROR_CHARS]
