"""FilBeam retrieval targets: URL from payer address and piece CID, and validation.

FilBeam serves a piece at `https://{payer}.filbeam.io/{pieceCid}` on mainnet and
`https://{payer}.calibration.filbeam.io/{pieceCid}` on calibration. The payer is
an EIP-55 checksummed Ethereum-style address; the piece CID is a CIDv1 in
lower-case base32 multibase (it starts with "b").
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum

from Crypto.Hash import keccak
from pydantic import BaseModel, ConfigDict, field_validator

ADDRESS_PATTERN = re.compile(r"^0x[0-9a-fA-F]{40}$")
BASE32_LOWER = re.compile(r"^b[a-z2-7]+$")

# Meanings of FilBeam's error statuses, so an outcome's error text distinguishes them.
STATUS_MEANINGS = {
    402: "payment required: the payer's Filecoin Pay account cannot cover egress",
    403: "forbidden: the payer or data set is not allowed to serve this piece",
    404: "not found: no data set of this payer holds this piece",
    502: "bad gateway: the storage provider behind FilBeam did not answer",
}


class Network(StrEnum):
    MAINNET = "mainnet"
    CALIBRATION = "calibration"
    LOCAL = "local"


def to_checksum_address(address: str) -> str:
    """Return the EIP-55 mixed-case form of a 20-byte hex address."""
    lower = address[2:].lower()
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    mixed = (
        char.upper() if int(nibble, 16) >= 8 else char
        for char, nibble in zip(lower, digest, strict=False)
    )
    return "0x" + "".join(mixed)


def check_address(address: str) -> str:
    """Validate an address, raising ValueError naming the problem.

    All-lower or all-upper hex carries no checksum and is accepted as is, as
    wallets do; mixed case must match EIP-55 exactly.
    """
    if not ADDRESS_PATTERN.match(address):
        raise ValueError(
            f"{address!r} is not an address: expected 0x followed by 40 hex digits"
        )
    digits = address[2:]
    if digits in (digits.lower(), digits.upper()):
        return address
    expected = to_checksum_address(address)
    if address != expected:
        raise ValueError(
            f"{address!r} fails its EIP-55 checksum; did you mean {expected}?"
        )
    return address


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value = 0
    for shift_index in range(9):
        if offset >= len(data):
            raise ValueError("truncated varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << (7 * shift_index)
        if not byte & 0x80:
            return value, offset
    raise ValueError("varint longer than 9 bytes")


def check_piece_cid(cid: str) -> str:
    """Validate a CIDv1 in base32 multibase, raising ValueError naming the problem."""
    if not BASE32_LOWER.match(cid):
        raise ValueError(
            f"{cid!r} is not a base32 CIDv1: expected 'b' then lower-case a-z and 2-7"
        )
    body = cid[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except binascii.Error:
        raise ValueError(
            f"{cid!r} is not a valid CID: {len(body)} base32 characters"
            " do not encode whole bytes; is it truncated?"
        ) from None
    try:
        version, offset = _read_varint(raw, 0)
        _codec, offset = _read_varint(raw, offset)
        _hash_code, offset = _read_varint(raw, offset)
        digest_length, offset = _read_varint(raw, offset)
    except ValueError as exc:
        raise ValueError(f"{cid!r} is not a valid CID: {exc}") from None
    if version != 1:
        raise ValueError(f"{cid!r} is CID version {version}; expected version 1")
    if len(raw) - offset != digest_length:
        raise ValueError(
            f"{cid!r} is not a valid CID: its multihash declares {digest_length} bytes"
            f" but {len(raw) - offset} follow"
        )
    return cid


class FilBeamRef(BaseModel):
    """A piece served by FilBeam for one payer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payer: str
    piece_cid: str
    network: Network = Network.MAINNET
    # Replaces the scheme and host, for a self-hosted gateway or a local test
    # server, e.g. "http://127.0.0.1:8000"; the piece CID is appended as path.
    base_url: str | None = None

    @field_validator("payer")
    @classmethod
    def _payer(cls, value: str) -> str:
        return check_address(value)

    @field_validator("piece_cid")
    @classmethod
    def _piece_cid(cls, value: str) -> str:
        return check_piece_cid(value)

    @field_validator("network")
    @classmethod
    def _network(cls, value: Network) -> Network:
        if value is Network.LOCAL:
            raise ValueError("a FilBeam network is 'mainnet' or 'calibration'")
        return value

    @property
    def url(self) -> str:
        if self.base_url is not None:
            return f"{self.base_url.rstrip('/')}/{self.piece_cid}"
        subdomain = "" if self.network is Network.MAINNET else "calibration."
        return f"https://{self.payer.lower()}.{subdomain}filbeam.io/{self.piece_cid}"


def describe_status(status_code: int) -> str:
    """Return the FilBeam meaning of an HTTP error status, or the plain status."""
    meaning = STATUS_MEANINGS.get(status_code)
    if meaning is None:
        return f"HTTP {status_code}"
    return f"HTTP {status_code} {meaning}"
