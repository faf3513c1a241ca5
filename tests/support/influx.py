"""Real time-series servers for tests and benchmarks: influxd 1.x and VictoriaMetrics.

Each binds to a free loopback port with a temporary config and data dir and is
stopped by its own process id. `InfluxServer.stop()` and `start()` keep the
port and data dir, so a test can take the database away and bring it back.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import free_port, stop_process, wait_for_port

INFLUXD_BINARY = shutil.which("influxd") or "/usr/bin/influxd"
VICTORIA_BINARY = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"

INFLUXD_CONFIG = """
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{work}/meta"
  logging-enabled = false

[data]
  dir = "{work}/data"
  wal-dir = "{work}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
  cache-snapshot-write-cold-duration = "{cold_snapshot}"
  compact-full-write-cold-duration = "{cold_compaction}"

[monitor]
  store-enabled = false

[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  suppress-write-log = true
  pprof-enabled = false
  auth-enabled = {auth_enabled}
  max-row-limit = {max_row_limit}

[continuous_queries]
  enabled = false
"""


class InfluxServer:
    """influxd 1.x on loopback; `url` stays the same across stop() and start()."""

    def __init__(
        self,
        work: Path,
        *,
        auth: bool = False,
        compact_after_s: float | None = None,
        max_row_limit: int = 0,
    ) -> None:
        """Configure influxd in `work`; nothing runs until start().

        `compact_after_s` makes influxd write its cache to TSM files and fully
        compact them once writes pause that long, as older data is in a server
        that has run for a while. By default influxd waits 10 min and 4 h.
        """
        self.work = work
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.config_path = work / "influxdb.conf"
        self._process: subprocess.Popen[bytes] | None = None
        # Sent as HTTP Basic auth with every query once set; see add_admin().
        self.credentials: tuple[str, str] | None = None
        work.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            INFLUXD_CONFIG.format(
                work=work,
                http_port=self.http_port,
                rpc_port=self.rpc_port,
                auth_enabled="true" if auth else "false",
                max_row_limit=max_row_limit,
                cold_snapshot=f"{compact_after_s}s" if compact_after_s else "10m",
                cold_compaction=f"{compact_after_s}s" if compact_after_s else "4h",
            )
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        log = (self.work / "influxd.log").open("ab")
        self._process = subprocess.Popen(
            [INFLUXD_BINARY, "-config", str(self.config_path)],
            stdout=log,
            stderr=log,
        )
        log.close()
        wait_for_port("127.0.0.1", self.http_port, timeout_s=30.0)
        self._wait_for_ping()

    def kill(self) -> None:
        """Stop the server at once with SIGKILL, like a crash."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)

    def _wait_for_ping(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as reply:
                    if reply.status == 204:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"influxd at {self.url} did not answer /ping")
            time.sleep(0.05)

    def query(self, statement: str, database: str = "") -> dict[str, Any]:
        """Run InfluxQL through POST /query and return the decoded JSON."""
        form = urllib.parse.urlencode(
            {"q": statement, "db": database, "epoch": "ms"}
        ).encode()
        request = urllib.request.Request(f"{self.url}/query", data=form)
        if self.credentials is not None:
            pair = base64.b64encode(":".join(self.credentials).encode()).decode()
            request.add_header("Authorization", f"Basic {pair}")
        with urllib.request.urlopen(request, timeout=30) as r:
            result: dict[str, Any] = json.load(r)
        return result

    def add_admin(self, username: str, password: str) -> None:
        """Create the first admin user, which influxd allows without credentials."""
        self.query(
            f"CREATE USER \"{username}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES"
        )
        self.credentials = (username, password)

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def count(self, database: str, measurement: str = "probe") -> int:
        """Return how many points `measurement` holds, counted on its `ok` field."""
        reply = self.query(f'SELECT count("ok") FROM "{measurement}"', database)
        series = reply["results"][0].get("series")
        if not series:
            return 0
        return int(series[0]["values"][0][1])


@contextlib.contextmanager
def run_influxd(work: Path, *, auth: bool = False) -> Iterator[InfluxServer]:
    server = InfluxServer(work, auth=auth)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class VictoriaServer:
    """VictoriaMetrics single-node on loopback; it accepts /api/v2/write."""

    def __init__(self, port: int) -> None:
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def export(self, match: str) -> list[dict[str, Any]]:
        """Flush and return every series matching `match`, as /api/v1/export lines."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).close()
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(
            f"{self.url}/api/v1/export?{query}", timeout=10
        ) as r:
            return [json.loads(line) for line in r.read().splitlines() if line]


@contextlib.contextmanager
def run_victoria_metrics(work: Path) -> Iterator[VictoriaServer]:
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (work / "victoria-metrics.log").open("ab")
    process = subprocess.Popen(
        [
            VICTORIA_BINARY,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={work / 'data'}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
        ],
        stdout=log,
        stderr=log,
    )
    log.close()
    try:
        wait_for_port("127.0.0.1", port, timeout_s=30.0)
        yield VictoriaServer(port)
    finally:
        stop_process(process)


def wait_until(check: Any, timeout_s: float = 10.0) -> None:
    """Poll `check()` until it returns true, or raise TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition {check!r} still false after {timeout_s} s")
        time.sleep(0.05)


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[InfluxServer]:
    """A fresh influxd with an empty `beamwatch` database."""
    with run_influxd(tmp_path / "influxd") as server:
        server.create_database("beamwatch")
        yield server


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaServer]:
    with run_victoria_metrics(tmp_path / "victoria") as server:
        yield server
