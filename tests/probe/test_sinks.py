"""Sinks on real servers: influxd, VictoriaMetrics, and an aiohttp server that fails."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from typer.testing import CliRunner

from collector.cli import app
from probe.models import Measurement, Outcome, Target
from probe.runner import Runner
from probe.sinks import BatchingSink
from probe.spool import FAILED, Spool
from probe.writers import (
    PermanentWriteError,
    TransientWriteError,
    V1Writer,
    V2Writer,
    parse_retry_after,
)
from tests.support.influx import (
    InfluxServer,
    VictoriaServer,
    influxd,
    run_influxd,
    victoria,
)
from tests.support.servers import free_port

__all__ = ["influxd", "victoria"]

FAST_RETRIES = {"retry_initial_s": 0.01, "retry_max_s": 0.05, "flush_interval_s": 0.05}


def points(count: int, start_ms: int = 1_700_000_000_000) -> list[Measurement]:
    return [
        Measurement(
            time_ms=start_ms + i,
            target=f"t{i % 3}",
            provider=f"p{i % 2}",
            region="eu-central-1",
            network="local",
            outcome=Outcome.OK,
            ttfb_ms=10.0 + i,
            status_code=200,
            bytes=512,
        )
        for i in range(count)
    ]


class ScriptedDatabase:
    """An aiohttp /write endpoint that responds from a script of (status, headers)."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = script
        self.bodies: list[str] = []
        self.request_times: list[float] = []
        self.queries: list[dict[str, str]] = []
        self.authorizations: list[str | None] = []

    async def write(self, request: web.Request) -> web.Response:
        self.request_times.append(time.monotonic())
        self.queries.append(dict(request.query))
        self.authorizations.append(request.headers.get("Authorization"))
        body = await request.text()
        status, headers = self.script.pop(0) if self.script else (204, {})
        if status == 204:
            self.bodies.append(body)
            return web.Response(status=204)
        return web.json_response(
            {"error": f"scripted {status}"}, status=status, headers=headers
        )


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = Spool(tmp_path / "spool.db")
    yield spool
    spool.close()


async def scripted_server(database: ScriptedDatabase) -> TestServer:
    app = web.Application()
    app.router.add_post("/write", database.write)
    app.router.add_post("/api/v2/write", database.write)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[ScriptedDatabase, str]]:
    database = ScriptedDatabase([])
    server = await scripted_server(database)
    yield database, str(server.make_url("")).rstrip("/")
    await server.close()


async def test_v1_sink_writes_every_point(influxd: InfluxServer, spool: Spool) -> None:
    sink = BatchingSink(
        V1Writer(influxd.url, "beamwatch"), spool, batch_size=100, **FAST_RETRIES
    )
    await sink.start()
    await sink(points(250))
    await sink(points(30, start_ms=1_700_000_100_000))
    await sink.close()

    assert influxd.count("beamwatch") == 280
    assert sink.written_points == 280
    assert spool.status().pending_batches == 0


async def test_v1_writer_sends_token_and_rp(
    flaky: tuple[ScriptedDatabase, str],
) -> None:
    database, url = flaky
    writer = V1Writer(url, "metrics", retention_policy="week", token="tok-123")
    await writer.write("probe ok=true 1")
    await writer.close()

    assert database.authorizations == ["Token tok-123"]
    assert database.queries == [{"db": "metrics", "precision": "ms", "rp": "week"}]


async def test_v1_writer_sends_basic_auth(tmp_path: Path) -> None:
    with run_influxd(tmp_path / "auth", auth=True) as server:
        server.add_admin("admin", "s3cret pass")
        server.create_database("beamwatch")
        good = V1Writer(
            server.url, "beamwatch", username="admin", password="s3cret pass"
        )
        await good.write("probe,region=r ok=true 1000")
        await good.close()

        bad = V1Writer(server.url, "beamwatch", username="admin", password="wrong")
        with pytest.raises(PermanentWriteError, match="401") as caught:
            await bad.write("probe,region=r ok=true 2000")
        await bad.close()
        assert caught.value.status == 401
        assert server.count("beamwatch") == 1


