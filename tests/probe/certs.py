"""TLS certificates made on the fly, for local HTTPS servers.

A certificate is either self-signed or issued by a local test authority, names
its hosts as subject alternative names and can be issued already expired, so
tests reach every TLS failure without a network.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@dataclass(frozen=True)
class Authority:
    """A test certificate authority: its certificate file signs leaf certificates."""

    files: CertFiles
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _alt_names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _write(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> CertFiles:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return CertFiles(cert=cert_path, key=key_path)


def make_certificate(
    directory: Path,
    name: str = "server",
    *,
    hosts: tuple[str, ...] = DEFAULT_HOSTS,
    valid_days: int = 30,
    expired_days_ago: int | None = None,
    issuer: Authority | None = None,
) -> CertFiles:
    """Write `name.crt` and `name.key` for `hosts` into `directory`.

    The certificate is self-signed unless `issuer` signs it. With
    `expired_days_ago` it stopped being valid that many days ago; otherwise it
    is valid from an hour ago for `valid_days`.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    if expired_days_ago is None:
        not_before = now - datetime.timedelta(hours=1)
        not_after = now + datetime.timedelta(days=valid_days)
    else:
        not_after = now - datetime.timedelta(days=expired_days_ago)
        not_before = not_after - datetime.timedelta(days=valid_days)

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    cert = builder.sign(key if issuer is None else issuer.key, hashes.SHA256())
    return _write(directory, name, cert, key)


def make_self_signed(
    directory: Path, name: str = "server", *, hosts: tuple[str, ...] = DEFAULT_HOSTS
) -> CertFiles:
    """Write a self-signed certificate valid for 30 days."""
    return make_certificate(directory, name, hosts=hosts)


def make_authority(directory: Path, name: str = "test-ca") -> Authority:
    """Write a self-signed authority valid for a year; it signs leaf certificates."""
    files = make_certificate(
        directory, name, hosts=("beamwatch test CA",), valid_days=365
    )
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return Authority(files=files, cert=cert, key=key)
