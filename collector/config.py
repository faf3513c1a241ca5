"""The beamwatch configuration file (TOML), validated with pydantic.

Layout:

    [probe]        defaults every target inherits: region, interval_s, timeout_s
    [store]        kind = "sqlite" (default) or "influxdb", with its settings
    [api]          where the collector listens
    [demo]         an optional local origin with set delays, for trying beamwatch
    [[targets]]    what to probe

`load_config` raises `ConfigError` whose message lists every problem with its
field path, e.g. `targets[1].url`, so a user can fix the file in one pass.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from collector.locations import check_file_path, check_influx_url
from probe.models import TAG_VALUE_PATTERN, Target

# The pattern of Checks.sha256 in probe.models, to word its error.
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"

TARGET_DEFAULT_KEYS = ("region", "interval_s", "timeout_s")


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeSettings(Strict):
    region: str = Field(default="local", pattern=TAG_VALUE_PATTERN)
    interval_s: float = Field(strict=True, default=60.0, gt=0, le=86_400)
    timeout_s: float = Field(strict=True, default=10.0, gt=0, le=600)
    concurrency: int = Field(strict=True, default=100, ge=1, le=10_000)
    # Stamp bytes at the kernel's arrival time instead of where the event loop
    # reads them (Linux only); see ProbeClient.
    kernel_stamps: bool = Field(default=False, strict=True)


class SQLiteStoreSettings(Strict):
    kind: Literal["sqlite"] = "sqlite"
    # Relative paths are relative to the directory beamwatch runs in.
    path: Path = Path("beamwatch.db")

    @field_validator("path")
    @classmethod
    def _file_path(cls, value: Path) -> Path:
        return check_file_path(value, "beamwatch.db")


# InfluxDB allows more, but these names go into InfluxQL and shell commands
# that `beamwatch influx setup` prints, so they stay plain.
INFLUX_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# A whole number of hours, days or weeks, or INF (keep forever). InfluxDB 1.x
# rejects retentions under 1 h, the smallest value this allows.
RETENTION_PATTERN = r"^([1-9][0-9]{0,5}[hdw]|INF)$"


class InfluxStoreSettings(Strict):
    kind: Literal["influxdb"]
    # An optional path is a prefix, e.g. /influx behind a reverse proxy.
    url: str = "http://127.0.0.1:8086"
    # "v1" posts to /write (InfluxDB 1.x, and the compatibility API of 2.x and
    # 3.x); "v2" writes through influxdb-client to /api/v2/write. Queries use
    # InfluxQL over /query either way.
    write_api: Literal["v1", "v2"] = "v1"
    database: str = Field(default="beamwatch", pattern=INFLUX_NAME_PATTERN)
    retention_policy: str | None = Field(default=None, pattern=INFLUX_NAME_PATTERN)
    # Retention `beamwatch influx setup` gives the policy or bucket: a number
    # with h, d or w, or INF.
    retention: str = Field(default="90d", pattern=RETENTION_PATTERN)
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    org: str | None = None
    bucket: str | None = Field(default=None, pattern=INFLUX_NAME_PATTERN)
    batch_size: int = Field(strict=True, default=5000, ge=1, le=100_000)
    flush_interval_s: float = Field(strict=True, default=1.0, gt=0, le=300)
    timeout_s: float = Field(strict=True, default=10.0, gt=0, le=300)
    retry_attempts: int = Field(strict=True, default=5, ge=1, le=20)
    retry_max_s: float = Field(strict=True, default=30.0, gt=0, le=3600)
    spool_path: Path = Path("beamwatch-spool.db")
    # Heatmaps, Pulse and summary of windows up to this many hours are computed
    # from raw points kept in memory and checked against InfluxDB's counts on
    # every query. 0 queries InfluxDB for every percentile instead.
    recent_points_hours: float = Field(strict=True, default=6.0, ge=0, le=48)
    recent_points_max: int = Field(
        strict=True, default=2_000_000, ge=1000, le=100_000_000
    )

    @field_validator("url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return check_influx_url(value)

    @field_validator("spool_path")
    @classmethod
    def _spool_file_path(cls, value: Path) -> Path:
        return check_file_path(value, "beamwatch-spool.db")

    @model_validator(mode="after")
    def _consistent_auth(self) -> InfluxStoreSettings:
        if self.token is not None and self.username is not None:
            raise ValueError("set either token or username and password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be set together")
        if self.write_api == "v2" and self.bucket is None:
            raise ValueError(
                'bucket is required when write_api = "v2"; set it to the bucket'
                ' that holds the database, e.g. bucket = "beamwatch"'
            )
        return self


StoreSettings = Annotated[
    SQLiteStoreSettings | InfluxStoreSettings, Field(discriminator="kind")
]


class ApiFields(BaseModel):
    """The collector API's settings, shared by the [api] table and BEAMWATCH_API_*."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65_535)
    # Bearer token for /api/costs. Without one, /api/costs returns 503.
    token: SecretStr | None = None
    cors_origins: list[str] = Field(default_factory=list)
    cache_ttl_s: float = Field(default=2.0, gt=0, le=300)
    costs_cache_ttl_s: float = Field(default=60.0, gt=0, le=3600)
    stream_poll_s: float = Field(default=1.0, ge=0.05, le=60)
    stream_keepalive_s: float = Field(default=15.0, ge=1, le=300)
    max_stream_clients: int = Field(default=1000, ge=1, le=100_000)
    runway_warning_days: float = Field(default=7.0, ge=0, le=3650)

    @field_validator("token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError(
                "the API token must have at least 16 characters;"
                " generate one with `openssl rand -hex 32`"
            )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_exact(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise ValueError(
                    f"invalid CORS origin {origin!r}: give exact origins such as"
                    " https://dashboard.example.org; '*' is not accepted"
                )
        return [origin.rstrip("/") for origin in value]


class ApiSettings(ApiFields):
    """The [api] table. TOML has types, so values are checked strictly."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_refresh_s(cls, data: Any) -> Any:
        # Older example configs set refresh_s, which nothing ever read.
        if isinstance(data, dict) and "refresh_s" in data:
            raise ValueError(
                "refresh_s is no longer a setting because nothing used it; delete"
                " it. The dashboard follows the live stream, and when it has to"
                " poll it does so every 5 s, or every N s with ?poll=N in its URL"
            )
        return data


class DemoSettings(Strict):
    """A local origin served by beamwatch itself, so a first run has targets."""

    enabled: bool = Field(default=False, strict=True)
    host: str = "127.0.0.1"
    port: int = Field(strict=True, default=8081, ge=0, le=65_535)


class Config(Strict):
    probe: ProbeSettings = Field(default_factory=ProbeSettings)
    store: StoreSettings = Field(default_factory=SQLiteStoreSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    targets: list[Target] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _inherit_probe_defaults(cls, data: Any) -> Any:
        """Give each target the [probe] region, interval and timeout it omits.

        Also default the store kind to "sqlite" when [store] omits it.
        """
        if not isinstance(data, dict):
            return data
        store = data.get("store")
        if isinstance(store, dict) and "kind" not in store:
            data = {**data, "store": {"kind": "sqlite", **store}}
        probe = data.get("probe") or {}
        targets = data.get("targets")
        if not isinstance(probe, dict) or not isinstance(targets, list):
            return data
        try:
            ProbeSettings.model_validate(probe)
        except ValidationError:
            # Reported once, under probe.*, rather than again on every target.
            return data
        inherited = []
        for target in targets:
            if isinstance(target, dict):
                defaults = {k: probe[k] for k in TARGET_DEFAULT_KEYS if k in probe}
                target = {**defaults, **target}
            inherited.append(target)
        return {**data, "targets": inherited}

    @model_validator(mode="after")
    def _unique_targets(self) -> Config:
        seen: set[tuple[str, str]] = set()
        for target in self.targets:
            key = (target.region, target.name)
            if key in seen:
                raise ValueError(
                    f"target name {target.name!r} is used twice in region"
                    f" {target.region!r}; names must be unique per region"
                )
            seen.add(key)
        return self


# The rule behind each pattern of a config field, in words, with an example.
PATTERN_RULES = {
    TAG_VALUE_PATTERN: (
        "label: use 1 to 64 letters, digits, '.', '_', ':' or '-', starting with"
        " a letter or digit, such as eu-central-1"
    ),
    INFLUX_NAME_PATTERN: (
        "InfluxDB name: use 1 to 64 letters, digits, '.', '_' or '-', starting"
        " with a letter or digit, such as beamwatch"
    ),
    RETENTION_PATTERN: (
        "retention: give a whole number of hours, days or weeks from 1h, such as"
        " 12h, 90d or 52w, or INF to keep points forever"
    ),
    SHA256_PATTERN: (
        "SHA-256 digest: give 64 hexadecimal digits, as `sha256sum FILE` prints"
    ),
}


def format_errors(error: ValidationError) -> str:
    """Render pydantic errors as one `path: message` line each."""
    lines = []
    for item in error.errors():
        path = ""
        for part in item["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part not in ("sqlite", "influxdb"):
                path += f".{part}" if path else str(part)
        message = item["msg"].removeprefix("Value error, ")
        value = item.get("input")
        if item["type"] == "extra_forbidden":
            message = "unknown field; check its spelling against the example config"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "string_pattern_mismatch":
            rule = PATTERN_RULES.get(item.get("ctx", {}).get("pattern", ""))
            if rule is not None:
                message = f"{value!r} is not a valid {rule}"
            else:
                message = f"{message} (got {value!r})"
        elif item["type"] != "value_error" and isinstance(value, str | int | float):
            message = f"{message} (got {value!r})"
        lines.append(f"{path or '(top level)'}: {message}")
    return "\n".join(lines)


def parse_config(text: str, source: str = "<text>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        count = exc.error_count()
        plural = "s" if count != 1 else ""
        raise ConfigError(
            f"{source}: {count} problem{plural}\n{format_errors(exc)}"
        ) from None


def load_config(path: Path) -> Config:
    """Read and validate a config file; relative store paths stay relative to cwd."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found; check the path of the TOML config file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_config(text, str(path))
