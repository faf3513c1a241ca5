"""The expiry of a server's TLS certificate, read even when it fails verification.

A verified handshake makes the certificate available, but a failed one does
not. For a certificate that failed verification, the probe therefore opens one
more connection without verification just to read it. The expiry comes straight from the
certificate's DER encoding (X.509 `tbsCertificate.validity.notAfter`), so the
probe needs no X.509 library.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import ssl
import time

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400.0
TAG_SEQUENCE = 0x30
TAG_VERSION = 0xA0
TAG_UTC_TIME = 0x17
TAG_GENERALIZED_TIME = 0x18


def _read_header(der: bytes, offset: int) -> tuple[int, int, int]:
    """Return (tag, content offset, content length) of the element at `offset`."""
    tag = der[offset]
    first = der[offset + 1]
    offset += 2
    if first < 0x80:
        return tag, offset, first
    count = first & 0x7F
    if not 1 <= count <= 4:
        raise ValueError(f"unsupported DER length of {count} bytes")
    length = int.from_bytes(der[offset : offset + count], "big")
    return tag, offset + count, length


def _parse_time(tag: int, text: str) -> float:
    if tag == TAG_UTC_TIME:
        # RFC 5280: two-digit years 50-99 are 19xx, 00-49 are 20xx.
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != TAG_GENERALIZED_TIME:
        raise ValueError(f"validity time has unexpected DER tag {tag:#x}")
    parsed = time.strptime(text.rstrip("Z"), "%Y%m%d%H%M%S")
    return float(calendar.timegm(parsed))


def not_after_from_der(der: bytes) -> float | None:
    """Return the certificate's notAfter as Unix seconds, or None if unreadable."""
    try:
        _tag, offset, _length = _read_header(der, 0)  # Certificate
        _tag, offset, _length = _read_header(der, offset)  # tbsCertificate
        tag, content, length = _read_header(der, offset)
        if tag == TAG_VERSION:
            offset = content + length
            tag, content, length = _read_header(der, offset)
        # serialNumber, signature and issuer come before validity.
        for _skipped in range(3):
            offset = content + length
            tag, content, length = _read_header(der, offset)
        if tag != TAG_SEQUENCE:
            raise ValueError("validity is not a SEQUENCE")
        tag, content, length = _read_header(der, content)  # notBefore
        tag, content, length = _read_header(der, content + length)  # notAfter
        return _parse_time(tag, der[content : content + length].decode("ascii"))
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        log.warning("cannot read the expiry of a TLS certificate: %s", exc)
        return None


def days_left(not_after: float | None, now: float | None = None) -> float | None:
    """Return days from `now` until `not_after`; negative once expired."""
    if not_after is None:
        return None
    current = time.time() if now is None else now
    return (not_after - current) / SECONDS_PER_DAY


async def fetch_not_after(
    host: str, port: int, server_name: str | None, timeout_s: float
) -> float | None:
    """Return the notAfter of the certificate `host:port` presents, unverified.

    Used only after verification failed, so the expiry is recorded even for an
    expired or self-signed certificate. Returns None if the server cannot be
    reached again within `timeout_s`.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    writer = None
    try:
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=server_name
            )
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    except (OSError, TimeoutError) as exc:
        log.info("cannot fetch the certificate of %s:%d: %s", host, port, exc)
        return None
    finally:
        if writer is not None:
            writer.close()
    return not_after_from_der(der) if der else None
