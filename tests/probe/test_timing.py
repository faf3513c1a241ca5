"""Phase derivation from stamps, and the stamps a real retrieval leaves."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from probe.http import ProbeClient
from probe.models import Target
from probe.timing import PhaseStamps, phases


def complete_stamps() -> PhaseStamps:
    """Stamps in seconds of a fresh HTTPS hop, with client work between steps."""
    return PhaseStamps(
        request_start=10.000,
        dns_start=10.001,
        dns_end=10.003,
        connect_start=10.0035,
        tcp_start=10.004,
        tls_start=10.005,
        tls_end=10.009,
        connect_end=10.0095,
        headers_sent=10.010,
        first_byte=10.030,
        last_byte=10.050,
        headers_received=10.031,
        body_end=10.051,
    )


def test_phases_split_tcp_from_tls() -> None:
    derived = phases(complete_stamps(), finished=10.052)

    assert derived.dns_ms == pytest.approx(2.0)
    assert derived.connect_ms == pytest.approx(1.0)
    assert derived.tls_ms == pytest.approx(4.0)


def test_ttfb_leaves_out_client_work() -> None:
    derived = phases(complete_stamps(), finished=10.052)

    # dns 2 + connect 1 + tls 4 + wait 20; the 3 ms of client work between
    # the steps are not the target's.
    assert derived.ttfb_ms == pytest.approx(27.0)
    assert derived.download_ms == pytest.approx(20.0)
    assert derived.total_ms == pytest.approx(47.0)


def test_reused_connection_reports_no_connect() -> None:
    stamps = PhaseStamps(
        request_start=1.0,
        connection_reused=True,
        headers_sent=1.001,
        first_byte=1.011,
        last_byte=1.011,
        body_end=1.012,
    )
    derived = phases(stamps, finished=1.013)

    assert derived.connect_ms is None
    assert derived.tls_ms is None
    assert derived.ttfb_ms == pytest.approx(10.0)


def test_unfinished_probe_totals_wall_clock() -> None:
    stamps = complete_stamps()
    stamps.body_end = None
    derived = phases(stamps, finished=10.500)

    assert derived.download_ms is None
    assert derived.total_ms == pytest.approx(500.0)


def test_redirect_hops_add_to_ttfb() -> None:
    stamps = complete_stamps()
    stamps.restart_for_redirect()
    stamps.tcp_start, stamps.connect_end = 11.000, 11.001
    stamps.headers_sent, stamps.first_byte = 11.002, 11.012
    stamps.last_byte, stamps.body_end = 11.012, 11.013
    derived = phases(stamps, finished=11.014)

    # First hop: dns 2 + connect 1 + tls 4 + wait until its last byte 40.
    assert derived.ttfb_ms == pytest.approx(47.0 + 1.0 + 10.0)
    assert derived.dns_ms is None
    assert derived.connect_ms == pytest.approx(1.0)
    assert derived.tls_ms is None


async def test_header_delay_shows_in_ttfb(
    client: ProbeClient, delay_origin: TestServer
) -> None:
    url = str(delay_origin.make_url("/delay/300"))
    measurement = await client.probe(Target(name="t", provider="p", url=url))

    assert measurement.ttfb_ms is not None
    assert measurement.connect_ms is not None
    assert measurement.total_ms is not None
    assert measurement.ttfb_ms >= 300
    assert measurement.total_ms >= measurement.ttfb_ms
    assert measurement.tls_ms is None
    assert measurement.connection_reused is False


async def test_every_probe_opens_connection(
    client: ProbeClient, delay_origin: TestServer
) -> None:
    url = str(delay_origin.make_url("/delay/0"))
    target = Target(name="t", provider="p", url=url)
    first = await client.probe(target)
    second = await client.probe(target)

    assert first.connect_ms is not None
    assert second.connect_ms is not None
    assert second.connection_reused is False
