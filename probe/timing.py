"""Timestamps of one HTTP retrieval, and the phases derived from them.

Every stamp is `time.perf_counter()` in seconds, or the probe's injected
clock. aiohttp trace signals, the socket and protocol hooks in
`probe.sockets` and `probe.stamping`, and the probe itself set them. Some are
kernel times converted to that clock. `phases()` is the only place that
turns stamps into the millisecond phases of the schema.

TTFB and total count network and server time only, the way curl's
`time_starttransfer` and `time_total` do: the sum of the DNS, TCP and TLS
phases plus the wait from sending the request to the first response byte.
Python work between those steps (building the request, aiohttp's connection
bookkeeping) is left out, since it is the prober's cost and not the target's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp


class RedirectLoopError(aiohttp.TooManyRedirects):
    """A redirect led back to a URL that already redirected in this chain."""


@dataclass(slots=True)
class PhaseStamps:
    """Stamps of the current hop, plus what earlier redirect hops added up to."""

    request_start: float | None = None
    dns_start: float | None = None
    dns_end: float | None = None
    dns_lookup_ms: float | None = None
    connect_start: float | None = None
    tcp_start: float | None = None
    tcp_connected: float | None = None
    tcp_rtt_ms: float | None = None
    connect_end: float | None = None
    tls_start: float | None = None
    tls_end: float | None = None
    headers_sent: float | None = None
    last_send: float | None = None
    last_receive: float | None = None
    request_sent: float | None = None
    first_byte: float | None = None
    last_byte: float | None = None
    headers_received: float | None = None
    body_end: float | None = None
    connection_reused: bool = False
    redirects: int = 0
    redirect_ms: float = 0.0
    remote_ip: str | None = None
    tls_not_after: float | None = None
    redirected_from: list[str] = field(default_factory=list)

    def restart_for_redirect(self) -> None:
        """Fold the finished hop into `redirect_ms` and forget its stamps."""
        self.redirect_ms += _hop_ms(self, self.last_byte) or 0.0
        self.redirects += 1
        self.dns_start = self.dns_end = self.dns_lookup_ms = None
        self.connect_start = self.tcp_start = self.connect_end = None
        self.tcp_connected = self.tcp_rtt_ms = None
        self.tls_start = self.tls_end = None
        self.headers_sent = self.headers_received = None
        self.last_send = self.last_receive = self.request_sent = None
        self.first_byte = self.last_byte = None
        self.connection_reused = False


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


def _connect_span(stamps: PhaseStamps) -> tuple[float | None, float | None]:
    """Return the TCP connect's start and end.

    The socket's own stamps come first. Without them, as under another event
    loop, the connect starts where DNS ended and ends where TLS starts or
    where aiohttp made the connection.
    """
    start = stamps.tcp_start
    if start is None:
        start = stamps.dns_end if stamps.dns_end is not None else stamps.connect_start
    end = stamps.tcp_connected
    if end is None:
        end = stamps.tls_start if stamps.tls_start is not None else stamps.connect_end
    return start, end


def _dns_ms(stamps: PhaseStamps) -> float | None:
    """Return the lookup time taken in the resolver thread, else the trace span."""
    if stamps.dns_lookup_ms is not None:
        return stamps.dns_lookup_ms
    return _span_ms(stamps.dns_start, stamps.dns_end)


def _connect_ms(stamps: PhaseStamps) -> float | None:
    """Return the TCP handshake time: the kernel's round trip if it has one."""
    if stamps.tcp_rtt_ms is not None:
        return stamps.tcp_rtt_ms
    return _span_ms(*_connect_span(stamps))


def _hop_ms(stamps: PhaseStamps, received: float | None) -> float | None:
    """Return the network time of the current hop up to the `received` stamp.

    That is DNS + TCP + TLS + (received - request sent), or None before the
    request was sent or anything came back. The request counts as sent at the
    last socket send before the first response byte, or where aiohttp
    signalled its headers sent if the socket stamps are missing.
    """
    sent = stamps.request_sent
    if sent is None:
        sent = stamps.headers_sent
    wait_ms = _span_ms(sent, received)
    if wait_ms is None:
        return None
    setup = (
        _dns_ms(stamps),
        _connect_ms(stamps),
        _span_ms(stamps.tls_start, stamps.tls_end),
    )
    return sum(span for span in setup if span is not None) + wait_ms


def phases(stamps: PhaseStamps, finished: float) -> Phases:
    """Derive the schema's phases from the stamps of one attempt.

    `connect_ms` is TCP only and `tls_ms` the handshake only; on a reused
    connection both are None, since nothing was measured. DNS, connect and TLS
    describe the last hop of a redirect chain, while TTFB and total include
    every hop. `download_ms` runs from the first to the last response byte and
    is None unless the body was read to its end or to the size cap. When the
    probe ended before that, `total_ms` is the wall-clock time until
    `finished`.
    """
    hop_ttfb_ms = _hop_ms(stamps, stamps.first_byte)
    ttfb_ms = None if hop_ttfb_ms is None else stamps.redirect_ms + hop_ttfb_ms
    download_ms: float | None = None
    total_ms: float | None
    if stamps.body_end is not None:
        download_ms = _span_ms(stamps.first_byte, stamps.last_byte)
    if ttfb_ms is not None and download_ms is not None:
        total_ms = ttfb_ms + download_ms
    else:
        total_ms = _span_ms(stamps.request_start, finished)

    reused = stamps.connection_reused
    return Phases(
        dns_ms=_dns_ms(stamps),
        connect_ms=None if reused else _connect_ms(stamps),
        tls_ms=None if reused else _span_ms(stamps.tls_start, stamps.tls_end),
        ttfb_ms=ttfb_ms,
        download_ms=download_ms,
        total_ms=total_ms,
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
            stamps.connection_reused = False

    async def on_reuse(_s: Any, context: SimpleNamespace, _p: Any) -> None:
        stamps = _stamps(context)
        if stamps is not None:
            stamps.connection_reused = True
            stamps.connect_start = stamps.tcp_start = stamps.connect_end = None
            stamps.tls_start = stamps.tls_end = None

    async def on_headers_sent(_s: Any, context: SimpleNamespace, _p: Any) -> None:
        stamps = _stamps(context)
        if stamps is not None:
            stamps.headers_sent = clock()

    async def on_redirect(_s: Any, context: SimpleNamespace, params: Any) -> None:
        stamps = _stamps(context)
        if stamps is None:
            return
        url = str(params.url)
        if url in stamps.redirected_from:
            raise RedirectLoopError(
                params.response.request_info,
                params.response.history,
                message=f"redirect loop: {url} redirected twice",
            )
        stamps.redirected_from.append(url)
        stamps.restart_for_redirect()

    config.on_dns_resolvehost_start.append(on_dns_start)
    config.on_dns_resolvehost_end.append(on_dns_end)
    config.on_connection_create_start.append(on_connect_start)
    config.on_connection_reuseconn.append(on_reuse)
    config.on_request_headers_sent.append(on_headers_sent)
    config.on_request_redirect.append(on_redirect)
    return config
