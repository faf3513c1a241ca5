"""Stamps taken at the socket, where aiohttp's trace signals cannot see.

aiohttp's trace signals fire after its own work: headers are parsed before
`session.get()` returns, and TCP and TLS end in one signal. Three hooks stamp
the moments themselves:

- a socket subclass stamps the start of the TCP connect, the moment the loop
  sees it completed, and every send (the last one before the response is the
  request leaving),
- an `ssl.SSLObject` subclass stamps the first call of `do_handshake` (TCP is
  connected) and the call that completes it (TLS is done),
- a `ResponseHandler` subclass stamps `connection_made`, the first and the
  latest `data_received`, and the peer's address.

The hooks find the PhaseStamps of the probe that opened the connection in a
context variable, which asyncio copies into every callback the connection
schedules from the probe's task.
"""

from __future__ import annotations

import contextvars
import functools
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler

from probe.timing import PhaseStamps
from probe.tlscert import not_after_from_der

Clock = Callable[[], float]


@dataclass(slots=True)
class ActiveProbe:
    """The stamps of the probe running in this context, its hop and its clock."""

    stamps: PhaseStamps
    clock: Clock
    hop: int

    def current(self) -> bool:
        """Tell whether this connection still belongs to the probe's current hop."""
        return self.hop == self.stamps.redirects


ACTIVE_PROBE: contextvars.ContextVar[ActiveProbe | None] = contextvars.ContextVar(
    "beamwatch_active_probe", default=None
)


def _active() -> ActiveProbe | None:
    """Return the running probe, pinned to the hop it is on now."""
    active = ACTIVE_PROBE.get()
    if active is None:
        return None
    return ActiveProbe(active.stamps, active.clock, active.stamps.redirects)


class StampingSSLObject(ssl.SSLObject):
    """An SSLObject that stamps when its handshake starts and completes."""

    def do_handshake(self) -> None:
        active: ActiveProbe | None
        try:
            active = self.__dict__["_beamwatch_probe"]
        except KeyError:
            active = self.__dict__["_beamwatch_probe"] = _active()
            if active is not None and active.current():
                active.stamps.tls_start = active.clock()

        super().do_handshake()

        if active is not None and active.current():
            active.stamps.tls_end = active.clock()
            certificate = self.getpeercert(binary_form=True)
            if certificate:
                active.stamps.tls_not_after = not_after_from_der(certificate)


class StampingResponseHandler(ResponseHandler):
    """aiohttp's response protocol, stamping connection and byte arrival."""

    def __init__(self, loop: Any) -> None:
        super().__init__(loop)
        self._beamwatch_probe = _active()

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
            now = active.clock()
            stamps = active.stamps
            if stamps.first_byte is None:
                stamps.first_byte = now
                stamps.request_sent = stamps.last_send
            stamps.last_byte = now
        super().data_received(data)


class StampingSocket(socket.socket):
    """A socket that stamps its connect completing and each send.

    asyncio's selector loop calls `connect` and, once the socket turns
    writable, `getsockopt(SO_ERROR)`; its transports call `send`. A loop that
    bypasses these Python methods (uvloop) leaves the stamps unset, and
    `phases()` then falls back to the trace-signal stamps.
    """

    __slots__ = ("_beamwatch_probe",)
    _beamwatch_probe: ActiveProbe | None

    def connect(self, address: Any) -> None:
        super().connect(address)
        self._stamp_connected()

    def getsockopt(self, *args: Any) -> Any:
        value = super().getsockopt(*args)
        if args[:2] == (socket.SOL_SOCKET, socket.SO_ERROR) and value == 0:
            self._stamp_connected()
        return value

    def send(self, data: Any, flags: int = 0) -> int:
        sent = super().send(data, flags)
        active = self._beamwatch_probe
        if active is not None and active.current():
            active.stamps.last_send = active.clock()
        return sent

    def _stamp_connected(self) -> None:
        active = self._beamwatch_probe
        if (
            active is not None
            and active.current()
            and active.stamps.tcp_connected is None
        ):
            active.stamps.tcp_connected = active.clock()


def _stamping_socket(addr_info: Any) -> socket.socket:
    """Create the socket for one connect attempt and stamp the attempt's start."""
    family, kind, proto, _name, _address = addr_info
    active = _active()
    if active is not None and active.stamps.tcp_start is None:
        active.stamps.tcp_start = active.clock()
    sock = StampingSocket(family=family, type=kind, proto=proto)
    sock._beamwatch_probe = active
    return sock


def stamping_connector(family: socket.AddressFamily) -> aiohttp.TCPConnector:
    """Return a connector that never reuses connections and stamps the socket."""
    connector = aiohttp.TCPConnector(
        force_close=True,
        use_dns_cache=False,
        family=family,
        limit=0,
        socket_factory=_stamping_socket,
    )
    # NOTE: `_factory` is aiohttp's private protocol factory (3.10 to 3.14 at
    # least); the timing tests fail loudly if a release renames it.
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
