"""Settings of the collector API: the config file's [api] table, then the environment.

Environment variables override the file, so a deployment can keep the token
out of the file. Every [api] field has a variable, e.g.

    BEAMWATCH_API_HOST, BEAMWATCH_API_PORT, BEAMWATCH_API_TOKEN,
    BEAMWATCH_API_CORS_ORIGINS (a JSON list), BEAMWATCH_API_CACHE_TTL_S, ...

and the store has two more forms, which replace the [store] table for the
probes as well as for the API, because `beamwatch run` keeps one store:

    BEAMWATCH_API_STORE (JSON, e.g. {"kind": "sqlite", "path": "/var/lib/bw.db"})
    BEAMWATCH_API_STORE__PATH and the other store fields one by one

`load_api_settings` raises `ConfigError` naming each invalid field.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from collector.config import (
    ApiFields,
    ApiSettings,
    ConfigError,
    SQLiteStoreSettings,
    StoreSettings,
    format_errors,
)

ENV_PREFIX = "BEAMWATCH_API_"
# Examples for the settings whose variables contain JSON.
JSON_EXAMPLES = {
    "cors_origins": "a JSON list such as '[\"https://dash.example.com\"]'",
    "store": (
        'a JSON object such as \'{"kind": "sqlite", "path": "/var/lib/beamwatch.db"}\''
    ),
}


class ApiServerSettings(ApiFields, BaseSettings):
    """The [api] settings read from BEAMWATCH_API_*, and the store to open."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    store: StoreSettings = Field(default_factory=SQLiteStoreSettings)

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


def read_variable(field: str) -> tuple[str, str | None]:
    """Return the variable name of `field` and its value, or None when unset."""
    name = ENV_PREFIX + field.upper()
    # Variable names are matched without regard to case, as pydantic-settings does.
    value = next(
        (value for key, value in os.environ.items() if key.upper() == name), None
    )
    return name, value


def not_json_message(field: str) -> str:
    name, value = read_variable(field)
    expected = JSON_EXAMPLES.get(field, "valid JSON")
    assignment = name if value is None else f"{name}={value!r}"
    return f"{assignment} is not valid JSON; {name} must be {expected}"


def check_json_variables() -> None:
    """Raise ConfigError naming a set JSON variable whose value is not JSON.

    pydantic-settings raises SettingsError for some of these and passes others
    on as a string that fails validation with no variable named, so both are
    checked here first.
    """
    for field in JSON_EXAMPLES:
        _, value = read_variable(field)
        if value is None:
            continue
        try:
            json.loads(value)
        except json.JSONDecodeError:
            raise ConfigError(
                f"invalid API settings: {not_json_message(field)}"
            ) from None


def describe_settings_error(error: SettingsError) -> str:
    """Name the variable whose value pydantic-settings could not parse as JSON."""
    match = re.search(r'field "(\w+)"', str(error))
    if match is None:
        return f"invalid BEAMWATCH_API_* variable: {error}"
    return not_json_message(match.group(1))


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
    check_json_variables()
    try:
        return ApiServerSettings(**values)
    except SettingsError as exc:
        raise ConfigError(
            f"invalid API settings: {describe_settings_error(exc)}"
        ) from None
    except ValidationError as exc:
        raise ConfigError(
            f"invalid API settings (config file [api] or BEAMWATCH_API_*):\n"
            f"{format_errors(exc)}"
        ) from None
