"""A seeded SQLite store and a running API app around it, on a loopback port."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from collector.api import create_app
from collector.settings import ApiServerSettings
from collector.store.base import AlertEvent, FundsSnapshot, RoutingEntry, Store
from collector.store.sqlite import SQLiteStore
from probe.models import Measurement, Outcome

TOKEN = "test-token-0123456789abcdef"
LAYOUT = {"eu": {"alpha", "beta"}, "us": {"alpha", "beta", "gamma"}}

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


def measurement(
    time_ms: int,
    region: str,
    provider: str,
    ttfb_ms: float | None,
    outcome: Outcome = Outcome.OK,
    target: str = "piece-1",
) -> Measurement:
    return Measurement(
        time_ms=time_ms,
        target=target,
        provider=provider,
        region=region,
        network="mainnet",
        outcome=outcome,
        ttfb_ms=ttfb_ms,
        total_ms=None if ttfb_ms is None else ttfb_ms + 5,
        status_code=200 if outcome is Outcome.OK else 502,
    )


def seed_points(now_ms: int) -> list[Measurement]:
    """Ten minutes of points: eu/alpha 100..190 ms, us/alpha 200..290 ms, us/beta
    failing half the time. eu/beta and us/gamma have no data."""
    points = []
    for minute in range(10):
        time_ms = now_ms - (minute + 1) * 60_000
        points.append(measurement(time_ms, "eu", "alpha", 100.0 + 10 * minute))
        points.append(measurement(time_ms, "us", "alpha", 200.0 + 10 * minute))
        outcome = Outcome.OK if minute % 2 else Outcome.HTTP_ERROR
        ttfb = 50.0 if minute % 2 else None
        points.append(measurement(time_ms, "us", "beta", ttfb, outcome))
    return points


async def seed_store(store: SQLiteStore, now_ms: int) -> None:
    await store.write(seed_points(now_ms))
    for minutes_ago, state in ((30, "firing"), (20, "resolved"), (10, "firing")):
        await store.record_alert(
            AlertEvent(
                now_ms - minutes_ago * 60_000,
                "p95_ttfb",
                "beta",
                "critical",
                state,
                f"p95 TTFB of beta {state}",
            )
        )
    await store.record_routing(
        now_ms - 600_000, RoutingEntry("beta", "banned", 0, "p95 TTFB above 2000 ms")
    )
    await store.record_routing(
        now_ms - 3_600_000, RoutingEntry("alpha", "active", 0, "healthy")
    )


def funds_snapshot(time_ms: int, current_epoch: int, funds: float) -> FundsSnapshot:
    """A mainnet USDFC account locking 0.001 per epoch (2.88 a day)."""
    return FundsSnapshot(
        time_ms=time_ms,
        network="mainnet",
        payer="0x00000000000000000000000000000000000000aa",
        token="USDFC",
        funds=funds,
        lockup_current=1.0,
        lockup_rate=0.001,
        lockup_last_settled_at=current_epoch,
        current_epoch=current_epoch,
        runway_days=None,
    )


@pytest.fixture
def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
async def store(tmp_path: Path, now_ms: int) -> AsyncIterator[SQLiteStore]:
    sqlite_store = SQLiteStore(tmp_path / "beamwatch.db")
    await seed_store(sqlite_store, now_ms)
    yield sqlite_store
    await sqlite_store.close()


def api_settings(**overrides: Any) -> ApiServerSettings:
    values: dict[str, Any] = {
        "token": TOKEN,
        "stream_poll_s": 0.05,
        "stream_keepalive_s": 1,
    }
    values.update(overrides)
    return ApiServerSettings(**values)


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """Start the API around a store on 127.0.0.1; every client closes at teardown."""
    clients: list[TestClient[Any, Any]] = []

    async def make(store: Store, **overrides: Any) -> TestClient[Any, Any]:
        app = create_app(store, layout=LAYOUT, settings=api_settings(**overrides))
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(store: SQLiteStore, make_client: MakeClient) -> TestClient[Any, Any]:
    return await make_client(store)
