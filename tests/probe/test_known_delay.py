"""Phase timings against an origin whose delays are known."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from probe.http import ProbeClient
from probe.models import Outcome, Target
from tests.support.servers import Nginx


def make_target(url: str) -> Target:
    return Target(name="delay", provider="local", url=url, timeout_s=5)


@pytest.mark.parametrize("delay_ms", [100, 300])
async def test_header_delay_shows_in_ttfb(
    client: ProbeClient, delay_origin: TestServer, delay_ms: int
) -> None:
    url = str(delay_origin.make_url(f"/delay/{delay_ms}?bytes=65536"))
    measurement = await client.probe(make_target(url))

    assert measurement.outcome is Outcome.OK
    assert measurement.ttfb_ms is not None
    assert measurement.total_ms is not None
    assert measurement.download_ms is not None
    assert measurement.connect_ms is not None
    # The origin may respond late on a busy machine, never early.
    assert delay_ms <= measurement.ttfb_ms < delay_ms + 100
    assert measurement.connect_ms < 50
    assert measurement.download_ms < 50
    assert measurement.ttfb_ms <= measurement.total_ms
    assert measurement.bytes == 65536


async def test_ip_literal_has_no_dns_phase(
    client: ProbeClient, delay_origin: TestServer
) -> None:
    url = str(delay_origin.make_url("/delay/0"))
    measurement = await client.probe(make_target(url))

    assert measurement.outcome is Outcome.OK
    assert measurement.dns_ms is None
    assert measurement.tls_ms is None
    assert measurement.connection_reused is False


async def test_host_name_has_dns_phase(
    client: ProbeClient, delay_origin: TestServer
) -> None:
    url = f"http://localhost:{delay_origin.port}/delay/0"
    measurement = await client.probe(make_target(url))

    assert measurement.outcome is Outcome.OK, measurement.error
    assert measurement.dns_ms is not None
    assert measurement.dns_ms >= 0


async def test_nginx_500_is_http_error(client: ProbeClient, nginx: Nginx) -> None:
    measurement = await client.probe(make_target(f"{nginx.base_url}/status-500"))

    assert measurement.outcome is Outcome.HTTP_ERROR
    assert measurement.status_code == 500
    assert measurement.error == "HTTP 500"
    assert measurement.ttfb_ms is not None
