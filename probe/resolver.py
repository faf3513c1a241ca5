"""Name resolution that times the lookup itself, not the wait for a thread.

aiohttp's trace signals put the DNS phase around the whole `resolve()` call,
which includes waiting for a free executor thread and for the event loop to
pick up the result. With hundreds of probes at once both waits reach
milliseconds. This resolver times `getaddrinfo` inside the worker thread.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from probe.sockets import active_probe

# The flags aiohttp's ThreadedResolver passes, so both return the same hosts.
LOOKUP_FLAGS = getattr(socket, "AI_ADDRCONFIG", 0)
NUMERIC_FLAGS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
NAME_INFO_FLAGS = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV

AddressInfo = list[tuple[Any, ...]]


def _timed_lookup(
    clock: Callable[[], float], host: str, port: int, family: int
) -> tuple[AddressInfo, float]:
    """Run getaddrinfo in the calling thread; return its results and duration."""
    started = clock()
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, LOOKUP_FLAGS)
    return infos, (clock() - started) * 1000.0


class StampingResolver(AbstractResolver):
    """getaddrinfo in the default executor, timed inside the thread.

    The lookup time goes to the running probe's `dns_lookup_ms`.
    """

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        active = active_probe()
        clock = active.clock if active is not None else time.perf_counter
        loop = asyncio.get_running_loop()
        infos, lookup_ms = await loop.run_in_executor(
            None, _timed_lookup, clock, host, port, family
        )
        if active is not None and active.current():
            active.stamps.dns_lookup_ms = lookup_ms

        hosts: list[ResolveResult] = []
        for info_family, _kind, proto, _name, address in infos:
            if info_family == socket.AF_INET6 and len(address) >= 4 and address[3]:
                # A link-local address needs its scope id in the host text.
                resolved, service = await loop.getnameinfo(address, NAME_INFO_FLAGS)
                resolved_port = int(service)
            else:
                resolved, resolved_port = address[0], address[1]
            hosts.append(
                ResolveResult(
                    hostname=host,
                    host=resolved,
                    port=resolved_port,
                    family=info_family,
                    proto=proto,
                    flags=NUMERIC_FLAGS,
                )
            )
        return hosts

    async def close(self) -> None:
        return None
