"""IPv6 literals and the choice of IP version, on loopback servers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from probe.http import ProbeClient
from probe.models import Outcome, Target
from tests.probe.origins import create_origin_app
from tests.support.servers import run_nginx


@pytest.fixture
async def ipv6_origin() -> AsyncIterator[TestServer]:
    server = TestServer(create_origin_app(), host="::1")
    await server.start_server()
    yield server
    await server.close()


def make_target(url: str, ip_version: int | None = None) -> Target:
    return Target(name="ip", provider="local", url=url, ip_version=ip_version)


async def test_ipv6_literal_is_ok(client: ProbeClient, ipv6_origin: TestServer) -> None:
    url = f"http://[::1]:{ipv6_origin.port}/text"
    measurement = await client.probe(make_target(url))

    assert measurement.outcome is Outcome.OK, measurement.error
    assert measurement.remote_ip == "::1"
    assert measurement.connect_ms is not None
    assert measurement.dns_ms is None


async def test_ipv6_only_reaches_ipv6_literal(
    client: ProbeClient, ipv6_origin: TestServer
) -> None:
    url = f"http://[::1]:{ipv6_origin.port}/text"
    measurement = await client.probe(make_target(url, ip_version=6))

    assert measurement.outcome is Outcome.OK, measurement.error
    assert measurement.remote_ip == "::1"


async def test_ipv4_only_rejects_ipv6_literal(
    client: ProbeClient, ipv6_origin: TestServer
) -> None:
    url = f"http://[::1]:{ipv6_origin.port}/text"
    measurement = await client.probe(make_target(url, ip_version=4))

    assert measurement.outcome is Outcome.CONNECT_ERROR
    assert measurement.error == (
        "::1 is an IPv6 address but ip_version is 4;"
        " drop the IP version or use an IPv4 address"
    )


async def test_ipv6_only_rejects_ipv4_literal(
    client: ProbeClient, origin: TestServer
) -> None:
    measurement = await client.probe(make_target(str(origin.make_url("/text")), 6))

    assert measurement.outcome is Outcome.CONNECT_ERROR
    assert measurement.error is not None
    assert "127.0.0.1 is an IPv4 address" in measurement.error


async def test_host_name_resolves_per_family(
    client: ProbeClient, tmp_path: Path
) -> None:
    with run_nginx(tmp_path / "nginx", ipv6=True) as nginx:
        url = f"http://localhost:{nginx.port}/small.bin"
        measurement = await client.probe(make_target(url, ip_version=4))

    assert measurement.outcome is Outcome.OK, measurement.error
    assert measurement.remote_ip == "127.0.0.1"
    assert measurement.dns_ms is not None


async def test_nginx_answers_over_ipv6(client: ProbeClient, tmp_path: Path) -> None:
    with run_nginx(tmp_path / "nginx", ipv6=True) as nginx:
        url = f"http://[::1]:{nginx.port}/small.bin"
        measurement = await client.probe(make_target(url, ip_version=6))

    assert measurement.outcome is Outcome.OK, measurement.error
    assert measurement.remote_ip == "::1"
    assert measurement.bytes == 1024


def localhost_has_ipv6() -> bool:
    try:
        socket.getaddrinfo("localhost", 1, socket.AF_INET6)
    except socket.gaierror:
        return False
    return True


@pytest.mark.skipif(localhost_has_ipv6(), reason="localhost resolves to IPv6 here")
async def test_missing_family_is_dns_error(client: ProbeClient) -> None:
    measurement = await client.probe(make_target("http://localhost:1/", 6))

    assert measurement.outcome is Outcome.DNS_ERROR
    assert measurement.error is not None
    assert measurement.error.endswith("(IPv6 addresses only)")
