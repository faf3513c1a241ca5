"""The probe socket's stamps, on a real loopback TCP connection."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from probe.sockets import (
    ACTIVE_PROBE,
    create_stamping_socket,
    open_timestamp_keeper,
    start_probe,
)
from probe.timing import PhaseStamps


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    # Switch kernel timestamping on before the test sockets connect, as a
    # ProbeClient does for its lifetime.
    keeper = open_timestamp_keeper()
    time.sleep(0.05)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server
    server.close()
    if keeper is not None:
        keeper.close()


def connect_stamped(
    listener: socket.socket, stamps: PhaseStamps, *, kernel_stamps: bool
) -> tuple[socket.socket, socket.socket]:
    """Connect a stamping socket to `listener`; return (client, server side)."""
    token = start_probe(stamps, time.perf_counter, kernel_stamps=kernel_stamps)
    try:
        address = listener.getsockname()
        addr_info = (
            socket.AF_INET,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
            "",
            address,
        )
        client = create_stamping_socket(addr_info)
    finally:
        ACTIVE_PROBE.reset(token)
    client.connect(address)
    server_side, _peer = listener.accept()
    return client, server_side


def test_receive_stamp_is_arrival_time(listener: socket.socket) -> None:
    stamps = PhaseStamps()
    client, server_side = connect_stamped(listener, stamps, kernel_stamps=True)
    with client, server_side:
        server_side.sendall(b"first byte")
        time.sleep(0.05)
        before_read = time.perf_counter()
        data = client.recv(100)

    assert data == b"first byte"
    assert stamps.last_receive is not None
    # The bytes waited 50 ms in the kernel, and the stamp is their arrival.
    assert before_read - 0.2 < stamps.last_receive < before_read - 0.04


def test_connect_takes_kernel_round_trip(listener: socket.socket) -> None:
    stamps = PhaseStamps()
    client, server_side = connect_stamped(listener, stamps, kernel_stamps=True)
    client.close()
    server_side.close()

    assert stamps.tcp_start is not None
    assert stamps.tcp_connected is not None
    assert stamps.tcp_start <= stamps.tcp_connected
    assert stamps.tcp_rtt_ms is not None
    assert 0 < stamps.tcp_rtt_ms < 100


def test_send_is_stamped(listener: socket.socket) -> None:
    stamps = PhaseStamps()
    client, server_side = connect_stamped(listener, stamps, kernel_stamps=True)
    with client, server_side:
        before_send = time.perf_counter()
        client.send(b"GET / HTTP/1.1\r\n\r\n")

    assert stamps.last_send is not None
    assert stamps.last_send >= before_send


def test_disabled_kernel_stamps_stay_unset(listener: socket.socket) -> None:
    stamps = PhaseStamps()
    client, server_side = connect_stamped(listener, stamps, kernel_stamps=False)
    with client, server_side:
        server_side.sendall(b"x")
        data = client.recv(10)

    assert data == b"x"
    assert stamps.last_receive is None
    assert stamps.tcp_rtt_ms is None
    assert stamps.tcp_connected is not None


def test_sendmsg_is_stamped(listener: socket.socket) -> None:
    stamps = PhaseStamps()
    client, server_side = connect_stamped(listener, stamps, kernel_stamps=True)
    with client, server_side:
        before_send = time.perf_counter()
        client.sendmsg([b"GET / HTTP/1.1\r\n", b"\r\n"])

    assert stamps.last_send is not None
    assert stamps.last_send >= before_send
