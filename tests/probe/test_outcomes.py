"""Every outcome a probe can end with, each on a real local server."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from probe.failures import error_text
from probe.http import ProbeClient
from probe.models import Checks, Outcome, Target
from tests.probe.origins import CHUNKS, GZIP_PLAIN, TEXT
from tests.support.servers import Nginx, free_port


def make_target(url: str, **overrides: Any) -> Target:
    return Target(name="test", provider="local", url=url, **overrides)


async def test_plain_get_is_ok(client: ProbeClient, origin: TestServer) -> None:
    measurement = await client.probe(make_target(str(origin.make_url("/text"))))

    assert measurement.outcome is Outcome.OK
    assert measurement.status_code == 200
    assert measurement.bytes == len(TEXT)
    assert measurement.http_version == "1.1"
    assert measurement.remote_ip == "127.0.0.1"
    assert measurement.error is None


async def test_nginx_file_is_ok(client: ProbeClient, nginx: Nginx) -> None:
    measurement = await client.probe(make_target(f"{nginx.base_url}/large.bin"))

    assert measurement.outcome is Outcome.OK
    assert measurement.bytes == 1024 * 1024
    assert measurement.download_ms is not None


async def test_server_error_keeps_status(
    client: ProbeClient, delay_origin: TestServer
) -> None:
    url = str(delay_origin.make_url("/status/503"))
    measurement = await client.probe(make_target(url))

    assert measurement.outcome is Outcome.HTTP_ERROR
    assert measurement.status_code == 503
    assert measurement.error == "HTTP 503"
    assert measurement.ttfb_ms is not None


async def test_header_delay_times_out_in_ttfb(
    client: ProbeClient, delay_origin: TestServer
) -> None:
    url = str(delay_origin.make_url("/delay/5000"))
    measurement = await client.probe(make_target(url, timeout_s=0.3))

    assert measurement.outcome is Outcome.TIMEOUT
    assert measurement.error == "timed out in the ttfb phase after timeout_s=0.3"
    assert measurement.ttfb_ms is None
    assert measurement.total_ms is not None
    assert 300 <= measurement.total_ms < 2000


async def test_trickling_body_ends_at_deadline(
    client: ProbeClient, origin: TestServer
) -> None:
    url = str(origin.make_url("/trickle"))
    measurement = await client.probe(make_target(url, timeout_s=0.5))

    assert measurement.outcome is Outcome.TIMEOUT
    assert measurement.error == "timed out in the download phase after timeout_s=0.5"
    assert measurement.ttfb_ms is not None
    assert measurement.download_ms is None
    assert measurement.total_ms is not None
    assert 500 <= measurement.total_ms < 2000
    assert 1 <= measurement.bytes <= 10


async def test_read_timeout_names_its_limit(
    client: ProbeClient, delay_origin: TestServer
) -> None:
    url = str(delay_origin.make_url("/delay/5000"))
    target = make_target(url, timeout_s=5, read_timeout_s=0.2)
    measurement = await client.probe(target)

    assert measurement.outcome is Outcome.TIMEOUT
    assert measurement.error == "timed out in the ttfb phase after read_timeout_s=0.2"
    assert measurement.total_ms is not None
    assert measurement.total_ms < 2000


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listening port whose accept queue is full, so a new connect hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    filler = socket.socket()
    filler.setblocking(False)
    filler.connect_ex(("127.0.0.1", port))
    yield port
    filler.close()
    listener.close()


async def test_connect_timeout_names_its_limit(
    client: ProbeClient, full_backlog: int
) -> None:
    url = f"http://127.0.0.1:{full_backlog}/"
    target = make_target(url, timeout_s=5, connect_timeout_s=0.2)
    measurement = await client.probe(target)

    assert measurement.outcome is Outcome.TIMEOUT
    assert measurement.error == (
        "timed out in the connect phase after connect_timeout_s=0.2"
    )


async def test_invalid_host_is_dns_error(client: ProbeClient) -> None:
    target = make_target("http://no-such-host.invalid/", timeout_s=5)
    measurement = await client.probe(target)

    assert measurement.outcome is Outcome.DNS_ERROR
    assert measurement.error is not None
    assert "no-such-host.invalid" in measurement.error
    assert measurement.connect_ms is None


async def test_refused_port_is_connect_error(client: ProbeClient) -> None:
    measurement = await client.probe(make_target(f"http://127.0.0.1:{free_port()}/"))

    assert measurement.outcome is Outcome.CONNECT_ERROR
    assert measurement.error is not None
    assert "refused" in measurement.error.lower()


async def test_garbage_status_is_protocol_error(
    client: ProbeClient, garbage_server: str
) -> None:
    measurement = await client.probe(make_target(garbage_server + "?token=s3cret"))

    assert measurement.outcome is Outcome.PROTOCOL_ERROR
    assert measurement.error is not None
    assert measurement.error.startswith("invalid HTTP response: ")
    assert "\n" not in measurement.error
    assert "s3cret" not in measurement.error
    assert measurement.status_code is None


def test_error_text_hides_url_query() -> None:
    exc = ValueError("bad chunk at 'https://cdn.example/piece?token=s3cret#part' x")

    text = error_text(exc)

    assert text == (
        "ValueError: bad chunk at 'https://cdn.example/piece?(query hidden)' x"
    )


@pytest.mark.parametrize(
    ("checks", "error_part"),
    [
        pytest.param(
            Checks(status_codes=(204,)), "status 200 is not one of", id="status"
        ),
        pytest.param(Checks(body_contains="absent"), "does not contain", id="contains"),
        pytest.param(Checks(body_regex=r"^\d+$"), "regular expression", id="regex"),
        pytest.param(Checks(min_bytes=10_000), "fewer than min_bytes", id="min-bytes"),
        pytest.param(Checks(max_ttfb_ms=0.001), "exceeds max_ttfb_ms", id="max-ttfb"),
        pytest.param(Checks(sha256="0" * 64), "SHA-256 is", id="sha256"),
    ],
)
async def test_failed_check_is_assertion_failed(
    client: ProbeClient, origin: TestServer, checks: Checks, error_part: str
) -> None:
    target = make_target(str(origin.make_url("/text")), checks=checks)
    measurement = await client.probe(target)

    assert measurement.outcome is Outcome.ASSERTION_FAILED
    assert measurement.error is not None
    assert error_part in measurement.error


async def test_passing_checks_are_ok(client: ProbeClient, origin: TestServer) -> None:
    checks = Checks(
        status_codes=(200,),
        body_contains="beamwatch",
        body_regex=r"test origin$",
        min_bytes=10,
        max_ttfb_ms=5000,
        sha256=hashlib.sha256(TEXT.encode()).hexdigest(),
    )
    target = make_target(str(origin.make_url("/text")), checks=checks)
    measurement = await client.probe(target)

    assert measurement.outcome is Outcome.OK, measurement.error


async def test_declared_error_status_is_ok(
    client: ProbeClient, delay_origin: TestServer
) -> None:
    url = str(delay_origin.make_url("/status/404"))
    measurement = await client.probe(
        make_target(url, checks=Checks(status_codes=(404,)))
    )

    assert measurement.outcome is Outcome.OK
    assert measurement.status_code == 404


async def test_large_body_stops_at_cap(client: ProbeClient, nginx: Nginx) -> None:
    target = make_target(f"{nginx.base_url}/large.bin", max_bytes=64 * 1024)
    measurement = await client.probe(target)

    assert measurement.outcome is Outcome.BODY_TOO_LARGE
    assert measurement.error == "body exceeds max_bytes=65536; stopped reading"
    assert 64 * 1024 < measurement.bytes < 1024 * 1024


async def test_redirects_within_limit_are_counted(
    client: ProbeClient, origin: TestServer
) -> None:
    url = str(origin.make_url("/redirect/3"))
    measurement = await client.probe(make_target(url, max_redirects=3))

    assert measurement.outcome is Outcome.OK
    assert measurement.redirects == 3
    assert measurement.bytes == len(TEXT)
    assert measurement.ttfb_ms is not None
    assert measurement.total_ms is not None
    assert measurement.ttfb_ms <= measurement.total_ms


async def test_redirects_over_limit_are_too_many(
    client: ProbeClient, origin: TestServer
) -> None:
    url = str(origin.make_url("/redirect/4"))
    measurement = await client.probe(make_target(url, max_redirects=3))

    assert measurement.outcome is Outcome.TOO_MANY_REDIRECTS
    assert measurement.error == "more than max_redirects=3 redirects"


async def test_redirect_loop_is_too_many_redirects(
    client: ProbeClient, origin: TestServer
) -> None:
    url = str(origin.make_url("/loop/a"))
    measurement = await client.probe(make_target(url, max_redirects=20))

    assert measurement.outcome is Outcome.TOO_MANY_REDIRECTS
    assert measurement.error == f"redirect loop: {url} redirected twice"
    assert measurement.redirects == 2


async def test_nginx_redirect_loop_is_detected(
    client: ProbeClient, nginx: Nginx
) -> None:
    measurement = await client.probe(make_target(f"{nginx.base_url}/redirect-loop"))

    assert measurement.outcome is Outcome.TOO_MANY_REDIRECTS


async def test_zero_redirects_returns_redirect(
    client: ProbeClient, nginx: Nginx
) -> None:
    url = f"{nginx.base_url}/redirect-once"
    measurement = await client.probe(make_target(url, max_redirects=0))

    assert measurement.outcome is Outcome.OK
    assert measurement.status_code == 302
    assert measurement.redirects == 0


async def test_gzip_body_counts_decoded_bytes(
    client: ProbeClient, origin: TestServer
) -> None:
    checks = Checks(sha256=hashlib.sha256(GZIP_PLAIN).hexdigest())
    target = make_target(str(origin.make_url("/gzip")), checks=checks)
    measurement = await client.probe(target)

    assert measurement.outcome is Outcome.OK, measurement.error
    assert measurement.bytes == len(GZIP_PLAIN)


async def test_chunked_body_counts_payload_bytes(
    client: ProbeClient, origin: TestServer
) -> None:
    measurement = await client.probe(make_target(str(origin.make_url("/chunked"))))

    assert measurement.outcome is Outcome.OK
    assert measurement.bytes == sum(len(chunk) for chunk in CHUNKS)


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that accepts and reads but never writes."""

    async def ignore(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(ignore, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


async def test_silent_tls_server_times_out(
    client: ProbeClient, silent_server: int
) -> None:
    url = f"https://127.0.0.1:{silent_server}/"
    measurement = await client.probe(make_target(url, timeout_s=0.3))

    assert measurement.outcome is Outcome.TIMEOUT
    assert measurement.error == "timed out in the tls phase after timeout_s=0.3"
    assert measurement.connect_ms is not None
    assert measurement.tls_ms is None


async def test_plain_url_404_has_no_filbeam_meaning(
    client: ProbeClient, delay_origin: TestServer
) -> None:
    url = str(delay_origin.make_url("/status/404"))
    measurement = await client.probe(make_target(url))

    assert measurement.outcome is Outcome.HTTP_ERROR
    assert measurement.error == "HTTP 404"
