"""Heatmaps from held recent points stay equal to InfluxDB's own results.

Each test changes what a real influxd holds after the first heatmap (new
points, late points, deletions) and compares the store that holds points in
memory with one that asks InfluxDB for every percentile, and with SQLite.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from collector.store.base import QueryFilter, Stat
from collector.store.influx import InfluxStore
from probe.models import Measurement, Outcome
from probe.writers import V1Writer
from tests.store.conftest import BASE_MS, MINUTE_MS, LoadedStores
from tests.support.influx import InfluxServer

HOUR_MS = 60 * MINUTE_MS


def direct_store(server: InfluxServer) -> InfluxStore:
    """Return a store that computes every heatmap with InfluxQL PERCENTILE()."""
    writer = V1Writer(server.url, "beamwatch")
    return InfluxStore(server.url, "beamwatch", writer, recent_points_hours=0)


def point(time_ms: int, provider: str, ttfb_ms: float | None) -> Measurement:
    return Measurement(
        time_ms=time_ms,
        target="small",
        provider=provider,
        region="us-east-1",
        network="mainnet",
        outcome=Outcome.OK if ttfb_ms is not None else Outcome.TIMEOUT,
        ttfb_ms=ttfb_ms,
        status_code=200 if ttfb_ms is not None else None,
        bytes=1024,
    )


FILTERS = (QueryFilter(), QueryFilter(region="eu-central-1", provider="beta"))


async def assert_same_answers(
    stores: LoadedStores, server: InfluxServer, since_ms: int, until_ms: int
) -> None:
    """Compare heatmap, Pulse and summary from held points with InfluxDB's own."""
    direct = direct_store(server)
    try:
        for stat in Stat:
            expected = await direct.heatmap(since_ms, until_ms, stat)
            assert await stores.influx.heatmap(since_ms, until_ms, stat) == expected
            assert await stores.sqlite.heatmap(since_ms, until_ms, stat) == expected
        for where in FILTERS:
            window = (since_ms, until_ms)
            pulse = await direct.pulse(*window, 5 * MINUTE_MS, where)
            assert await stores.influx.pulse(*window, 5 * MINUTE_MS, where) == pulse
            summary = await direct.summary(*window, where)
            assert await stores.influx.summary(*window, where) == summary
    finally:
        await direct.close()


async def test_moving_window_reads_only_new_points(
    stores: LoadedStores, influxd: InfluxServer
) -> None:
    await assert_same_answers(stores, influxd, BASE_MS, BASE_MS + HOUR_MS)
    fresh = [point(BASE_MS + HOUR_MS + i * 1000, "alpha", 900.0 + i) for i in range(5)]
    # Behind the newest held point but within the part read again each time.
    fresh.append(point(BASE_MS + HOUR_MS - 30_000, "gamma", 0.5))
    await stores.sqlite.write(fresh)
    await stores.influx.write(fresh)

    since_ms = BASE_MS + 10 * MINUTE_MS
    await assert_same_answers(stores, influxd, since_ms, since_ms + HOUR_MS)
    recent = stores.influx.recent_points
    assert recent.full_loads == 1
    assert recent.reloaded_cells == 0


async def test_late_point_is_counted_and_read(
    stores: LoadedStores, influxd: InfluxServer
) -> None:
    await assert_same_answers(stores, influxd, BASE_MS, BASE_MS + HOUR_MS)
    # Half an hour old, far behind the two minutes read again on every
    # query, as a spool replay after an outage writes it.
    late = [point(BASE_MS + 30 * MINUTE_MS + 17, "beta", 4321.0)]
    await stores.sqlite.write(late)
    await stores.influx.write(late)

    await assert_same_answers(stores, influxd, BASE_MS, BASE_MS + HOUR_MS)
    assert stores.influx.recent_points.reloaded_cells == 1


async def test_deleted_points_leave_the_heatmap(
    stores: LoadedStores, influxd: InfluxServer
) -> None:
    window = (BASE_MS, BASE_MS + HOUR_MS)
    before = await stores.influx.heatmap(*window, Stat.P95)
    assert any(cell.provider == "beta" for cell in before)
    influxd.query("DELETE FROM probe WHERE provider = 'beta'", "beamwatch")

    after = await stores.influx.heatmap(*window, Stat.P95)
    assert [c for c in before if c.provider != "beta"] == after
    direct = direct_store(influxd)
    assert await direct.heatmap(*window, Stat.P95) == after
    await direct.close()


async def test_earlier_window_loads_again(
    stores: LoadedStores, influxd: InfluxServer
) -> None:
    await assert_same_answers(
        stores, influxd, BASE_MS + 30 * MINUTE_MS, BASE_MS + HOUR_MS
    )
    await assert_same_answers(stores, influxd, BASE_MS, BASE_MS + 20 * MINUTE_MS)
    assert stores.influx.recent_points.full_loads == 2


async def test_window_longer_than_span_asks_influxdb(influxd: InfluxServer) -> None:
    writer = V1Writer(influxd.url, "beamwatch")
    store = InfluxStore(influxd.url, "beamwatch", writer, recent_points_hours=1)
    await store.write([point(BASE_MS, "alpha", 12.5)])
    try:
        cells = await store.heatmap(BASE_MS - HOUR_MS, BASE_MS + HOUR_MS, Stat.P50)
        assert [(c.provider, c.value, c.count) for c in cells] == [("alpha", 12.5, 1)]
        assert store.recent_points.full_loads == 0
    finally:
        await store.close()


async def test_too_many_points_turn_memory_off(
    stores: LoadedStores, influxd: InfluxServer, caplog: pytest.LogCaptureFixture
) -> None:
    writer = V1Writer(influxd.url, "beamwatch")
    small = InfluxStore(influxd.url, "beamwatch", writer, recent_points_max=100)
    try:
        with caplog.at_level(logging.WARNING):
            cells = await small.heatmap(BASE_MS, BASE_MS + HOUR_MS, Stat.P99)
        assert cells == await stores.sqlite.heatmap(
            BASE_MS, BASE_MS + HOUR_MS, Stat.P99
        )
        assert "more than recent_points_max = 100" in caplog.text
        assert not small.recent_points.active
    finally:
        await small.close()


async def test_cut_results_fall_back_to_percentile(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # influxd cuts every result to 10 rows, as a server with max-row-limit set does.
    server = InfluxServer(tmp_path / "limited", max_row_limit=10)
    server.start()
    server.create_database("beamwatch")
    store = InfluxStore(server.url, "beamwatch", V1Writer(server.url, "beamwatch"))
    try:
        await store.write(
            [point(BASE_MS + i * 1000, "alpha", float(i)) for i in range(50)]
        )
        with caplog.at_level(logging.WARNING):
            cells = await store.heatmap(BASE_MS, BASE_MS + HOUR_MS, Stat.P50)
        assert [(c.value, c.count) for c in cells] == [(24.0, 50)]
        assert "set max-row-limit = 0" in caplog.text
        assert not store.recent_points.active
    finally:
        await store.close()
        server.stop()


async def test_target_filter_asks_influxdb(stores: LoadedStores) -> None:
    window = (BASE_MS, BASE_MS + HOUR_MS)
    where = QueryFilter(target="small")

    summary = await stores.influx.summary(*window, where)

    assert summary == await stores.sqlite.summary(*window, where)
    assert stores.influx.recent_points.full_loads == 0
