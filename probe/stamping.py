"""Hooks that stamp a retrieval where aiohttp's trace signals cannot see.

aiohttp's trace signals fire after its own work: headers are parsed before
`session.get()` returns, and TCP and TLS end in one signal. Besides the
socket in `probe.sockets`, two hooks stamp the moments themselves:

- an `ssl.SSLObject` subclass stamps the first call of `do_handshake`, when
  the ClientHello is about to leave, and the arrival of the server's last
  handshake flight, when the call that completes the handshake returns,
- a `ResponseHandler` subclass stamps the arrival of the first and the
  latest response bytes, and records the peer's address.

The hooks find the PhaseStamps of the probe that opened the connection in a
context variable, which asyncio copies into every callback the connection
schedules from the probe's task.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler

from probe.resolver import StampingResolver
from probe.sockets import ActiveProbe, active_probe, create_stamping_socket
from probe.timing import PhaseStamps
from probe.tlscert import not_after_from_der


def _arrival(active: ActiveProbe) -> float:
    """Return when the bytes being handled arrived: the kernel's stamp, or now."""
    arrived = active.stamps.last_receive
    return arrived if arrived is not None else active.clock()


class StampingSSLObject(ssl.SSLObject):
    """An SSLObject that stamps when its handshake starts and completes.

    The handshake counts as done when the server's last flight arrived, plus
    the time the completing `do_handshake` call took to process it. So the
    client's own key exchange and verification count, as in curl, but the
    time the event loop took to reach that flight does not.
    """

    def do_handshake(self) -> None:
        active: ActiveProbe | None
        try:
            active = self.__dict__["_beamwatch_probe"]
        except KeyError:
            active = self.__dict__["_beamwatch_probe"] = active_probe()
            if active is not None and active.current():
                active.stamps.tls_start = active.clock()
        started = active.clock() if active is not None else 0.0

        super().do_handshake()

        if active is not None and active.current():
            finished = active.clock()
            arrived = active.stamps.last_receive
            active.stamps.tls_end = (
                finished if arrived is None else arrived + (finished - started)
            )
            certificate = self.getpeercert(binary_form=True)
            if certificate:
                active.stamps.tls_not_after = not_after_from_der(certificate)


class StampingResponseHandler(ResponseHandler):
    """aiohttp's response protocol, stamping connection and byte arrival."""

    def __init__(self, loop: Any) -> None:
        super().__init__(loop)
        self._beamwatch_probe = active_probe()

    def connection_made(self, transport: Any) -> None:
        active = self._beamwatch_probe
        if active is not None and active.current():
            active.stamps.connect_end = active.clock()
            peer = transport.get_extra_info("peername")
            if peer:
                active.stamps.remote_ip = str(peer[0])
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        active = self._beamwatch_probe
        if active is not None and active.current():
            now = _arrival(active)
            stamps: PhaseStamps = active.stamps
            if stamps.first_byte is None:
                stamps.first_byte = now
                stamps.request_sent = stamps.last_send
            stamps.last_byte = now
        super().data_received(data)


def stamping_connector(family: socket.AddressFamily) -> aiohttp.TCPConnector:
    """Return a connector that never reuses connections and stamps the socket."""
    connector = aiohttp.TCPConnector(
        force_close=True,
        use_dns_cache=False,
        family=family,
        limit=0,
        socket_factory=create_stamping_socket,
        resolver=StampingResolver(),
    )
    # NOTE: `_factory` is aiohttp's private protocol factory, checked with
    # aiohttp 3.14. If a release renames it, remote_ip stays unset and the
    # tests asserting it fail.
    loop = connector._loop
    factory: Callable[[], ResponseHandler] = functools.partial(
        StampingResponseHandler, loop=loop
    )
    connector._factory = factory  # type: ignore[assignment]
    return connector


def stamping_ssl_context(*, verify: bool) -> ssl.SSLContext:
    """Return a client SSLContext whose connections stamp their handshake."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.sslobject_class = StampingSSLObject
    return context
