"""The probe's socket: it stamps TCP connect, sends and kernel receive times.

Stamps taken in event-loop callbacks are late by however long the loop was
busy, which under load is milliseconds. This socket takes the two moments
that matter from the kernel instead:

- each received segment's arrival time, from `SO_TIMESTAMPNS` ancillary data
  on `recvmsg` (Linux, CLOCK_REALTIME), so the first and last response bytes
  are stamped where they arrived, not where the loop got to them,
- the TCP handshake's round trip, from `TCP_INFO.tcpi_rtt` read as soon as
  the connect completes, which is the SYN to SYN-ACK time when nothing was
  retransmitted.

Sends are stamped in Python just before the system call, which is when the
request starts to leave. Where a kernel value is missing (another OS, a loop such as
uvloop that bypasses these Python methods), the stamps stay unset and
`probe.timing.phases` falls back to the loop-side stamps.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from probe.timing import PhaseStamps

Clock = Callable[[], float]

# The option numbers and struct layouts below are Linux's, so other systems
# take no kernel stamps. The socket module does not export SO_TIMESTAMPNS.
KERNEL_STAMPS_AVAILABLE = sys.platform.startswith("linux")
SO_TIMESTAMPNS = 35
TIMESPEC = struct.Struct("qq")
ANCILLARY_BYTES = socket.CMSG_SPACE(TIMESPEC.size)
# struct tcp_info (linux/tcp.h): tcpi_rtt in microseconds at byte 68 and
# tcpi_total_retrans at byte 100.
TCP_INFO_BYTES = 104
TCP_INFO_RTT_OFFSET = 68
TCP_INFO_RETRANS_OFFSET = 100


@dataclass(slots=True)
class ActiveProbe:
    """The stamps of the probe running in this context, its hop and its clock.

    `realtime_offset_ns` turns a kernel CLOCK_REALTIME stamp into the clock's
    seconds: `(realtime_ns - realtime_offset_ns) / 1e9`. It is None when the
    probe takes no kernel stamps.
    """

    stamps: PhaseStamps
    clock: Clock
    hop: int
    realtime_offset_ns: int | None

    def current(self) -> bool:
        """Tell whether this connection still belongs to the probe's current hop."""
        return self.hop == self.stamps.redirects


ACTIVE_PROBE: contextvars.ContextVar[ActiveProbe | None] = contextvars.ContextVar(
    "beamwatch_active_probe", default=None
)


def start_probe(
    stamps: PhaseStamps, clock: Clock, *, kernel_stamps: bool = True
) -> contextvars.Token[Any]:
    """Make `stamps` the active probe's in this context; return the reset token."""
    offset_ns = None
    if kernel_stamps and KERNEL_STAMPS_AVAILABLE:
        offset_ns = time.time_ns() - round(clock() * 1e9)
    return ACTIVE_PROBE.set(ActiveProbe(stamps, clock, 0, offset_ns))


def active_probe() -> ActiveProbe | None:
    """Return the running probe, pinned to the hop it is on now."""
    active = ACTIVE_PROBE.get()
    if active is None:
        return None
    return ActiveProbe(
        active.stamps,
        active.clock,
        active.stamps.redirects,
        active.realtime_offset_ns,
    )


class StampingSocket(socket.socket):
    """A socket that stamps its connect, its sends and its kernel receive times.

    asyncio's selector loop calls `connect` and, once the socket is writable,
    `getsockopt(SO_ERROR)`; its transports call `send` or `sendmsg`, and
    `recv` or `recv_into`.
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
        # Stamped before the call, because on loopback the peer can read the
        # request and its response can arrive before `send` returns here.
        active = self._beamwatch_probe
        if active is not None and active.current():
            active.stamps.last_send = active.clock()
        return super().send(data, flags)

    def sendmsg(self, buffers: Any, *args: Any) -> int:
        # Python 3.12 and later write buffered data with sendmsg.
        active = self._beamwatch_probe
        if active is not None and active.current():
            active.stamps.last_send = active.clock()
        return super().sendmsg(buffers, *args)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data, ancillary, _flags, _address = self.recvmsg(
            bufsize, ANCILLARY_BYTES, flags
        )
        self._stamp_received(ancillary)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        view = memoryview(buffer)
        if nbytes:
            view = view[:nbytes]
        count, ancillary, _flags, _address = self.recvmsg_into(
            [view], ANCILLARY_BYTES, flags
        )
        self._stamp_received(ancillary)
        return count

    def _stamp_received(self, ancillary: list[tuple[int, int, bytes]]) -> None:
        active = self._beamwatch_probe
        if active is None or not active.current():
            return
        offset_ns = active.realtime_offset_ns
        active.stamps.last_receive = None
        if offset_ns is None:
            return
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = TIMESPEC.unpack_from(data)
                realtime_ns = seconds * 1_000_000_000 + nanoseconds
                arrived = (realtime_ns - offset_ns) / 1e9
                active.stamps.last_receive = arrived

    def _stamp_connected(self) -> None:
        active = self._beamwatch_probe
        if active is None or not active.current():
            return
        stamps = active.stamps
        if stamps.tcp_connected is not None:
            return
        stamps.tcp_connected = active.clock()
        if active.realtime_offset_ns is None:
            return
        try:
            info = super().getsockopt(
                socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_BYTES
            )
        except (OSError, AttributeError):
            return
        if len(info) < TCP_INFO_BYTES:
            return
        (retransmits,) = struct.unpack_from("I", info, TCP_INFO_RETRANS_OFFSET)
        (rtt_us,) = struct.unpack_from("I", info, TCP_INFO_RTT_OFFSET)
        if retransmits == 0 and rtt_us > 0:
            stamps.tcp_rtt_ms = rtt_us / 1000.0


def open_timestamp_keeper() -> socket.socket | None:
    """Open a socket that keeps the kernel's receive timestamping switched on.

    Linux stamps arriving packets only while some socket has asked for it,
    and switches stamping on in deferred work, so the first segments on a
    lone new socket can arrive unstamped. One long-lived socket with the
    option set keeps them on for every probe socket. Returns None where the
    option does not exist.
    """
    if not KERNEL_STAMPS_AVAILABLE:
        return None
    keeper = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        keeper.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        keeper.close()
        return None
    return keeper


def create_stamping_socket(addr_info: Any) -> socket.socket:
    """Create the socket for one connect attempt and stamp the attempt's start.

    Matches aiohappyeyeballs' socket factory signature, which aiohttp's
    TCPConnector accepts as `socket_factory`.
    """
    family, kind, proto, _name, _address = addr_info
    active = active_probe()
    sock = StampingSocket(family=family, type=kind, proto=proto)
    sock._beamwatch_probe = active
    if active is not None and active.realtime_offset_ns is not None:
        # Without kernel stamps the loop-side ones are used instead.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    if active is not None and active.stamps.tcp_start is None:
        active.stamps.tcp_start = active.clock()
    return sock
