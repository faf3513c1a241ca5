"""TLS outcomes and certificate expiry against local HTTPS servers.

The certificates are generated per test: a local authority issues the valid,
expired and wrongly named ones, and the client trusts that authority through
SSL_CERT_FILE, which OpenSSL reads when the probe builds its SSL contexts. The
self-signed one is not trusted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from probe.http import ProbeClient
from probe.models import Outcome, Target
from tests.probe.certs import (
    CertFiles,
    make_authority,
    make_certificate,
    make_self_signed,
)
from tests.probe.origins import create_origin_app

StartServer = Callable[[CertFiles], Awaitable[str]]


@pytest.fixture
def certs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, CertFiles]:
    directory = tmp_path / "certs"
    authority = make_authority(directory)
    made = {
        "valid": make_certificate(directory, "valid", issuer=authority),
        "expired": make_certificate(
            directory, "expired", expired_days_ago=3, issuer=authority
        ),
        "wrong-name": make_certificate(
            directory, "wrong-name", hosts=("other.invalid",), issuer=authority
        ),
        "untrusted": make_self_signed(directory, "untrusted"),
    }
    monkeypatch.setenv("SSL_CERT_FILE", str(authority.files.cert))
    return made


@pytest.fixture
async def tls_client(certs: dict[str, CertFiles]) -> AsyncIterator[ProbeClient]:
    async with ProbeClient() as client:
        yield client


@pytest.fixture
async def start_https() -> AsyncIterator[StartServer]:
    """Start HTTPS origins on 127.0.0.1, one per certificate; yield a starter."""
    servers: list[TestServer] = []

    async def start(cert: CertFiles) -> str:
        server = TestServer(create_origin_app(), host="127.0.0.1")
        await server.start_server(ssl=cert.server_context())
        servers.append(server)
        return str(server.make_url("/text"))

    yield start
    for server in servers:
        await server.close()


def make_target(url: str, *, verify_tls: bool = True) -> Target:
    return Target(name="tls", provider="local", url=url, verify_tls=verify_tls)


async def test_trusted_certificate_is_ok(
    tls_client: ProbeClient, certs: dict[str, CertFiles], start_https: StartServer
) -> None:
    measurement = await tls_client.probe(make_target(await start_https(certs["valid"])))

    assert measurement.outcome is Outcome.OK, measurement.error
    assert measurement.connect_ms is not None
    assert measurement.tls_ms is not None
    assert measurement.tls_ms > 0
    assert measurement.tls_cert_expiry_days is not None
    assert 29.9 < measurement.tls_cert_expiry_days <= 30


async def test_self_signed_is_tls_error(
    tls_client: ProbeClient, certs: dict[str, CertFiles], start_https: StartServer
) -> None:
    url = await start_https(certs["untrusted"])
    measurement = await tls_client.probe(make_target(url))

    assert measurement.outcome is Outcome.TLS_ERROR
    assert measurement.error is not None
    assert "self-signed certificate" in measurement.error
    assert measurement.tls_cert_expiry_days is not None
    assert measurement.tls_cert_expiry_days > 29


async def test_expired_certificate_records_expiry(
    tls_client: ProbeClient, certs: dict[str, CertFiles], start_https: StartServer
) -> None:
    url = await start_https(certs["expired"])
    measurement = await tls_client.probe(make_target(url))

    assert measurement.outcome is Outcome.TLS_ERROR
    assert measurement.error is not None
    assert "certificate has expired" in measurement.error
    assert measurement.tls_cert_expiry_days is not None
    assert -3.1 < measurement.tls_cert_expiry_days < -2.9


async def test_wrong_name_is_tls_error(
    tls_client: ProbeClient, certs: dict[str, CertFiles], start_https: StartServer
) -> None:
    url = await start_https(certs["wrong-name"])
    measurement = await tls_client.probe(make_target(url))

    assert measurement.outcome is Outcome.TLS_ERROR
    assert measurement.error is not None
    assert "127.0.0.1" in measurement.error
    assert "mismatch" in measurement.error


async def test_insecure_skips_verification(
    tls_client: ProbeClient, certs: dict[str, CertFiles], start_https: StartServer
) -> None:
    url = await start_https(certs["expired"])
    measurement = await tls_client.probe(make_target(url, verify_tls=False))

    assert measurement.outcome is Outcome.OK, measurement.error
    assert measurement.tls_ms is not None
    assert measurement.tls_cert_expiry_days is not None
    assert measurement.tls_cert_expiry_days < 0


async def test_plain_http_has_no_tls(
    tls_client: ProbeClient, certs: dict[str, CertFiles], start_https: StartServer
) -> None:
    url = (await start_https(certs["valid"])).replace("https://", "http://")
    measurement = await tls_client.probe(make_target(url))

    assert measurement.outcome is Outcome.PROTOCOL_ERROR
    assert measurement.tls_ms is None
