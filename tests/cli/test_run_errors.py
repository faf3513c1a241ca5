"""`beamwatch run` refusing to start, stopping promptly, and the store it writes."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from typer.testing import CliRunner

from collector.cli import app
from tests.support.servers import free_port, wait_for_port


def write_config(path: Path, *, api_port: int, store: str, interval_s: int) -> None:
    path.write_text(
        f"""
[probe]
interval_s = {interval_s}

[store]
path = "{store}"

[api]
port = {api_port}

[[targets]]
name = "refused"
provider = "local"
url = "http://127.0.0.1:{free_port()}/"
"""
    )


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "collector", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.parent,
    )


def test_missing_store_directory_fails_fast(tmp_path: Path) -> None:
    config = tmp_path / "beamwatch.toml"
    store = tmp_path / "absent" / "points.db"
    write_config(config, api_port=free_port(), store=str(store), interval_s=10)

    _, stderr = start(config).communicate(timeout=30)

    assert f"directory {store.parent} does not exist" in stderr
    assert "Traceback" not in stderr
    assert not store.parent.exists()


def test_port_in_use_names_setting(tmp_path: Path) -> None:
    config = tmp_path / "beamwatch.toml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        write_config(config, api_port=port, store="points.db", interval_s=10)
        process = start(config)
        _, stderr = process.communicate(timeout=30)

    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in stderr
    assert "[api] port or BEAMWATCH_API_PORT" in stderr
    assert "Traceback" not in stderr


def test_stop_skips_probes_not_started(tmp_path: Path) -> None:
    config = tmp_path / "beamwatch.toml"
    api_port = free_port()
    # A 600 s interval starts the target up to 300 s into the round.
    write_config(config, api_port=api_port, store="points.db", interval_s=600)
    process = start(config)
    wait_for_port("127.0.0.1", api_port)

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 5
    assert "stopped" in stderr


def test_spool_directory_rejected_before_start(tmp_path: Path) -> None:
    config = tmp_path / "beamwatch.toml"
    config.write_text(
        f"""
[store]
kind = "influxdb"
url = "http://127.0.0.1:{free_port()}"
spool_path = "{tmp_path}"

[api]
port = {free_port()}

[[targets]]
name = "refused"
provider = "local"
url = "http://127.0.0.1:{free_port()}/"
"""
    )

    result = CliRunner().invoke(app, ["run", "--config", str(config)])

    assert result.exit_code == 2, result.output
    assert f"store.spool_path: '{tmp_path}' is not a file path" in result.output
    assert "beamwatch-spool.db" in result.output
    assert isinstance(result.exception, SystemExit)


def test_cors_origins_not_json_rejected(tmp_path: Path) -> None:
    config = tmp_path / "beamwatch.toml"
    write_config(config, api_port=free_port(), store="points.db", interval_s=10)

    result = CliRunner().invoke(
        app,
        ["run", "--config", str(config)],
        env={"BEAMWATCH_API_CORS_ORIGINS": "http://a.example"},
    )

    assert result.exit_code == 2, result.output
    assert "BEAMWATCH_API_CORS_ORIGINS='http://a.example' is not valid JSON" in (
        result.output
    )
    assert "must be a JSON list such as" in result.output
    assert isinstance(result.exception, SystemExit)


def test_store_variable_moves_probe_writes(tmp_path: Path) -> None:
    config = tmp_path / "beamwatch.toml"
    write_config(config, api_port=free_port(), store="points.db", interval_s=1)
    moved = tmp_path / "env.db"
    environment = {**os.environ, "BEAMWATCH_API_STORE__PATH": str(moved)}
    process = subprocess.Popen(
        [sys.executable, "-m", "collector", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=environment,
    )

    rows = 0
    deadline = time.monotonic() + 20
    while rows == 0 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        if moved.exists():
            with closing(sqlite3.connect(moved)) as connection:
                try:
                    rows = connection.execute("SELECT count(*) FROM probe").fetchone()[
                        0
                    ]
                except sqlite3.OperationalError:
                    rows = 0
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    assert rows > 0, stderr
    assert not (tmp_path / "points.db").exists()
