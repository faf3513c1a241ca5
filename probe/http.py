"""The HTTP probe: one timed GET that always returns a Measurement.

A slow, refused, broken or lying target is an outcome, never an exception.
Each probe opens a fresh connection and resolves the name again, so every
measurement includes DNS, TCP and TLS the way a first-time client sees them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable

import aiohttp

from probe.filbeam import describe_status
from probe.models import Checks, Measurement, Outcome, Target
from probe.timing import PhaseStamps, build_trace_config, phases

log = logging.getLogger(__name__)

USER_AGENT = "beamwatch-probe/0.1"
READ_CHUNK_BYTES = 64 * 1024
# Error texts are fields, kept short so a flood of failures stays cheap to store.
MAX_ERROR_CHARS = 300


class ProbeClient:
    """Owns the aiohttp sessions that probes share; one per IP family.

    Connections are never kept alive and DNS is never cached, so that each
    probe measures a first visit. Use as an async context manager.
    """

    def __init__(self, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._sessions: dict[socket.AddressFamily, aiohttp.ClientSession] = {}

    async def __aenter__(self) -> ProbeClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()

    def _session(self, family: socket.AddressFamily) -> aiohttp.ClientSession:
        session = self._sessions.get(family)
        if session is None:
            connector = aiohttp.TCPConnector(
                force_close=True, use_dns_cache=False, family=family, limit=0
            )
            session = aiohttp.ClientSession(
                connector=connector,
                trace_configs=[build_trace_config(self._clock)],
                headers={"User-Agent": USER_AGENT},
                auto_decompress=True,
            )
            self._sessions[family] = session
        return session

    async def probe(self, target: Target) -> Measurement:
        """Probe `target` once, within its timeout, and return what happened."""
        family = {4: socket.AF_INET, 6: socket.AF_INET6}.get(
            target.ip_version or 0, socket.AF_UNSPEC
        )
        session = self._session(family)
        stamps = PhaseStamps()
        measurement = Measurement(
            time_ms=int(time.time() * 1000),
            target=target.name,
            provider=target.provider,
            region=target.region,
            network=target.resolved_network.value,
            outcome=Outcome.OK,
        )
        stamps.request_start = self._clock()
        body: tuple[bytearray, hashlib._Hash | None] | None = None
        try:
            async with asyncio.timeout(target.timeout_s):
                body = await self._retrieve(session, target, stamps, measurement)
        except TimeoutError:
            measurement.outcome = Outcome.TIMEOUT
            measurement.error = (
                f"timed out after {target.timeout_s:g} s"
                f" during {_phase_reached(stamps)}"
            )
        except aiohttp.TooManyRedirects:
            measurement.outcome = Outcome.PROTOCOL_ERROR
            measurement.error = f"more than {target.max_redirects} redirects"
        except aiohttp.ClientConnectorDNSError as exc:
            measurement.outcome = Outcome.DNS_ERROR
            measurement.error = _error_text(exc)
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            measurement.outcome = Outcome.TLS_ERROR
            measurement.error = _error_text(exc)
        except aiohttp.ClientConnectorError as exc:
            measurement.outcome = Outcome.CONNECT_ERROR
            measurement.error = _error_text(exc)
        except (aiohttp.ClientError, ssl.SSLError, ValueError) as exc:
            measurement.outcome = Outcome.PROTOCOL_ERROR
            measurement.error = _error_text(exc)

        derived = phases(stamps, self._clock())
        measurement.dns_ms = derived.dns_ms
        measurement.connect_ms = derived.connect_ms
        measurement.tls_ms = derived.tls_ms
        measurement.ttfb_ms = derived.ttfb_ms
        measurement.download_ms = derived.download_ms
        measurement.total_ms = derived.total_ms
        measurement.redirects = stamps.redirects
        measurement.connection_reused = stamps.connection_reused
        if body is not None:
            _judge(target, measurement, *body)
        return measurement

    async def _retrieve(
        self,
        session: aiohttp.ClientSession,
        target: Target,
        stamps: PhaseStamps,
        measurement: Measurement,
    ) -> tuple[bytearray, hashlib._Hash | None] | None:
        """Fetch the response, counting the body; return what the checks need.

        Returns None when the body went over `max_bytes`; the outcome says so.
        """
        async with session.get(
            target.resolved_url,
            trace_request_ctx=stamps,
            max_redirects=target.max_redirects,
            allow_redirects=target.max_redirects > 0,
            ssl=target.verify_tls,
        ) as response:
            stamps.headers_received = self._clock()
            measurement.status_code = response.status
            version = response.version
            if version is not None:
                measurement.http_version = f"{version.major}.{version.minor}"
            measurement.data_set_id = response.headers.get("X-Data-Set-ID")
            measurement.cf_ray = response.headers.get("cf-ray")
            peer = response.connection.transport if response.connection else None
            if peer is not None:
                address = peer.get_extra_info("peername")
                if address:
                    measurement.remote_ip = str(address[0])

            digest = hashlib.sha256() if target.checks.sha256 else None
            keep_body = bool(target.checks.body_contains or target.checks.body_regex)
            kept = bytearray()
            async for chunk in response.content.iter_chunked(READ_CHUNK_BYTES):
                measurement.bytes += len(chunk)
                if measurement.bytes > target.max_bytes:
                    stamps.body_end = self._clock()
                    measurement.outcome = Outcome.BODY_TOO_LARGE
                    measurement.error = (
                        f"body exceeds max_bytes={target.max_bytes}; stopped reading"
                    )
                    return None
                if digest is not None:
                    digest.update(chunk)
                if keep_body:
                    kept += chunk
            stamps.body_end = self._clock()
        return kept, digest


def _judge(
    target: Target,
    measurement: Measurement,
    body: bytearray,
    digest: hashlib._Hash | None,
) -> None:
    """Set the outcome from the status code and the target's checks."""
    status = measurement.status_code
    checks: Checks = target.checks
    assert status is not None
    if checks.status_codes:
        if status not in checks.status_codes:
            measurement.outcome = Outcome.ASSERTION_FAILED
            measurement.error = (
                f"status {status} is not one of {list(checks.status_codes)}"
            )
            return
    elif status >= 400:
        measurement.outcome = Outcome.HTTP_ERROR
        measurement.error = describe_status(status)
        return

    failure = _check_body(checks, measurement, body, digest)
    if failure is not None:
        measurement.outcome = Outcome.ASSERTION_FAILED
        measurement.error = failure


