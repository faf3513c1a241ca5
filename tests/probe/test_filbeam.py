"""FilBeam targets: payer and piece CID validation, URLs, and status meanings."""

from __future__ import annotations

import base64
import hashlib

import pytest
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from probe.filbeam import FilBeamRef, Network, check_address, check_piece_cid
from probe.http import ProbeClient
from probe.models import Outcome, Target
from tests.probe.origins import CF_RAY, DATA_SET_ID

# EIP-55 examples: mixed-case addresses whose case encodes the checksum.
CHECKSUMMED = (
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
)
PAYER = CHECKSUMMED[0]


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def make_cid(
    digest: bytes,
    *,
    version: int = 1,
    codec: int = 0x55,
    hash_code: int = 0x12,
    declared_length: int | None = None,
) -> str:
    length = len(digest) if declared_length is None else declared_length
    raw = varint(version) + varint(codec) + varint(hash_code) + varint(length) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


PIECE_CID = make_cid(hashlib.sha256(b"piece").digest(), codec=0x55, hash_code=0x1011)


@pytest.mark.parametrize("address", CHECKSUMMED)
def test_checksummed_address_is_accepted(address: str) -> None:
    assert check_address(address) == address


def test_single_case_address_is_accepted() -> None:
    assert check_address(PAYER.lower()) == PAYER.lower()
    assert check_address("0x" + PAYER[2:].upper()) == "0x" + PAYER[2:].upper()


def test_bad_checksum_suggests_correct_address() -> None:
    broken = PAYER[:-1] + PAYER[-1].swapcase()

    with pytest.raises(ValueError, match="fails its EIP-55 checksum") as caught:
        check_address(broken)
    assert PAYER in str(caught.value)


@pytest.mark.parametrize(
    "address",
    [PAYER[:-1], PAYER + "0", PAYER[2:], "0x" + "g" * 40],
    ids=["short", "long", "no-prefix", "not-hex"],
)
def test_malformed_address_is_rejected(address: str) -> None:
    with pytest.raises(ValueError, match="expected 0x followed by 40 hex digits"):
        check_address(address)


def test_piece_cid_is_accepted() -> None:
    assert check_piece_cid(PIECE_CID) == PIECE_CID


@pytest.mark.parametrize(
    ("cid", "message"),
    [
        pytest.param(PIECE_CID.upper(), "is not a base32 CIDv1", id="upper-case"),
        pytest.param("z" + PIECE_CID[1:], "is not a base32 CIDv1", id="base58-prefix"),
        pytest.param(PIECE_CID[:12], "do not encode whole bytes", id="cut-mid-byte"),
        pytest.param(PIECE_CID[:16], "multihash declares", id="truncated"),
        pytest.param(
            make_cid(b"\x01" * 32, version=2), "CID version 2", id="version-2"
        ),
        pytest.param(
            make_cid(b"\x01" * 32, declared_length=20),
            "multihash declares",
            id="length",
        ),
        pytest.param("b", "is not a base32 CIDv1", id="empty"),
        pytest.param("baa", "truncated varint", id="no-codec"),
    ],
)
def test_malformed_piece_cid_is_rejected(cid: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_piece_cid(cid)


def test_mainnet_and_calibration_urls() -> None:
    mainnet = FilBeamRef(payer=PAYER, piece_cid=PIECE_CID)
    calibration = FilBeamRef(
        payer=PAYER, piece_cid=PIECE_CID, network=Network.CALIBRATION
    )

    assert mainnet.url == f"https://{PAYER.lower()}.filbeam.io/{PIECE_CID}"
    assert calibration.url == (
        f"https://{PAYER.lower()}.calibration.filbeam.io/{PIECE_CID}"
    )


def test_local_network_is_rejected() -> None:
    with pytest.raises(ValidationError, match="'mainnet' or 'calibration'"):
        FilBeamRef(payer=PAYER, piece_cid=PIECE_CID, network=Network.LOCAL)


def test_target_takes_network_from_filbeam() -> None:
    ref = FilBeamRef(payer=PAYER, piece_cid=PIECE_CID, network=Network.CALIBRATION)
    target = Target(name="piece", provider="sp1", filbeam=ref)

    assert target.resolved_network is Network.CALIBRATION
    assert target.resolved_url == ref.url


def filbeam_target(origin: TestServer, status: int) -> Target:
    base_url = str(origin.make_url(f"/filbeam/{status}"))
    ref = FilBeamRef(payer=PAYER, piece_cid=PIECE_CID, base_url=base_url)
    return Target(name="piece", provider="sp1", filbeam=ref)


async def test_served_piece_keeps_headers(
    client: ProbeClient, origin: TestServer
) -> None:
    measurement = await client.probe(filbeam_target(origin, 200))

    assert measurement.outcome is Outcome.OK
    assert measurement.network == "mainnet"
    assert measurement.data_set_id == DATA_SET_ID
    assert measurement.cf_ray == CF_RAY


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        (402, "payment required"),
        (403, "forbidden"),
        (404, "not found"),
        (502, "bad gateway"),
    ],
)
async def test_filbeam_statuses_are_told_apart(
    client: ProbeClient, origin: TestServer, status: int, meaning: str
) -> None:
    measurement = await client.probe(filbeam_target(origin, status))

    assert measurement.outcome is Outcome.HTTP_ERROR
    assert measurement.status_code == status
    assert measurement.error is not None
    assert measurement.error.startswith(f"HTTP {status} {meaning}")
    assert measurement.data_set_id == DATA_SET_ID
    assert measurement.cf_ray == CF_RAY
