"""`beamwatch influx setup|check` and `beamwatch spool status` on a real influxd."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.config import ConfigError, parse_config
from collector.influx_cli import influx_app, shard_duration
from collector.spool_cli import spool_app
from probe.spool import FAILED, Spool
from tests.support.influx import InfluxServer, influxd
from tests.support.servers import (
    NGINX_BINARY,
    free_port,
    stop_process,
    wait_for_port,
)

__all__ = ["influxd"]

runner = CliRunner()


def write_config(tmp_path: Path, store: str) -> Path:
    path = tmp_path / "beamwatch.toml"
    path.write_text(
        f"[store]\n{store}\n\n"
        '[[targets]]\nname = "t"\nprovider = "p"\nurl = "http://127.0.0.1:9/"\n'
    )
    return path


def influx_store_toml(url: str, extra: str = "", database: str = "fresh") -> str:
    return f'kind = "influxdb"\nurl = "{url}"\ndatabase = "{database}"\n{extra}'


def test_setup_creates_database_and_policy(
    tmp_path: Path, influxd: InfluxServer
) -> None:
    toml = influx_store_toml(
        influxd.url, 'retention_policy = "short"\nretention = "7d"'
    )
    config = write_config(tmp_path, toml)

    first = runner.invoke(influx_app, ["setup", "--config", str(config)])
    config.write_text(config.read_text().replace('"7d"', '"14d"'))
    again = runner.invoke(influx_app, ["setup", "--config", str(config)])

    assert first.exit_code == 0, first.output
    assert 'CREATE RETENTION POLICY "short" ON "fresh" DURATION 7d' in first.output
    assert again.exit_code == 0, again.output
    assert 'ALTER RETENTION POLICY "short" ON "fresh" DURATION 14d' in again.output
    reply = influxd.query('SHOW RETENTION POLICIES ON "fresh"')
    policies = reply["results"][0]["series"][0]["values"]
    short = next(row for row in policies if row[0] == "short")
    assert short[1] == "336h0m0s"
    assert short[-1] is True


def policy_row(influxd: InfluxServer, name: str) -> list[object]:
    reply = influxd.query('SHOW RETENTION POLICIES ON "fresh"')
    policies = reply["results"][0]["series"][0]["values"]
    row: list[object] = next(row for row in policies if row[0] == name)
    return row


def test_setup_shortens_retention_below_shard(
    tmp_path: Path, influxd: InfluxServer
) -> None:
    config = write_config(tmp_path, influx_store_toml(influxd.url, 'retention = "90d"'))
    first = runner.invoke(influx_app, ["setup", "-c", str(config)])
    shards_90d = policy_row(influxd, "beamwatch")[2]

    # 90d gave the policy 1 d shards, longer than the new 1 h retention.
    config.write_text(config.read_text().replace('"90d"', '"1h"'))
    short = runner.invoke(influx_app, ["setup", "-c", str(config)])
    row_1h = policy_row(influxd, "beamwatch")

    config.write_text(config.read_text().replace('"1h"', '"INF"'))
    forever = runner.invoke(influx_app, ["setup", "-c", str(config)])
    row_inf = policy_row(influxd, "beamwatch")

    assert first.exit_code == 0, first.output
    assert shards_90d == "24h0m0s"
    assert short.exit_code == 0, short.output
    assert "DURATION 1h SHARD DURATION 1h DEFAULT" in short.output
    assert row_1h[1:3] == ["1h0m0s", "1h0m0s"]
    assert forever.exit_code == 0, forever.output
    assert row_inf[1:3] == ["0s", "168h0m0s"]


def test_setup_warns_of_points_left_in_old_default(
    tmp_path: Path, influxd: InfluxServer
) -> None:
    influxd.create_database("fresh")
    form = urllib.parse.urlencode({"db": "fresh", "precision": "ms"})
    # Recent points: the new 90d policy rejects older ones, copies included.
    now_ms = int(time.time() * 1000)
    body = f"probe,region=r ok=true {now_ms}\nprobe,region=r ok=true {now_ms + 1}"
    urllib.request.urlopen(f"{influxd.url}/write?{form}", data=body.encode()).close()
    config = write_config(tmp_path, influx_store_toml(influxd.url))

    result = runner.invoke(influx_app, ["setup", "-c", str(config)])

    assert result.exit_code == 0, result.output
    assert 'warning: 2 probe points stay in the old default policy "autogen"' in (
        result.output
    )
    copy = 'SELECT * INTO "fresh"."beamwatch".probe FROM "fresh"."autogen".probe'
    assert f"{copy} GROUP BY *" in result.output
    influxd.query(f"{copy} GROUP BY *", "fresh")
    assert influxd.count("fresh") == 2


def test_setup_quiet_without_old_points(tmp_path: Path, influxd: InfluxServer) -> None:
    influxd.create_database("fresh")
    config = write_config(tmp_path, influx_store_toml(influxd.url))

    result = runner.invoke(influx_app, ["setup", "-c", str(config)])

    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


@pytest.mark.parametrize(
    ("retention", "expected"),
    [
        ("1h", "1h"),
        ("47h", "1h"),
        ("48h", "1d"),
        ("2d", "1d"),
        ("179d", "1d"),
        ("180d", "7d"),
        ("25w", "1d"),
        ("26w", "7d"),
        ("INF", "7d"),
    ],
)
def test_shard_duration_follows_influxdb(retention: str, expected: str) -> None:
    assert shard_duration(retention) == expected


def test_check_reads_back_point(tmp_path: Path, influxd: InfluxServer) -> None:
    config = write_config(tmp_path, influx_store_toml(influxd.url))
    assert runner.invoke(influx_app, ["setup", "-c", str(config)]).exit_code == 0

    result = runner.invoke(influx_app, ["check", "-c", str(config)])

    assert result.exit_code == 0, result.output
    assert "ok: wrote and read back one beamwatch_check point" in result.output


PROXY_CONFIG = """
daemon off;
master_process off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    server {{
        listen 127.0.0.1:{port};
        location /influx/ {{ proxy_pass {upstream}/; }}
    }}
}}
"""


@contextlib.contextmanager
def influx_behind_prefix(work: Path, upstream: str) -> Iterator[str]:
    """Serve `upstream` under /influx through nginx; yield the prefixed URL."""
    work.mkdir()
    port = free_port()
    config = work / "nginx.conf"
    config.write_text(PROXY_CONFIG.format(work=work, port=port, upstream=upstream))
    process = subprocess.Popen(
        [NGINX_BINARY, "-c", str(config), "-p", str(work), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}/influx/"
    finally:
        stop_process(process)


def test_check_through_path_prefix(tmp_path: Path, influxd: InfluxServer) -> None:
    with influx_behind_prefix(tmp_path / "nginx", influxd.url) as url:
        config = write_config(tmp_path, influx_store_toml(url))
        setup = runner.invoke(influx_app, ["setup", "-c", str(config)])
        result = runner.invoke(influx_app, ["check", "-c", str(config)])

    assert setup.exit_code == 0, setup.output
    assert result.exit_code == 0, result.output
    assert f"beamwatch_check point at {url.rstrip('/')}" in result.output


def test_check_names_missing_database(tmp_path: Path, influxd: InfluxServer) -> None:
    config = write_config(tmp_path, influx_store_toml(influxd.url))
    result = runner.invoke(influx_app, ["check", "-c", str(config)])
    assert result.exit_code == 1
    assert 'database not found: "fresh"' in result.output


def test_check_reports_dead_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path, influx_store_toml(url, "timeout_s = 2"))
    result = runner.invoke(influx_app, ["check", "-c", str(config)])
    assert result.exit_code == 1
    assert f"check failed: {url}/write failed" in result.output


def test_setup_prints_v2_commands(tmp_path: Path) -> None:
    toml = influx_store_toml(
        "http://127.0.0.1:8086", 'write_api = "v2"\nbucket = "bw"\norg = "acme"'
    )
    result = runner.invoke(
        influx_app, ["setup", "-c", str(write_config(tmp_path, toml))]
    )
    assert result.exit_code == 0, result.output
    assert "influx bucket create --name bw --org acme --retention 90d" in result.output
    assert "influx v1 dbrp create --org acme --db fresh --rp autogen" in result.output


def test_setup_rejects_sqlite_store(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'kind = "sqlite"')
    result = runner.invoke(influx_app, ["setup", "-c", str(config)])
    assert result.exit_code == 2
    assert 'set kind = "influxdb"' in result.output


def test_spool_status_lists_failures(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.put("probe ok=true 1\nprobe ok=true 2", 2)
    spool.put("probe ok= 3", 1, status=FAILED, error="unable to parse 'probe ok= 3'")
    spool.close()

    result = runner.invoke(spool_app, ["status", "--spool", str(path)])

    assert result.exit_code == 1
    assert "1 pending batches (2 points), 1 failed (1 points)" in result.output
    assert "failed batch 2 (1 points" in result.output
    assert "unable to parse 'probe ok= 3'" in result.output


def test_spool_status_without_file(tmp_path: Path) -> None:
    result = runner.invoke(spool_app, ["status", "--spool", str(tmp_path / "x.db")])
    assert result.exit_code == 0
    assert "no spool file; nothing is waiting" in result.output


def test_spool_status_leaves_other_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE reading (value REAL)")
    connection.close()
    before = path.read_bytes()

    result = runner.invoke(spool_app, ["status", "--spool", str(path)])

    assert result.exit_code == 2
    assert f"error: {path} is not a beamwatch spool file" in result.output
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["other.db"]


def test_spool_status_rejects_toml_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'kind = "sqlite"')

    result = runner.invoke(spool_app, ["status", "--spool", str(config)])

    assert result.exit_code == 2
    assert result.output == (
        f"error: {config} is not a beamwatch spool file (file is not a database)\n"
    )


def test_spool_status_rejects_directory(tmp_path: Path) -> None:
    result = runner.invoke(spool_app, ["status", "--spool", str(tmp_path)])

    assert result.exit_code == 2
    assert f"error: {tmp_path} is a directory" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_config_help_shows_store_table() -> None:
    for command in (["setup", "--help"], ["check", "--help"]):
        result = runner.invoke(influx_app, command, env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert 'whose [store] table sets kind = "influxdb"' in result.output
        assert "  kind" not in result.output

    status = runner.invoke(spool_app, ["status", "--help"], env={"COLUMNS": "200"})
    assert status.exit_code == 0
    assert 'whose [store] table sets kind = "influxdb"' in status.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            'token = "t"\nusername = "u"\npassword = "p"',
            "set either token or username and password, not both",
            id="token-and-user",
        ),
        pytest.param('username = "u"', "must be set together", id="user-no-password"),
        pytest.param(
            'write_api = "v2"', 'bucket is required when write_api = "v2"', id="v2"
        ),
        pytest.param('retention = "7 days"', "store.retention", id="retention"),
    ],
)
def test_invalid_influx_settings_rejected(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(config_text(extra))


def test_invalid_database_name_rejected() -> None:
    text = config_text("").replace('database = "fresh"', 'database = "a b"')
    with pytest.raises(ConfigError, match=r"store\.database: "):
        parse_config(text)


def test_secrets_stay_out_of_repr() -> None:
    config = parse_config(config_text('token = "hunter2"'))
    assert "hunter2" not in repr(config.store)


def config_text(extra: str) -> str:
    return (
        f"[store]\n{influx_store_toml('http://127.0.0.1:8086', extra)}\n"
        '[[targets]]\nname = "t"\nprovider = "p"\nurl = "http://127.0.0.1:9/"\n'
    )