def _check_body(
    checks: Checks,
    measurement: Measurement,
    body: bytearray,
    digest: hashlib._Hash | None,
) -> str | None:
    size = measurement.bytes
    if checks.min_bytes is not None and size < checks.min_bytes:
        return f"body has {size} bytes, fewer than min_bytes={checks.min_bytes}"
    if checks.body_contains is not None and checks.body_contains.encode() not in body:
        return f"body does not contain {checks.body_contains!r}"
    if checks.body_regex is not None:
        text = body.decode("utf-8", errors="replace")
        if re.search(checks.body_regex, text) is None:
            return f"body does not match regular expression {checks.body_regex!r}"
    if digest is not None and checks.sha256 is not None:
        actual = digest.hexdigest()
        if actual != checks.sha256.lower():
            return f"body SHA-256 is {actual}, expected {checks.sha256}"
    ttfb_ms = measurement.ttfb_ms
    limit_ms = checks.max_ttfb_ms
    if limit_ms is not None and ttfb_ms is not None and ttfb_ms > limit_ms:
        return f"TTFB {ttfb_ms:.1f} ms exceeds max_ttfb_ms={limit_ms:g}"
    return None


def _phase_reached(stamps: PhaseStamps) -> str:
    """Name the phase that was running when a deadline ran out."""
    if stamps.headers_received is not None:
        return "download"
    if stamps.headers_sent is not None:
        return "wait for first byte"
    if stamps.connect_end is not None or stamps.connection_reused:
        return "send request"
    if stamps.tls_start is not None:
        return "TLS handshake"
    if stamps.dns_end is not None or stamps.connect_start is not None:
        return "connect"
    return "DNS lookup"


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]
