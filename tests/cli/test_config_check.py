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


INFLUX = VALID + '\n[store]\nkind = "influxdb"\n'


@pytest.mark.parametrize(
    ("spool_path", "expected"),
    [
        pytest.param(
            "{tmp}",
            "store.spool_path: '{tmp}' is not a file path but a directory;"
            " give a file such as beamwatch-spool.db",
            id="directory",
        ),
        pytest.param(
            "{tmp}/absent/spool.db",
            "store.spool_path: directory {tmp}/absent does not exist;"
            " create it (mkdir -p {tmp}/absent)",
            id="missing-directory",
        ),
        pytest.param(
            "{tmp}/beamwatch.toml/spool.db",
            "store.spool_path: directory {tmp}/beamwatch.toml is not a directory",
            id="file-as-directory",
        ),
    ],
)
def test_bad_spool_path_rejected(
    tmp_path: Path, spool_path: str, expected: str
) -> None:
    path = spool_path.format(tmp=tmp_path)
    code, output = check(tmp_path, INFLUX + f'spool_path = "{path}"\n')

    assert code == 2, output
    assert expected.format(tmp=tmp_path) in output
    assert not (tmp_path / "absent").exists()


def test_missing_store_directory_rejected(tmp_path: Path) -> None:
    store = tmp_path / "absent" / "points.db"
    code, output = check(tmp_path, VALID + f'\n[store]\npath = "{store}"\n')

    assert code == 2
    assert f"store.path: directory {store.parent} does not exist" in output


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://[::1", "Invalid IPv6 URL", id="broken-ipv6"),
        pytest.param(
            "http://127.0.0.1:18086/some/path?x=1", "has a query string", id="query"
        ),
        pytest.param("http://127.0.0.1:8086?", "has a query string", id="empty-query"),
        pytest.param("http://127.0.0.1:8086/#top", "has a fragment", id="fragment"),
        pytest.param("ftp://127.0.0.1:8086", "has scheme 'ftp'", id="scheme"),
        pytest.param("127.0.0.1:8086", "not http or https", id="no-scheme"),
        pytest.param("http://:8086", "host is required", id="no-host"),
        pytest.param("http:///influx", "has no host", id="path-only"),
        pytest.param("http://1.2.3.999:8086", "invalid host '1.2.3.999'", id="ipv4"),
        pytest.param("http://-influx:8086", "invalid host '-influx'", id="host-dash"),
        pytest.param("http://127.0.0.1:99999", "Port out of range", id="port"),
        pytest.param("http://influx :8086", "contains white space", id="space"),
    ],
)
def test_bad_influx_url_rejected(tmp_path: Path, url: str, expected: str) -> None:
    code, output = check(tmp_path, INFLUX + f'url = "{url}"\n')

    assert code == 2, output
    assert f"store.url: {url!r}" in output
    assert expected in output
    assert "such as http://127.0.0.1:8086" in output


def test_influx_url_credentials_rejected(tmp_path: Path) -> None:
    code, output = check(tmp_path, INFLUX + 'url = "http://u:p@127.0.0.1:8086"\n')

    assert code == 2, output
    assert "store.url: 'http://u:p@127.0.0.1:8086' contains credentials" in output
    assert "set username and password, or token, in [store]" in output


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8086",
        "https://influx.example.com",
        "http://[::1]:8086",
        "http://influx_db:8086",
        "https://influx.example.com/influx",
        "https://influx.example.com/influx/",
    ],
)
def test_good_influx_url_accepted(tmp_path: Path, url: str) -> None:
    code, output = check(tmp_path, INFLUX + f'url = "{url}"\n')

    assert code == 0, output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            INFLUX + 'database = "my db"\n',
            "store.database: 'my db' is not a valid InfluxDB name: use 1 to 64"
            " letters, digits, '.', '_' or '-', starting with a letter or digit,"
            " such as beamwatch",
            id="database",
        ),
        pytest.param(
            INFLUX + 'retention_policy = "-rp"\n',
            "store.retention_policy: '-rp' is not a valid InfluxDB name",
            id="retention-policy",
        ),
        pytest.param(
            INFLUX + 'retention = "90 days"\n',
            "store.retention: '90 days' is not a valid retention: give a whole"
            " number of hours, days or weeks from 1h, such as 12h, 90d or 52w,"
            " or INF to keep points forever",
            id="retention",
        ),
        pytest.param(
            INFLUX + 'retention = "30m"\n',
            "store.retention: '30m' is not a valid retention",
            id="retention-minutes",
        ),
        pytest.param(
            VALID + 'checks = { sha256 = "abc" }\n',
            "targets[0].checks.sha256: 'abc' is not a valid SHA-256 digest:"
            " give 64 hexadecimal digits",
            id="sha256",
        ),
        pytest.param(
            VALID.replace('provider = "nginx"', 'provider = "has space"'),
            "targets[0].provider: 'has space' is not a valid label: use 1 to 64"
            " letters, digits",
            id="label",
        ),
    ],
)
def test_pattern_error_states_rule(tmp_path: Path, text: str, expected: str) -> None:
    code, output = check(tmp_path, text)

    assert code == 2, output
    assert expected in output
    assert "String should match pattern" not in output


def test_refresh_s_rejected_with_reason(tmp_path: Path) -> None:
    code, output = check(tmp_path, VALID + "\n[api]\nrefresh_s = 5\n")

    assert code == 2
    assert "api: refresh_s is no longer a setting because nothing used it" in output
    assert "?poll=N" in output


def test_cors_origins_not_json_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEAMWATCH_API_CORS_ORIGINS", "http://a.example")
    code, output = check(tmp_path, VALID)

    assert code == 2, output
    assert (
        "BEAMWATCH_API_CORS_ORIGINS='http://a.example' is not valid JSON;"
        " BEAMWATCH_API_CORS_ORIGINS must be a JSON list such as"
        " '[\"https://dash.example.com\"]'"
    ) in output
    assert "Traceback" not in output
