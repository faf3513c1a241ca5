"""The contract: SQLite and a real InfluxDB return the same result for every query."""

from __future__ import annotations

import pytest

from collector.stats import percentile
from collector.store.base import QueryFilter, Stat, StoreUnavailable
from collector.store.influx import InfluxStore
from probe.models import Outcome
from probe.writers import V1Writer
from tests.store.conftest import BASE_MS, MINUTE_MS, LoadedStores
from tests.support.servers import free_port

HOUR_MS = 60 * MINUTE_MS
WINDOWS = [
    pytest.param(BASE_MS, BASE_MS + HOUR_MS, id="whole-hour"),
    pytest.param(BASE_MS + 7 * MINUTE_MS + 1234, BASE_MS + 23 * MINUTE_MS, id="slice"),
    pytest.param(BASE_MS - HOUR_MS, BASE_MS, id="empty"),
]
FILTERS = [
    pytest.param(QueryFilter(), id="all"),
    pytest.param(QueryFilter(region="eu-central-1"), id="region"),
    pytest.param(QueryFilter(provider="beta", target="large"), id="provider-target"),
    pytest.param(
        QueryFilter(region="us-east-1", provider="gamma", target="small"), id="series"
    ),
]
HOSTILE_NAMES = [
    pytest.param('x" OR 1=1', id="double-quote-or"),
    pytest.param("a'; DROP MEASUREMENT probe", id="single-quote-drop"),
    pytest.param("alpha' OR provider =~ /.*/ OR '", id="regex-escape"),
    pytest.param("$since", id="bind-name"),
    pytest.param("back\\slash\nnewline", id="backslash-newline"),
]


@pytest.mark.parametrize("stat", list(Stat))
@pytest.mark.parametrize(("since_ms", "until_ms"), WINDOWS)
async def test_heatmap_matches(
    stores: LoadedStores, stat: Stat, since_ms: int, until_ms: int
) -> None:
    expected = await stores.sqlite.heatmap(since_ms, until_ms, stat)
    actual = await stores.influx.heatmap(since_ms, until_ms, stat)
    assert actual == expected
    if since_ms == BASE_MS:
        assert len(expected) == 9


async def test_heatmap_percentile_is_nearest_rank(stores: LoadedStores) -> None:
    ttfbs = sorted(
        m.ttfb_ms
        for m in stores.measurements
        if m.region == "us-east-1"
        and m.provider == "alpha"
        and m.outcome is Outcome.OK
        and m.ttfb_ms is not None
    )
    cells = await stores.influx.heatmap(BASE_MS, BASE_MS + HOUR_MS, Stat.P95)
    cell = next(c for c in cells if (c.region, c.provider) == ("us-east-1", "alpha"))
    assert cell.value == percentile(ttfbs, 95)


@pytest.mark.parametrize("where", FILTERS)
@pytest.mark.parametrize("bucket_ms", [MINUTE_MS, 5 * MINUTE_MS, 7 * MINUTE_MS])
async def test_pulse_matches(
    stores: LoadedStores, where: QueryFilter, bucket_ms: int
) -> None:
    since_ms, until_ms = BASE_MS + 90_000, BASE_MS + 50 * MINUTE_MS
    expected = await stores.sqlite.pulse(since_ms, until_ms, bucket_ms, where)
    actual = await stores.influx.pulse(since_ms, until_ms, bucket_ms, where)
    assert actual == expected
    assert expected


@pytest.mark.parametrize("where", FILTERS)
@pytest.mark.parametrize(("since_ms", "until_ms"), WINDOWS)
async def test_summary_matches(
    stores: LoadedStores, where: QueryFilter, since_ms: int, until_ms: int
) -> None:
    expected = await stores.sqlite.summary(since_ms, until_ms, where)
    actual = await stores.influx.summary(since_ms, until_ms, where)
    assert actual == expected


