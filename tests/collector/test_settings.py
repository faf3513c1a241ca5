"""API settings: the config file's [api] table, overridden by BEAMWATCH_API_*."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import ApiSettings, ConfigError, SQLiteStoreSettings
from collector.settings import ApiServerSettings, load_api_settings


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
