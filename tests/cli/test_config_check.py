"""`beamwatch config check`: valid files pass, each problem is named by field path."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import EXAMPLE_CONFIG, app

runner = CliRunner()

VALID = """
[probe]
region = "eu-central-1"
interval_s = 30

[[targets]]
name = "origin"
provider = "nginx"
url = "http://127.0.0.1:8000/small.bin"
"""


def check(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "beamwatch.toml"
    path.write_text(text)
    result = runner.invoke(app, ["config", "check", str(path)])
    return result.exit_code, result.output


def test_example_config_is_valid() -> None:
    result = runner.invoke(app, ["config", "check", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_valid_config_reports_summary(tmp_path: Path) -> None:
    code, output = check(tmp_path, VALID)
    assert code == 0, output
    assert "1 target in region eu-central-1" in output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            VALID.replace('url = "http://127.0.0.1:8000/small.bin"', 'url = "ftp://x"'),
            "targets[0].url",
            id="url-scheme",
        ),
        pytest.param(
            VALID.replace("interval_s = 30", "interval_s = -1"),
            "probe.interval_s",
            id="negative-interval",
        ),
        pytest.param(VALID + "\n[store]\nkind = 'mysql'\n", "store", id="store-kind"),
        pytest.param(
            VALID + "\n[store]\nkind = 'influxdb'\nrecent_points_hours = -1\n",
            "store.recent_points_hours",
            id="negative-recent-hours",
        ),
        pytest.param(
            VALID + "\n[store]\nkind = 'influxdb'\nrecent_points_max = '1e6'\n",
            "store.recent_points_max",
            id="recent-max-as-text",
        ),
        pytest.param(
            VALID.replace('provider = "nginx"', 'provider = "has space"'),
            "targets[0].provider",
            id="tag-with-space",
        ),
        pytest.param(
            VALID.replace('name = "origin"', 'name = "origin"\ncolour = "red"'),
            "targets[0].colour: unknown field",
            id="unknown-field",
        ),
        pytest.param(
            VALID.replace('url = "http://127.0.0.1:8000/small.bin"', ""),
            "set exactly one of 'url' or 'filbeam'",
            id="no-url",
        ),
        pytest.param(
            VALID
            + '\n[[targets]]\nname = "origin"\nprovider = "b"\nurl = "http://127.0.0.1/"\n',
            "target name 'origin' is used twice",
            id="duplicate-name",
        ),
        pytest.param("[[targets]\n", "invalid TOML", id="toml-syntax"),
        pytest.param(
            VALID.replace("8000", "99999"),
            "targets[0].url: 'http://127.0.0.1:99999/small.bin' is not a valid URL",
            id="port-out-of-range",
        ),
        pytest.param(
            VALID.replace("127.0.0.1:8000", "[::1:8000"),
            "Invalid IPv6 URL",
            id="broken-ipv6",
        ),
        pytest.param(
            VALID.replace("small.bin", "a file.bin"),
            "contains white space",
            id="url-with-space",
        ),
        pytest.param(
            VALID.replace("interval_s = 30", "interval_s = true"),
            "probe.interval_s: Input should be a valid number (got True)",
            id="bool-interval",
        ),
        pytest.param(
            VALID + '\n[api]\nport = "8080"\n',
            "api.port: Input should be a valid integer (got '8080')",
            id="quoted-port",
        ),
        pytest.param(
            VALID + '\n[store]\npath = ""\n',
            "store.path: '.' is not a file path",
            id="empty-store-path",
        ),
        pytest.param(
            VALID + '\n[api]\ntoken = "short"\n',
            "at least 16 characters",
            id="short-token",
        ),
        pytest.param(
            "[probe]\n", "targets: required field is missing", id="no-targets"
        ),
    ],
)
def test_bad_config_names_field(tmp_path: Path, text: str, expected: str) -> None:
    code, output = check(tmp_path, text)
    assert code == 2
    assert expected in output


PIECE_CID = "bafkzcibcaapao7s5pz5hbvp2q3tcqm5hxtzyhybn4oujhpdkj7ssnyc3c5jlvrq"


def test_filbeam_bad_checksum_suggests_fix(tmp_path: Path) -> None:
    payer = "0x52908400098527886E0F7030069857D2E4169EE7"  # EIP-55 test vector
    wrong = payer.replace("E0F", "e0F")
    text = f"""
[[targets]]
name = "piece"
provider = "filbeam"
filbeam = {{ payer = "{wrong}", piece_cid = "{PIECE_CID}" }}
"""
    code, output = check(tmp_path, text)
    assert code == 2
    assert "targets[0].filbeam.payer" in output
    assert f"did you mean {payer}" in output


def test_bad_probe_default_reported_once(tmp_path: Path) -> None:
    code, output = check(tmp_path, VALID.replace("interval_s = 30", 'interval_s = "x"'))
    assert code == 2
    assert "probe.interval_s" in output
    assert "targets[0].interval_s" not in output


def test_store_kind_defaults_to_sqlite(tmp_path: Path) -> None:
    code, output = check(tmp_path, VALID + '\n[store]\npath = "points.db"\n')
    assert code == 0, output
    assert "store sqlite" in output


def test_environment_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEAMWATCH_API_PORT", "abc")
    code, output = check(tmp_path, VALID)
    assert code == 2
    assert "port" in output


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2
    assert "file not found" in result.output