async def test_missing_database_is_permanent(
    influxd: InfluxServer, spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    sink = BatchingSink(V1Writer(influxd.url, "nope"), spool, **FAST_RETRIES)
    await sink.start()
    with caplog.at_level(logging.ERROR):
        await sink(points(5))
        await sink.close()

    assert "create the database with `beamwatch influx setup`" in caplog.text
    assert "then run `beamwatch spool retry`" in caplog.text

    status = spool.status()
    assert sink.rejected_batches == 1
    assert status.failed_batches == 1
    assert status.failed_points == 5
    assert status.pending_batches == 0
    error = status.failures[0][3]
    assert error is not None
    assert 'database not found: "nope"' in error


async def test_bad_line_protocol_is_permanent(influxd: InfluxServer) -> None:
    writer = V1Writer(influxd.url, "beamwatch")
    with pytest.raises(PermanentWriteError, match="unable to parse") as caught:
        await writer.write("probe,region=r ok= 1000")
    await writer.close()
    assert caught.value.status == 400


async def test_server_errors_are_retried(
    flaky: tuple[ScriptedDatabase, str], spool: Spool
) -> None:
    database, url = flaky
    database.script = [(503, {}), (500, {})]
    sink = BatchingSink(V1Writer(url, "db"), spool, retry_attempts=3, **FAST_RETRIES)
    await sink.start()
    await sink(points(4))
    await sink.close()

    assert len(database.request_times) == 3
    assert len(database.bodies) == 1
    assert len(database.bodies[0].splitlines()) == 4
    assert spool.status().pending_batches == 0


async def test_rate_limit_honours_retry_after(
    flaky: tuple[ScriptedDatabase, str], spool: Spool
) -> None:
    database, url = flaky
    database.script = [(429, {"Retry-After": "1"})]
    sink = BatchingSink(V1Writer(url, "db"), spool, retry_max_s=5.0)
    await sink.start()
    await sink(points(2))
    await sink.close()

    first, second = database.request_times
    assert second - first >= 0.95
    assert len(database.bodies) == 1


async def test_forbidden_is_not_retried(
    flaky: tuple[ScriptedDatabase, str], spool: Spool
) -> None:
    database, url = flaky
    database.script = [(403, {})]
    sink = BatchingSink(V1Writer(url, "db"), spool, **FAST_RETRIES)
    await sink.start()
    await sink(points(3))
    await sink.close()

    assert len(database.request_times) == 1
    status = spool.status()
    assert status.failed_points == 3
    assert status.failures[0][3] is not None
    assert "scripted 403" in status.failures[0][3]


async def test_spooled_batches_replay_in_order(spool: Spool) -> None:
    database = ScriptedDatabase([])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sink = BatchingSink(
        V1Writer(url, "db", timeout_s=1.0),
        spool,
        batch_size=2,
        retry_attempts=2,
        **FAST_RETRIES,
    )
    await sink.start()
    await sink(points(6))
    await sink.flush()
    assert spool.status().pending_points == 6

    app = web.Application()
    app.router.add_post("/write", database.write)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        await sink(points(2, start_ms=1_700_000_001_000))
        await sink.close()
    finally:
        await server.close()

    stamps = [
        int(line.rsplit(" ", 1)[1])
        for body in database.bodies
        for line in body.splitlines()
    ]
    assert stamps == sorted(stamps)
    assert len(stamps) == 8
    assert len(set(stamps)) == 8
    assert spool.status().pending_batches == 0


async def wait_for_count(
    server: InfluxServer, database: str, expected: int, timeout_s: float
) -> float:
    """Poll influxd until `database` contains `expected` points; return the seconds."""
    started = time.monotonic()
    while await asyncio.to_thread(server.count, database) < expected:
        if time.monotonic() - started > timeout_s:
            count = await asyncio.to_thread(server.count, database)
            raise TimeoutError(f"{database} contains {count} points, not {expected}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_retry_command_reaches_running_sink(
    influxd: InfluxServer, spool: Spool
) -> None:
    """Points rejected with 404 are written once the database exists and retry runs."""
    sink = BatchingSink(
        V1Writer(influxd.url, "later"),
        spool,
        batch_size=50,
        spool_check_interval_s=0.5,
        **FAST_RETRIES,
    )
    await sink.start()
    await sink(points(120))
    await sink.flush()
    rejected = spool.status()
    assert rejected.failed_batches == 3
    assert rejected.failed_points == 120
    assert rejected.failures[0][3] is not None
    assert 'database not found: "later"' in rejected.failures[0][3]

    await asyncio.to_thread(influxd.create_database, "later")
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["spool", "retry", "--spool", str(spool.path)]
    )
    assert result.exit_code == 0, result.output
    assert "requeued 3 failed batches, 120 points" in result.output
    elapsed_s = await wait_for_count(influxd, "later", 120, timeout_s=10.0)

    await sink(points(30, start_ms=1_700_000_100_000))
    await sink.close()

    assert elapsed_s < 5.0
    assert influxd.count("later") == 150
    assert sink.written_points == 150
    assert spool.status().pending_batches == 0
    assert spool.status().failed_batches == 0


