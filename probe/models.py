"""Targets and measurements: the data a probe takes in and gives out.

A `Measurement` is one HTTP retrieval attempt. Its field names are the storage
schema that users query in InfluxDB, so renaming one is a breaking change.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

import yarl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from probe.filbeam import FilBeamRef, Network

# Tag values come from a small configured set, so they stay short and plain.
TAG_VALUE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class Outcome(StrEnum):
    """The end state of one probe attempt, exactly one per measurement."""

    OK = "ok"
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"
    CONNECT_ERROR = "connect_error"
    TLS_ERROR = "tls_error"
    PROTOCOL_ERROR = "protocol_error"
    ASSERTION_FAILED = "assertion_failed"
    BODY_TOO_LARGE = "body_too_large"
    # More redirects than the target's max_redirects, or a redirect loop.
    TOO_MANY_REDIRECTS = "too_many_redirects"


def check_http_url(url: str) -> None:
    """Raise ValueError naming the problem unless `url` is a usable http(s) URL."""
    if any(char.isspace() for char in url):
        raise ValueError(f"{url!r} contains white space; percent-encode it as %20")
    try:
        parsed = yarl.URL(url)
        port = parsed.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    if not parsed.host:
        raise ValueError(f"{url!r} has no host; write it as http://HOST[:PORT]/PATH")
    if port == 0:
        raise ValueError(f"{url!r} has port 0; use a port from 1 to 65535")


class Checks(BaseModel):
    """Assertions a target may declare; a failed one ends as `assertion_failed`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status_codes: tuple[int, ...] = Field(default=(), description="accepted codes")
    body_contains: str | None = None
    body_regex: str | None = None
    min_bytes: int | None = Field(strict=True, default=None, ge=0)
    max_ttfb_ms: float | None = Field(strict=True, default=None, gt=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")

    @field_validator("body_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class Target(BaseModel):
    """One thing to probe: a plain URL, or a FilBeam piece built from payer and CID.

    `name`, `provider` and `region` become InfluxDB tags, so they are short
    configured labels; the URL and piece CID are never tags.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=TAG_VALUE_PATTERN)
    provider: str = Field(pattern=TAG_VALUE_PATTERN)
    region: str = Field(default="local", pattern=TAG_VALUE_PATTERN)
    url: str | None = None
    filbeam: FilBeamRef | None = None
    network: Network | None = None
    interval_s: float = Field(strict=True, default=60.0, gt=0, le=86_400)
    timeout_s: float = Field(
        strict=True,
        default=10.0,
        gt=0,
        le=600,
        description="deadline for the whole probe",
    )
    connect_timeout_s: float | None = Field(
        strict=True,
        default=None,
        gt=0,
        le=600,
        description="limit on the TCP connect alone",
    )
    read_timeout_s: float | None = Field(
        strict=True,
        default=None,
        gt=0,
        le=600,
        description="limit on each wait for response bytes, first byte included",
    )
    max_bytes: int = Field(strict=True, default=64 * 1024 * 1024, gt=0)
    max_redirects: int = Field(strict=True, default=5, ge=0, le=50)
    verify_tls: bool = Field(default=True, strict=True)
    ip_version: Literal[4, 6] | None = None
    checks: Checks = Field(default_factory=Checks)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_http_url(value)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Target:
        if (self.url is None) == (self.filbeam is None):
            raise ValueError("set exactly one of 'url' or 'filbeam'")
        return self

    @property
    def resolved_url(self) -> str:
        if self.filbeam is not None:
            return self.filbeam.url
        assert self.url is not None
        return self.url

    @property
    def resolved_network(self) -> Network:
        if self.network is not None:
            return self.network
        if self.filbeam is not None:
            return self.filbeam.network
        return Network.LOCAL


@dataclass(slots=True)
class Measurement:
    """One probe attempt. Times are milliseconds; a phase not reached is None.

    `time_ms` is the Unix time in milliseconds when the attempt started.
    `bytes` counts the response body as decoded: without chunked framing and
    after gzip or deflate content encoding is undone, which is also what
    `max_bytes` caps and what the body checks see. `connection_reused` is
    True when no new connection was opened, and then `connect_ms` and
    `tls_ms` are None. `tls_cert_expiry_days` is negative for an expired
    certificate and is filled in even when verification failed.
    """

    time_ms: int
    target: str
    provider: str
    region: str
    network: str
    outcome: Outcome
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    download_ms: float | None = None
    total_ms: float | None = None
    status_code: int | None = None
    bytes: int = 0
    redirects: int = 0
    connection_reused: bool = False
    error: str | None = None
    http_version: str | None = None
    remote_ip: str | None = None
    tls_cert_expiry_days: float | None = None
    data_set_id: str | None = None
    cf_ray: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["ok"] = self.ok
        data.pop("extra")
        return data


TAG_NAMES = ("region", "provider", "target", "network", "outcome")
FLOAT_FIELDS = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "download_ms", "total_ms")
INT_FIELDS = ("status_code", "bytes", "redirects")


def start_measurement(target: Target, outcome: Outcome = Outcome.OK) -> Measurement:
    """Return a Measurement of `target` stamped now, with its tags filled in."""
    return Measurement(
        time_ms=int(time.time() * 1000),
        target=target.name,
        provider=target.provider,
        region=target.region,
        network=target.resolved_network.value,
        outcome=outcome,
    )
