"""Timestamps of one HTTP retrieval, and the phases derived from them.

Every stamp is `time.perf_counter()` in seconds, set once by an aiohttp trace
signal or by the probe itself. `phases()` is the only place that turns stamps
into the millisecond phases of the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp


@dataclass(slots=True)
class PhaseStamps:
    request_start: float | None = None
    dns_start: float | None = None
    dns_end: float | None = None
    connect_start: float | None = None
    connect_end: float | None = None
    tls_start: float | None = None
    tls_end: float | None = None
    headers_sent: float | None = None
    headers_received: float | None = None
    body_end: float | None = None
    connection_reused: bool = False
    redirects: int = 0

    def restart_for_redirect(self) -> None:
        """Forget the connection stamps of the previous hop; keep request_start."""
        self.redirects += 1
        self.headers_sent = None
        self.headers_received = None


def _span_ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start) * 1000.0


@dataclass(slots=True)
class Phases:
    dns_ms: float | None
    connect_ms: float | None
    tls_ms: float | None
    ttfb_ms: float | None
    download_ms: float | None
    total_ms: float | None


def phases(stamps: PhaseStamps, finished: float) -> Phases:
    """Derive the schema's phases from the stamps of one attempt.

    `connect_ms` is TCP only: it starts when the name was resolved (or when the
    connection attempt started, for an IP literal) and ends where the TLS
    handshake starts. On a reused connection connect and TLS are None, since
    nothing was measured.
    """
    tcp_start = stamps.dns_end if stamps.dns_end is not None else stamps.connect_start
    tcp_end = stamps.tls_start if stamps.tls_start is not None else stamps.connect_end
    return Phases(
        dns_ms=_span_ms(stamps.dns_start, stamps.dns_end),
        connect_ms=_span_ms(tcp_start, tcp_end),
        tls_ms=_span_ms(stamps.tls_start, stamps.tls_end),
        ttfb_ms=_span_ms(stamps.request_start, stamps.headers_received),
        download_ms=_span_ms(stamps.headers_received, stamps.body_end),
        total_ms=_span_ms(stamps.request_start, finished),
    )


def _stamps(context: SimpleNamespace) -> PhaseStamps | None:
    stamps = context.trace_request_ctx
    return stamps if isinstance(stamps, PhaseStamps) else None


def build_trace_config(clock: Any) -> aiohttp.TraceConfig:
    """Return a TraceConfig that stamps the PhaseStamps passed as trace_request_ctx."""
    config = aiohttp.TraceConfig()

    async def on_dns_start(_s: Any, context: SimpleNamespace, _p: Any) -> None:
        stamps = _stamps(context)
        if stamps is not None:
            stamps.dns_start = clock()

    async def on_dns_end(_s: Any, context: SimpleNamespace, _p: Any) -> None:
        stamps = _stamps(context)
        if stamps is not None:
            stamps.dns_end = clock()

    async def on_connect_start(_s: Any, context: SimpleNamespace, _p: Any) -> None:
        stamps = _stamps(context)
        if stamps is not None:
            stamps.connect_start = clock()
            stamps.dns_start = stamps.dns_end = None
            stamps.tls_start = stamps.tls_end = None
            stamps.connection_reused = False

    async def on_connect_end(_s: Any, context: SimpleNamespace, _p: Any) -> None:
        stamps = _stamps(context)
        if stamps is not None:
            stamps.connect_end = clock()

    async def on_reuse(_s: Any, context: SimpleNamespace, _p: Any) -> None:
        stamps = _stamps(context)
        if stamps is not None:
            stamps.connection_reused = True
            stamps.connect_start = stamps.connect_end = None
            stamps.tls_start = stamps.tls_end = None

    async def on_headers_sent(_s: Any, context: SimpleNamespace, _p: Any) -> None:
        stamps = _stamps(context)
        if stamps is not None:
            stamps.headers_sent = clock()

    async def on_redirect(_s: Any, context: SimpleNamespace, _p: Any) -> None:
        stamps = _stamps(context)
        if stamps is not None:
            stamps.restart_for_redirect()

    config.on_dns_resolvehost_start.append(on_dns_start)
    config.on_dns_resolvehost_end.append(on_dns_end)
    config.on_connection_create_start.append(on_connect_start)
    config.on_connection_create_end.append(on_connect_end)
    config.on_connection_reuseconn.append(on_reuse)
    config.on_request_headers_sent.append(on_headers_sent)
    config.on_request_redirect.append(on_redirect)
    return config
