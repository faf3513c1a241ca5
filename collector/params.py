"""Query parameters of the API, validated at the edge with pydantic.

`parse_params` turns every validation problem into a 400 whose message names
the parameter, quotes the bad value (escaped and shortened) and states what is
accepted, with an example.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from collector.store.base import QueryFilter, Stat
from probe.models import TAG_VALUE_PATTERN

# ASCII digits only: `\d` would also take other scripts' digits, and a
# `$` anchor would let a trailing newline through, so callers use fullmatch.
# Any count of digits matches, so that a huge window is reported as too large.
WINDOW_PATTERN = re.compile(r"([0-9]+)([smhd])", re.ASCII)
LIMIT_PATTERN = re.compile(r"[0-9]+", re.ASCII)
TAG_VALUE = re.compile(TAG_VALUE_PATTERN)
UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_WINDOW_MS = 30 * UNIT_MS["d"]
MIN_WINDOW_MS = UNIT_MS["m"]
WINDOW_RANGE = "use a window between 1m and 30d, e.g. 1h"
MIN_LIMIT = 1
MAX_LIMIT = 1000
# Maximum length of a query parameter name or value, in characters. Valid values
# are at most 64 characters (a tag value), so a longer one is rejected before
# validation and never echoed back in full.
MAX_PARAMETER_CHARS = 256
# Error messages quote at most this many characters of a bad value.
ECHO_CHARS = 64
# Pulse charts get about this many time buckets, whatever the window.
PULSE_BUCKETS = 60
TAG_EXAMPLES = {"region": "eu-central-1", "provider": "sp-01", "target": "piece-1"}


def describe_value(value: str) -> str:
    """Quote a bad value for an error message, escaped and cut to ECHO_CHARS.

    `ascii()` escapes newlines, control and bidi characters and any other
    non-ASCII character, so the echo cannot break a log line or hide what
    was sent.
    """
    if len(value) <= ECHO_CHARS:
        return ascii(value)
    return f"{value[:ECHO_CHARS]!a}... ({len(value)} characters)"


def parse_window_ms(text: str) -> int:
    """Parse a window such as `15m`, `1h`, `24h` or `7d` into milliseconds."""
    match = WINDOW_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{describe_value(text)} is not a window; use a whole number and a unit"
            " s, m, h or d, e.g. 1h or 7d"
        )
    window_ms = int(match.group(1)) * UNIT_MS[match.group(2)]
    if window_ms > MAX_WINDOW_MS:
        raise ValueError(f"{describe_value(text)} is too large; {WINDOW_RANGE}")
    if window_ms < MIN_WINDOW_MS:
        raise ValueError(f"{describe_value(text)} is too small; {WINDOW_RANGE}")
    return window_ms


def normalise_window(text: str) -> str:
    """Check a window and drop leading zeros, so `0001h` and `1h` share a cache key.

    The unit stays as sent: `60m` and `1h` are separate keys, because the
    response echoes the window.
    """
    parse_window_ms(text)
    return text.lstrip("0")


Window = Annotated[str, AfterValidator(normalise_window)]


def pulse_bucket_ms(window_ms: int) -> int:
    """Pick a round bucket width giving about PULSE_BUCKETS buckets."""
    for width_ms in (10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000):
        if window_ms / width_ms <= PULSE_BUCKETS:
            return width_ms
    return 6 * 3_600_000


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def cache_key(self) -> tuple[Any, ...]:
        """Return the parsed values in field order, equal for equal requests."""
        return tuple(self.model_dump(mode="json").values())


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
    window: Window = "1h"
    region: str | None = Field(default=None, pattern=TAG_VALUE_PATTERN)
    provider: str | None = Field(default=None, pattern=TAG_VALUE_PATTERN)
    target: str | None = Field(default=None, pattern=TAG_VALUE_PATTERN)

    @field_validator("region", "provider", "target", mode="before")
    @classmethod
    def _tag_value(cls, value: object, info: ValidationInfo) -> object:
        # Runs before the `pattern` check, which stays for the OpenAPI schema
        # but would report the regex instead of the rule.
        if isinstance(value, str) and TAG_VALUE.fullmatch(value) is None:
            example = TAG_EXAMPLES.get(info.field_name or "", "eu-central-1")
            raise ValueError(
                f"{describe_value(value)} is not a tag value; use 1-64 letters,"
                " digits, '.', '_', ':' or '-', starting with a letter or digit,"
                f" e.g. {example}"
            )
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
    window: Window = "1h"
    stat: Stat = Stat.P95

    @field_validator("stat", mode="before")
    @classmethod
    def _stat(cls, value: object) -> object:
        allowed = [stat.value for stat in Stat]
        if isinstance(value, str) and value not in allowed:
            raise ValueError(
                f"{describe_value(value)} is not a statistic; use one of"
                f" {', '.join(allowed)}"
            )
        return value

    @property
    def window_ms(self) -> int:
        return parse_window_ms(self.window)


class AlertsParams(Params):
    limit: int = Field(default=50, ge=MIN_LIMIT, le=MAX_LIMIT)
    since: Window = "7d"

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        # pydantic would also take "1.0", " 1", "+1" and "1_0" as integers.
        if LIMIT_PATTERN.fullmatch(value) is None:
            raise ValueError(
                f"{describe_value(value)} is not a whole number in ASCII digits;"
                f" use {MIN_LIMIT} to {MAX_LIMIT}"
            )
        if not MIN_LIMIT <= int(value) <= MAX_LIMIT:
            raise ValueError(
                f"{describe_value(value)} is out of range; use {MIN_LIMIT} to"
                f" {MAX_LIMIT}"
            )
        return int(value)

    @property
    def since_ms(self) -> int:
        return parse_window_ms(self.since)
