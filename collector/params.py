"""Query parameters of the API, validated at the edge with pydantic.

`parse_params` turns every validation problem into a 400 whose message names
the parameter and states what is accepted.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from collector.store.base import QueryFilter, Stat
from probe.models import TAG_VALUE_PATTERN

# ASCII digits only: `\d` would also take other scripts' digits, and a
# `$` anchor would let a trailing newline through, so callers use fullmatch.
WINDOW_PATTERN = re.compile(r"([0-9]{1,6})([smhd])", re.ASCII)
LIMIT_PATTERN = re.compile(r"[0-9]+", re.ASCII)
UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_WINDOW_MS = 30 * UNIT_MS["d"]
MIN_WINDOW_MS = UNIT_MS["m"]
# Maximum length of a query parameter name or value, in characters. Valid values
# are at most 64 characters (a tag value), so a longer one is rejected before
# validation and never echoed back in full.
MAX_PARAMETER_CHARS = 256
# Pulse charts get about this many time buckets, whatever the window.
PULSE_BUCKETS = 60


def parse_window_ms(text: str) -> int:
    """Parse a window such as `15m`, `1h`, `24h` or `7d` into milliseconds."""
    match = WINDOW_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(
            f"invalid window {text!r}: use a number and a unit s, m, h or d, e.g. 1h"
        )
    window_ms = int(match.group(1)) * UNIT_MS[match.group(2)]
    if not MIN_WINDOW_MS <= window_ms <= MAX_WINDOW_MS:
        raise ValueError(f"window {text!r} is out of range: use between 1m and 30d")
    return window_ms


def pulse_bucket_ms(window_ms: int) -> int:
    """Pick a round bucket width giving about PULSE_BUCKETS buckets."""
    for width_ms in (10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000):
        if window_ms / width_ms <= PULSE_BUCKETS:
            return width_ms
    return 6 * 3_600_000


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=Params)


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=json.dumps({"error": message}), content_type="application/json"
    )


def describe_name(name: str) -> str:
    """Quote a parameter name for an error message, marking an empty one."""
    if not name:
        return "'' (empty name)"
    return repr(name)


def check_lengths(model: type[Params], request: web.Request) -> None:
    """Raise a 400 for a parameter name or value over MAX_PARAMETER_CHARS."""
    for name, value in request.query.items():
        if len(name) > MAX_PARAMETER_CHARS:
            allowed = ", ".join(model.model_fields) or "none"
            raise bad_request(
                f"invalid query parameter {name[:32]!r}... ({len(name)} characters):"
                f" unknown parameter; allowed: {allowed}"
            )
        if len(value) > MAX_PARAMETER_CHARS:
            raise bad_request(
                f"invalid query parameter {describe_name(name)}: the value is"
                f" {len(value)} characters long; use at most {MAX_PARAMETER_CHARS}"
            )


def parse_params(model: type[P], request: web.Request) -> P:
    """Validate the query string against `model`; raise a 400 naming the parameter."""
    check_lengths(model, request)
    query = dict(request.query)
    if len(query) != len(request.query):
        repeated = sorted(
            {k for k in request.query if len(request.query.getall(k)) > 1}
        )
        raise bad_request(
            f"query parameter {', '.join(map(describe_name, repeated))} is given"
            " more than once; give each parameter once"
        )
    try:
        return model.model_validate(query)
    except ValidationError as exc:
        problems = []
        for item in exc.errors():
            if item["loc"]:
                name = describe_name(".".join(str(part) for part in item["loc"]))
            else:
                name = "'query'"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                allowed = ", ".join(model.model_fields) or "none"
                message = f"unknown parameter; allowed: {allowed}"
            problems.append(f"invalid query parameter {name}: {message}")
        raise bad_request("; ".join(problems)) from None


class TagFilterParams(Params):
    window: str = "1h"
    region: str | None = Field(default=None, pattern=TAG_VALUE_PATTERN)
    provider: str | None = Field(default=None, pattern=TAG_VALUE_PATTERN)
    target: str | None = Field(default=None, pattern=TAG_VALUE_PATTERN)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window_ms(value)
        return value

    @property
    def window_ms(self) -> int:
        return parse_window_ms(self.window)

    @property
    def where(self) -> QueryFilter:
        return QueryFilter(
            region=self.region, provider=self.provider, target=self.target
        )


class MetricsParams(TagFilterParams):
    pass


class NoParams(Params):
    """Endpoints that take no query parameters still reject unknown ones."""


class HeatmapParams(Params):
    window: str = "1h"
    stat: Stat = Stat.P95

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window_ms(value)
        return value

    @property
    def window_ms(self) -> int:
        return parse_window_ms(self.window)


class AlertsParams(Params):
    limit: int = Field(default=50, ge=1, le=1000)
    since: str = "7d"

    @field_validator("limit", mode="before")
    @classmethod
    def _limit_digits(cls, value: object) -> object:
        # pydantic would also take "1.0", " 1", "+1" and "1_0" as integers.
        if isinstance(value, str) and LIMIT_PATTERN.fullmatch(value) is None:
            raise ValueError(
                f"{value!r} is not a whole number in ASCII digits; use 1 to 1000"
            )
        return value

    @field_validator("since")
    @classmethod
    def _since(cls, value: str) -> str:
        parse_window_ms(value)
        return value
