"""Settings of the collector API: the config file's [api] table, then the environment.

Environment variables override the file, so a deployment can keep the token
out of the file:

    BEAMWATCH_API_HOST, BEAMWATCH_API_PORT, BEAMWATCH_API_TOKEN,
    BEAMWATCH_API_CORS_ORIGINS (a JSON list), BEAMWATCH_API_CACHE_TTL_S, ...
    BEAMWATCH_API_STORE (JSON, e.g. {"kind": "sqlite", "path": "/var/lib/bw.db"})
    BEAMWATCH_API_STORE__PATH and the other store fields one by one

`load_api_settings` raises `ConfigError` naming each invalid field.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from collector.config import (
    ApiSettings,
    ConfigError,
    SQLiteStoreSettings,
    StoreSettings,
    format_errors,
)


class ApiServerSettings(BaseSettings):
    """API settings: the listening address, the costs token and the cache lifetimes."""

    model_config = SettingsConfigDict(
        env_prefix="BEAMWATCH_API_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65_535)
    # Bearer token for /api/costs. Without one, /api/costs returns 503.
    token: SecretStr | None = None
    cors_origins: list[str] = Field(default_factory=list)
    # Dashboard polling interval, passed through from the [api] table.
    refresh_s: float = Field(default=5.0, gt=0, le=3600)
    cache_ttl_s: float = Field(default=2.0, gt=0, le=300)
    costs_cache_ttl_s: float = Field(default=60.0, gt=0, le=3600)
    stream_poll_s: float = Field(default=1.0, ge=0.05, le=60)
    stream_keepalive_s: float = Field(default=15.0, ge=1, le=300)
    max_stream_clients: int = Field(default=1000, ge=1, le=100_000)
    runway_warning_days: float = Field(default=7.0, ge=0, le=3650)
    store: StoreSettings = Field(default_factory=SQLiteStoreSettings)

    @field_validator("token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment comes first so it overrides the config file, whose
        # values arrive as init arguments.
        return (env_settings, init_settings)


def load_api_settings(
    api: ApiSettings | None = None,
    store: StoreSettings | None = None,
    **overrides: Any,
) -> ApiServerSettings:
    """Merge the config file's [api] and [store] tables with the environment."""
    values: dict[str, Any] = {}
    if api is not None:
        values.update(api.model_dump(exclude_unset=True))
    if store is not None:
        values["store"] = store.model_dump()
    values.update(overrides)
    try:
        return ApiServerSettings(**values)
    except ValidationError as exc:
        raise ConfigError(
            f"invalid API settings (config file [api] or BEAMWATCH_API_*):\n"
            f"{format_errors(exc)}"
        ) from None
