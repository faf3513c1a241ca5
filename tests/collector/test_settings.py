"""API settings: the config file's [api] table, overridden by BEAMWATCH_API_*."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsError

from collector.config import (
    ApiFields,
    ApiSettings,
    ConfigError,
    SQLiteStoreSettings,
    parse_config,
)
from collector.settings import (
    ApiServerSettings,
    describe_settings_error,
    load_api_settings,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BEAMWATCH_"):
            monkeypatch.delenv(name)


def test_defaults_bind_loopback() -> None:
    settings = load_api_settings()

    assert settings.host == "127.0.0.1"
    assert settings.token is None
    assert settings.costs_cache_ttl_s == 60
    assert isinstance(settings.store, SQLiteStoreSettings)


def test_environment_overrides_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEAMWATCH_API_PORT", "9100")
    monkeypatch.setenv("BEAMWATCH_API_TOKEN", "from-environment-0123456789")
    monkeypatch.setenv("BEAMWATCH_API_STORE__PATH", "/tmp/elsewhere.db")
    file_values = ApiSettings(
        host="::1", port=8080, token="from-file-0123456789", cors_origins=[]
    )

    settings = load_api_settings(file_values, SQLiteStoreSettings(path=Path("a.db")))

    assert settings.host == "::1"
    assert settings.port == 9100
    assert settings.token is not None
    assert settings.token.get_secret_value() == "from-environment-0123456789"
    assert settings.store.kind == "sqlite"
    assert str(settings.store.path) == "/tmp/elsewhere.db"


def test_cors_origins_from_environment_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEAMWATCH_API_CORS_ORIGINS", '["https://dash.example.org/"]')

    assert load_api_settings().cors_origins == ["https://dash.example.org"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param("BEAMWATCH_API_PORT", "70000", "port", id="port"),
        pytest.param("BEAMWATCH_API_TOKEN", "short", "16 characters", id="token"),
        pytest.param("BEAMWATCH_API_CORS_ORIGINS", '["*"]', "'*'", id="cors-star"),
        pytest.param("BEAMWATCH_API_CACHE_TTL_S", "0", "cache_ttl_s", id="ttl"),
        pytest.param("BEAMWATCH_API_STORE__KIND", "mysql", "store", id="store"),
    ],
)
def test_invalid_setting_names_field(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=message):
        load_api_settings()


def test_token_hidden_in_repr() -> None:
    settings = ApiServerSettings(token="secret-token-0123456789")

    assert "secret-token-0123456789" not in repr(settings)


API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# A valid value other than the default for each setting: (TOML, environment).
SAMPLE_VALUES = {
    "host": ('"::1"', "::1"),
    "port": ("9100", "9100"),
    "token": ('"token-0123456789abcdef"', "token-0123456789abcdef"),
    "cors_origins": ('["https://dash.example.com"]', '["https://dash.example.com"]'),
    "cache_ttl_s": ("5", "5"),
    "costs_cache_ttl_s": ("120.5", "120.5"),
    "stream_poll_s": ("0.5", "0.5"),
    "stream_keepalive_s": ("30", "30"),
    "max_stream_clients": ("50", "50"),
    "runway_warning_days": ("14", "14"),
}
TARGET = '[[targets]]\nname = "t"\nprovider = "p"\nurl = "http://127.0.0.1:9/"\n'


def documented_settings() -> dict[str, str]:
    """Return {setting: environment variable} from the table in docs/api.md."""
    section = API_DOC.read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    settings = {}
    for row in re.findall(r"^\| `(\w+)` \| `(BEAMWATCH_API_\w+)` \|", section, re.M):
        settings[row[0]] = row[1]
    return settings


def comparable(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def test_docs_list_every_api_setting() -> None:
    assert set(documented_settings()) == set(ApiFields.model_fields)
    assert set(SAMPLE_VALUES) == set(ApiFields.model_fields)


@pytest.mark.parametrize("name", sorted(SAMPLE_VALUES))
def test_documented_setting_read_from_file(name: str) -> None:
    toml_value, _ = SAMPLE_VALUES[name]
    config = parse_config(f"[api]\n{name} = {toml_value}\n\n{TARGET}")

    settings = load_api_settings(config.api, config.store)

    expected = tomllib.loads(f"v = {toml_value}")["v"]
    assert comparable(getattr(settings, name)) == expected


@pytest.mark.parametrize("name", sorted(SAMPLE_VALUES))
def test_documented_setting_read_from_environment(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    toml_value, env_value = SAMPLE_VALUES[name]
    monkeypatch.setenv(documented_settings()[name], env_value)

    settings = load_api_settings()

    expected = tomllib.loads(f"v = {toml_value}")["v"]
    assert comparable(getattr(settings, name)) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("port", "70000"),
        ("cache_ttl_s", "0"),
        ("costs_cache_ttl_s", "3601"),
        ("stream_poll_s", "0.01"),
        ("stream_keepalive_s", "0.5"),
        ("max_stream_clients", "0"),
        ("runway_warning_days", "-1"),
    ],
)
def test_same_bounds_in_file_and_environment(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=f"api.{name}"):
        parse_config(f"[api]\n{name} = {value}\n\n{TARGET}")

    monkeypatch.setenv(documented_settings()[name], value)
    with pytest.raises(ConfigError, match=f"(?m)^{name}:"):
        load_api_settings()


def test_environment_overrides_file_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(
        f"[api]\ncache_ttl_s = 5\nmax_stream_clients = 50\n\n{TARGET}"
    )
    monkeypatch.setenv("BEAMWATCH_API_CACHE_TTL_S", "9")

    settings = load_api_settings(config.api, config.store)

    assert settings.cache_ttl_s == 9
    assert settings.max_stream_clients == 50


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        pytest.param(
            "BEAMWATCH_API_CORS_ORIGINS",
            "http://a.example",
            "BEAMWATCH_API_CORS_ORIGINS='http://a.example' is not valid JSON;"
            " BEAMWATCH_API_CORS_ORIGINS must be a JSON list such as"
            " '[\"https://dash.example.com\"]'",
            id="cors-origins",
        ),
        pytest.param(
            "beamwatch_api_cors_origins",
            "[",
            "BEAMWATCH_API_CORS_ORIGINS='[' is not valid JSON",
            id="lower-case-name",
        ),
        pytest.param(
            "BEAMWATCH_API_STORE",
            "{x",
            "BEAMWATCH_API_STORE='{x' is not valid JSON; BEAMWATCH_API_STORE must be"
            ' a JSON object such as \'{"kind": "sqlite",',
            id="store",
        ),
    ],
)
def test_unparsable_json_names_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as caught:
        load_api_settings()

    assert expected in str(caught.value)


def test_store_path_variable_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = tmp_path / "absent" / "env.db"
    monkeypatch.setenv("BEAMWATCH_API_STORE__PATH", str(store))

    with pytest.raises(ConfigError, match=f"directory {store.parent} does not exist"):
        load_api_settings(store=SQLiteStoreSettings())


def test_settings_error_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEAMWATCH_API_CORS_ORIGINS", "http://a.example")
    # The message pydantic-settings 2.x gives when a variable is not JSON.
    error = SettingsError(
        'error parsing value for field "cors_origins" from source "EnvSettingsSource"'
    )

    message = describe_settings_error(error)

    assert message.startswith(
        "BEAMWATCH_API_CORS_ORIGINS='http://a.example' is not valid JSON"
    )
