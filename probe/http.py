"""The HTTP probe: one timed GET that always returns a Measurement.

A slow, refused, broken or lying target is an outcome, never an exception.
Each probe opens a fresh connection and resolves the name again, so every
measurement includes DNS, TCP and TLS the way a first-time client sees them.
The moments themselves are stamped at the socket and by the kernel (see
`probe.sockets` and `probe.stamping`) and turned into phases by
`probe.timing.phases`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import ssl
import time
from collections.abc import Callable

import aiohttp
from yarl import URL

from probe.checks import judge
from probe.failures import (
    connector_error_text,
    error_text,
    family_mismatch,
    timeout_text,
)
from probe.models import Measurement, Outcome, Target, start_measurement
from probe.sockets import ACTIVE_PROBE, open_timestamp_keeper, start_probe
from probe.stamping import stamping_connector, stamping_ssl_context
from probe.timing import PhaseStamps, RedirectLoopError, build_trace_config, phases
from probe.tlscert import days_left, fetch_not_after

log = logging.getLogger(__name__)

USER_AGENT = "beamwatch-probe/0.1"
READ_CHUNK_BYTES = 64 * 1024
FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}

Body = tuple[bytearray, "hashlib._Hash | None"]


class ProbeClient:
    """Owns the aiohttp sessions that probes share; one per IP family.

    Connections are never kept alive and DNS is never cached, so that each
    probe measures a first visit. Use as an async context manager.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.perf_counter,
        kernel_stamps: bool = False,
    ) -> None:
        """Create a client that stamps with `clock`.

        By default bytes and the TCP handshake are stamped where the event
        loop handles them, as curl and blackbox_exporter do in their own
        processes, so the figures agree with theirs. `kernel_stamps=True`
        takes the kernel's arrival times instead (Linux only): they leave out
        the client's own wake-up delay, which keeps figures steady when the
        prober is busy, but read lower than curl by that delay.
        """
        self._clock = clock
        self._kernel_stamps = kernel_stamps
        self._timestamp_keeper = open_timestamp_keeper() if kernel_stamps else None
        self._sessions: dict[socket.AddressFamily, aiohttp.ClientSession] = {}
        self._ssl_verified = stamping_ssl_context(verify=True)
        self._ssl_unverified = stamping_ssl_context(verify=False)

    async def __aenter__(self) -> ProbeClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._timestamp_keeper is not None:
            self._timestamp_keeper.close()
            self._timestamp_keeper = None
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()

    def _session(self, family: socket.AddressFamily) -> aiohttp.ClientSession:
        session = self._sessions.get(family)
        if session is None:
            session = aiohttp.ClientSession(
                connector=stamping_connector(family),
                trace_configs=[build_trace_config(self._clock)],
                headers={"User-Agent": USER_AGENT},
                auto_decompress=True,
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._sessions[family] = session
        return session

    async def probe(self, target: Target) -> Measurement:
        """Probe `target` once, within its timeout, and return what happened."""
        measurement = start_measurement(target)
        url = URL(target.resolved_url)
        family_error = family_mismatch(url, target)
        if family_error is not None:
            measurement.outcome = Outcome.CONNECT_ERROR
            measurement.error = family_error
            return measurement

        stamps = PhaseStamps()
        family = FAMILIES.get(target.ip_version or 0, socket.AF_UNSPEC)
        session = self._session(family)
        token = start_probe(stamps, self._clock, kernel_stamps=self._kernel_stamps)
        stamps.request_start = self._clock()
        body: Body | None = None
        rejected_certificate: aiohttp.ClientConnectorCertificateError | None = None
        try:
            async with asyncio.timeout(target.timeout_s):
                body = await self._retrieve(session, target, stamps, measurement)
        except TimeoutError as exc:
            measurement.outcome = Outcome.TIMEOUT
            measurement.error = timeout_text(exc, target, stamps)
        except aiohttp.TooManyRedirects as exc:
            measurement.outcome = Outcome.TOO_MANY_REDIRECTS
            measurement.error = (
                exc.message
                if isinstance(exc, RedirectLoopError)
                else f"more than max_redirects={target.max_redirects} redirects"
            )
        except aiohttp.ClientConnectorDNSError as exc:
            measurement.outcome = Outcome.DNS_ERROR
            measurement.error = connector_error_text("DNS lookup of", exc)
            if target.ip_version is not None:
                measurement.error += f" (IPv{target.ip_version} addresses only)"
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            measurement.outcome = Outcome.TLS_ERROR
            measurement.error = connector_error_text("TLS handshake with", exc)
            if isinstance(exc, aiohttp.ClientConnectorCertificateError):
                rejected_certificate = exc
        except aiohttp.ClientConnectorError as exc:
            measurement.outcome = Outcome.CONNECT_ERROR
            measurement.error = connector_error_text("TCP connect to", exc)
        except ssl.SSLError as exc:
            measurement.outcome = Outcome.TLS_ERROR
            measurement.error = error_text(exc)
        except (aiohttp.ClientError, ValueError) as exc:
            measurement.outcome = Outcome.PROTOCOL_ERROR
            measurement.error = error_text(exc)
        finally:
            ACTIVE_PROBE.reset(token)

        finished = self._clock()
        if rejected_certificate is not None and rejected_certificate.port:
            # Read the expiry over a second, unverified connection, after the
            # probe's own time was taken.
            remaining_s = target.timeout_s - (finished - stamps.request_start)
            stamps.tls_not_after = await fetch_not_after(
                rejected_certificate.host,
                rejected_certificate.port,
                rejected_certificate.host,
                max(remaining_s, 0.1),
            )
        _record_stamps(measurement, stamps, finished)
        if body is not None:
            judge(target, measurement, *body)
        return measurement

    async def _retrieve(
        self,
        session: aiohttp.ClientSession,
        target: Target,
        stamps: PhaseStamps,
        measurement: Measurement,
    ) -> Body | None:
        """Fetch the response, counting the body; return what the checks need.

        Returns None when the body went over `max_bytes`, and sets the outcome.
        """
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=target.connect_timeout_s,
            sock_read=target.read_timeout_s,
        )
        ssl_context = self._ssl_verified if target.verify_tls else self._ssl_unverified
        async with session.get(
            target.resolved_url,
            trace_request_ctx=stamps,
            # aiohttp raises on reaching max_redirects; curl, and this target's
            # max_redirects, follow that many and raise only on one more.
            max_redirects=target.max_redirects + 1,
            allow_redirects=target.max_redirects > 0,
            ssl=ssl_context,
            timeout=timeout,
        ) as response:
            stamps.headers_received = self._clock()
            measurement.status_code = response.status
            version = response.version
            if version is not None:
                measurement.http_version = f"{version.major}.{version.minor}"
            measurement.data_set_id = response.headers.get("X-Data-Set-ID")
            measurement.cf_ray = response.headers.get("cf-ray")

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


def _record_stamps(
    measurement: Measurement, stamps: PhaseStamps, finished: float
) -> None:
    derived = phases(stamps, finished)
    measurement.dns_ms = derived.dns_ms
    measurement.connect_ms = derived.connect_ms
    measurement.tls_ms = derived.tls_ms
    measurement.ttfb_ms = derived.ttfb_ms
    measurement.download_ms = derived.download_ms
    measurement.total_ms = derived.total_ms
    measurement.redirects = stamps.redirects
    measurement.connection_reused = stamps.connection_reused
    measurement.remote_ip = stamps.remote_ip
    measurement.tls_cert_expiry_days = days_left(stamps.tls_not_after)
