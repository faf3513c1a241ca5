"""Both stores loaded with the same data, for the contract suite."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.store.base import AlertEvent, FundsSnapshot, RoutingEntry
from collector.store.influx import InfluxStore
from collector.store.sqlite import SQLiteStore
from probe.models import Measurement, Outcome
from probe.writers import V1Writer
from tests.support.influx import InfluxServer, influxd

__all__ = ["influxd"]

# 2026-01-01T00:00:00Z; InfluxDB keeps any time under the default policy.
BASE_MS = 1_767_225_600_000
MINUTE_MS = 60_000
REGIONS = ("us-east-1", "eu-central-1", "ap-northeast-1")
PROVIDERS = ("alpha", "beta", "gamma")
TARGETS = ("small", "large")
FAILURES = (Outcome.TIMEOUT, Outcome.HTTP_ERROR, Outcome.CONNECT_ERROR)


def sample_measurements(seed: int = 7) -> list[Measurement]:
    """Return one hour of points on 18 series with failures and ties."""
    rng = random.Random(seed)
    points = []
    for region in REGIONS:
        for provider in PROVIDERS:
            for target in TARGETS:
                offset_ms = rng.randrange(0, 5_000)
                for minute in range(60):
                    time_ms = BASE_MS + minute * MINUTE_MS + offset_ms
                    if rng.random() < 0.1:
                        outcome = rng.choice(FAILURES)
                        ttfb = None if outcome is not Outcome.HTTP_ERROR else 5.0
                    else:
                        outcome = Outcome.OK
                        # Rounded to 0.5 ms, so equal values (ties) occur.
                        ttfb = round(rng.lognormvariate(3.5, 0.6) * 2) / 2
                    points.append(
                        Measurement(
                            time_ms=time_ms,
                            target=target,
                            provider=provider,
                            region=region,
                            network="mainnet",
                            outcome=outcome,
                            ttfb_ms=ttfb,
                            total_ms=None if ttfb is None else ttfb + 1.25,
                            status_code=None if ttfb is None else 200,
                            bytes=1024,
                        )
                    )
    return points


ALERTS = [
    AlertEvent(BASE_MS + i * MINUTE_MS, f"rule{i % 2}", s, sev, state, f"msg {i}")
    for i, (s, sev, state) in enumerate(
        [
            ("alpha", "warning", "firing"),
            ("beta", "critical", "firing"),
            ("alpha", "warning", "resolved"),
            ("gamma", "info", "firing"),
        ]
    )
]
ROUTING = [
    (BASE_MS + 1_000, RoutingEntry("alpha", "banned", BASE_MS + 1_000, "p95 high")),
    (BASE_MS + 9_000, RoutingEntry("alpha", "active", BASE_MS + 9_000, "recovered")),
    (BASE_MS + 5_000, RoutingEntry("beta", "banned", BASE_MS + 5_000, "errors")),
]
FUNDS = [
    FundsSnapshot(
        BASE_MS + i * MINUTE_MS,
        network,
        payer,
        "USDFC",
        100.0 - i,
        10.5,
        0.001 * (i + 1),
        1_000 + i,
        2_000 + i,
        None if i == 2 else 12.5 - i,
    )
    for i in range(3)
    for network, payer in (("mainnet", "0xabc"), ("calibration", "0xdef"))
]


@dataclass
class LoadedStores:
    sqlite: SQLiteStore
    influx: InfluxStore
    measurements: list[Measurement]


async def load(store: SQLiteStore | InfluxStore, data: list[Measurement]) -> None:
    await store.write(data)
    for event in ALERTS:
        await store.record_alert(event)
    for time_ms, entry in ROUTING:
        await store.record_routing(time_ms, entry)
    for snapshot in FUNDS:
        await store.record_funds(snapshot)


def influx_store(server: InfluxServer) -> InfluxStore:
    return InfluxStore(server.url, "beamwatch", V1Writer(server.url, "beamwatch"))


@pytest.fixture
async def stores(tmp_path: Path, influxd: InfluxServer) -> AsyncIterator[LoadedStores]:
    data = sample_measurements()
    sqlite = SQLiteStore(tmp_path / "contract.db")
    influx = influx_store(influxd)
    await load(sqlite, data)
    await load(influx, data)
    yield LoadedStores(sqlite, influx, data)
    await sqlite.close()
    await influx.close()