async def test_requeued_batch_failing_again_stops(
    flaky: tuple[ScriptedDatabase, str], spool: Spool
) -> None:
    """A requeued batch the database still rejects is sent once, then kept failed."""
    database, url = flaky
    database.script = [(404, {}), (404, {})]
    sink = BatchingSink(
        V1Writer(url, "db"), spool, spool_check_interval_s=0.1, **FAST_RETRIES
    )
    await sink.start()
    await sink(points(3))
    await sink.flush()
    (failed,) = spool.batches(status=FAILED)

    spool.requeue_failed()
    await asyncio.sleep(1.0)
    requests_after_retry = len(database.request_times)
    await sink.close()

    assert requests_after_retry == 2
    assert len(database.request_times) == 2
    (still_failed,) = spool.batches(status=FAILED)
    assert still_failed.id == failed.id
    assert still_failed.attempts == 1


async def test_unreachable_database_is_transient() -> None:
    writer = V1Writer(f"http://127.0.0.1:{free_port()}", "db", timeout_s=1.0)
    with pytest.raises(TransientWriteError, match="failed"):
        await writer.write("probe ok=true 1")
    await writer.close()


async def test_v2_sink_writes_to_victoria_metrics(
    victoria: VictoriaServer, spool: Spool
) -> None:
    writer = V2Writer(victoria.url, "beamwatch", org="beamwatch", token="unused")
    sink = BatchingSink(writer, spool, batch_size=50, **FAST_RETRIES)
    await sink.start()
    await sink(points(120))
    await sink.close()

    series = victoria.export('{__name__="probe_ttfb_ms"}')
    stamps = sorted(t for s in series for t in s["timestamps"])
    assert len(stamps) == 120
    assert stamps[0] == 1_700_000_000_000
    assert spool.status().pending_batches == 0


async def test_v2_writer_classifies_errors(
    flaky: tuple[ScriptedDatabase, str],
) -> None:
    """influxdb-client raises its own errors; the writer maps them to the tree.

    VictoriaMetrics accepts invalid lines with 204, so a scripted server
    returns the 2.x error responses here.
    """
    database, url = flaky
    database.script = [(400, {}), (503, {}), (429, {"Retry-After": "3"})]
    writer = V2Writer(url, "bucket", org="org", token="tok")

    with pytest.raises(PermanentWriteError, match="scripted 400") as permanent:
        await writer.write("probe ok=true 1")
    with pytest.raises(TransientWriteError, match="503") as server_error:
        await writer.write("probe ok=true 2")
    with pytest.raises(TransientWriteError, match="429") as limited:
        await writer.write("probe ok=true 3")
    await writer.write("probe ok=true 4")
    await writer.close()

    assert permanent.value.status == 400
    assert server_error.value.status == 503
    assert limited.value.retry_after_s == 3.0
    assert database.authorizations[0] == "Token tok"
    assert database.queries[0]["bucket"] == "bucket"
    assert database.queries[0]["precision"] == "ms"
    assert database.bodies == ["probe ok=true 4"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("7", 7.0, id="seconds"),
        pytest.param(None, None, id="absent"),
        pytest.param("soon", None, id="invalid"),
        pytest.param("Thu, 01 Jan 1970 00:00:00 GMT", 0.0, id="past-date"),
    ],
)
def test_parse_retry_after_values(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


OUTAGE_S = 60.0


@pytest.mark.slow
async def test_influxd_outage_loses_no_point(
    tmp_path: Path, delay_origin: TestServer
) -> None:
    """Kill influxd for 60 s while probes run; every point arrives. Takes ~75 s."""
    with run_influxd(tmp_path / "influxd") as server:
        server.create_database("beamwatch")
        spool = Spool(tmp_path / "spool.db")
        sink = BatchingSink(
            V1Writer(server.url, "beamwatch", timeout_s=2.0),
            spool,
            batch_size=20,
            flush_interval_s=0.2,
            retry_attempts=3,
            retry_initial_s=0.1,
            retry_max_s=1.0,
        )
        measured: list[Measurement] = []

        async def counting_sink(measurements: list[Measurement]) -> None:
            measured.extend(measurements)
            await sink(measurements)

        base = str(delay_origin.make_url("/delay/5"))
        targets = [
            Target(name=f"t{i}", provider=f"p{i % 2}", url=base, interval_s=0.5)
            for i in range(6)
        ]
        runner = Runner(targets, counting_sink, on_round=lambda summary: None)
        await sink.start()
        probing = asyncio.create_task(runner.run())

        await asyncio.sleep(3)
        server.kill()
        before_outage = len(measured)
        await asyncio.sleep(OUTAGE_S)
        during_outage = len(measured) - before_outage
        server.start()
        await asyncio.sleep(5)

        runner.stop()
        await probing
        await sink.close()
        spool_status = spool.status()
        spool.close()

        assert during_outage > 100
        assert sink.spooled_points > 0
        assert spool_status.pending_batches == 0
        assert spool_status.failed_batches == 0
        assert all(m.outcome is Outcome.OK for m in measured)
        assert server.count("beamwatch") == len(measured)