async def test_summary_counts_every_point(stores: LoadedStores) -> None:
    summary = await stores.influx.summary(BASE_MS, BASE_MS + HOUR_MS, QueryFilter())
    assert summary.count == len(stores.measurements)
    ok = sum(1 for m in stores.measurements if m.ok)
    assert summary.ok_count == ok


async def test_latest_by_region_matches(stores: LoadedStores) -> None:
    expected = await stores.sqlite.latest_by_region()
    assert await stores.influx.latest_by_region() == expected
    assert len(expected) == 3


@pytest.mark.parametrize("limit", [1, 3, 100])
async def test_alerts_match(stores: LoadedStores, limit: int) -> None:
    since_ms = BASE_MS + MINUTE_MS
    expected = await stores.sqlite.alerts(since_ms, limit)
    assert await stores.influx.alerts(since_ms, limit) == expected
    assert len(expected) == min(limit, 3)


async def test_routing_matches(stores: LoadedStores) -> None:
    expected = await stores.sqlite.routing()
    assert await stores.influx.routing() == expected
    assert [(e.provider, e.state) for e in expected] == [
        ("alpha", "active"),
        ("beta", "banned"),
    ]


async def test_latest_funds_match(stores: LoadedStores) -> None:
    expected = await stores.sqlite.latest_funds()
    assert await stores.influx.latest_funds() == expected
    assert len(expected) == 2


async def test_funds_history_matches(stores: LoadedStores) -> None:
    since_ms, until_ms = BASE_MS + 1, BASE_MS + HOUR_MS
    expected = await stores.sqlite.funds_history(since_ms, until_ms)
    assert await stores.influx.funds_history(since_ms, until_ms) == expected
    assert len(expected) == 4
    assert any(snapshot.runway_days is None for snapshot in expected)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_names_match_nothing(stores: LoadedStores, name: str) -> None:
    window = (BASE_MS, BASE_MS + HOUR_MS)
    for where in (
        QueryFilter(provider=name),
        QueryFilter(region=name),
        QueryFilter(target=name),
    ):
        summary = await stores.influx.summary(*window, where)
        assert summary.count == 0
        assert await stores.influx.pulse(*window, MINUTE_MS, where) == []
        assert summary == await stores.sqlite.summary(*window, where)

    everything = await stores.influx.summary(*window, QueryFilter())
    assert everything.count == len(stores.measurements)


async def test_ping_succeeds_on_both(stores: LoadedStores) -> None:
    await stores.sqlite.ping()
    await stores.influx.ping()


async def test_rewritten_point_overwrites(stores: LoadedStores) -> None:
    window = (BASE_MS, BASE_MS + HOUR_MS)
    again = stores.measurements[:50]
    await stores.sqlite.write(again)
    await stores.influx.write(again)
    expected = await stores.sqlite.summary(*window, QueryFilter())
    assert await stores.influx.summary(*window, QueryFilter()) == expected
    assert expected.count == len(stores.measurements)


async def test_dead_influxdb_raises_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = InfluxStore(url, "beamwatch", V1Writer(url, "beamwatch"), timeout_s=2)
    with pytest.raises(StoreUnavailable, match=url):
        await store.summary(BASE_MS, BASE_MS + HOUR_MS, QueryFilter())
    with pytest.raises(StoreUnavailable, match=url):
        await store.ping()
    await store.close()


async def test_missing_database_names_it(stores: LoadedStores) -> None:
    url = stores.influx._url
    store = InfluxStore(url, "absent", V1Writer(url, "absent"))
    with pytest.raises(
        StoreUnavailable, match="database not found: absent; create it with"
    ):
        await store.summary(BASE_MS, BASE_MS + HOUR_MS, QueryFilter())
    await store.close()


async def test_invalid_bucket_is_rejected(stores: LoadedStores) -> None:
    with pytest.raises(ValueError, match="bucket_ms must be positive, not 0"):
        await stores.influx.pulse(BASE_MS, BASE_MS + HOUR_MS, 0, QueryFilter())
