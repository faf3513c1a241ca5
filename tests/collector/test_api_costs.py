"""/api/costs: bearer token, runway from funds snapshots, 60 s cache."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.store.sqlite import SQLiteStore
from tests.collector.conftest import TOKEN, MakeClient, funds_snapshot

Client = TestClient[Any, Any]
EPOCH_0 = 5_000_000


async def seed_funds(store: SQLiteStore, now_ms: int) -> None:
    """Two days of hourly snapshots, ending 10.5 free units from running out."""
    for hour in range(48, -1, -1):
        time_ms = now_ms - hour * 3_600_000
        epoch = EPOCH_0 - hour * 120
        await store.record_funds(funds_snapshot(time_ms, epoch, 11.5 + hour * 0.12))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_costs_runway_and_daily_spend(
    store: SQLiteStore, client: Client, now_ms: int
) -> None:
    await seed_funds(store, now_ms)

    response = await client.get("/api/costs", headers=bearer(TOKEN))
    body = await response.json()

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["runway_warning_days"] == 7
    [account] = body["accounts"]
    assert account["network"] == "mainnet"
    assert account["token"] == "USDFC"
    assert account["funds"] == 11.5
    assert account["lockup_rate_per_day"] == pytest.approx(2.88)
    # (11.5 - 1.0) / 0.001 = 10,500 epochs from the last settlement.
    assert account["runway_days"] == pytest.approx(10_500 / 2880, abs=1e-3)
    assert account["funded_until_ms"] == account["updated_ms"] + 10_500 * 30_000
    spend = account["daily_spend"]
    assert spend
    assert sum(day["spend"] for day in spend) == pytest.approx(48 * 120 * 0.001)


async def test_costs_without_token_is_401(client: Client) -> None:
    response = await client.get("/api/costs")
    body = await response.json()

    assert response.status == 401
    assert "missing bearer token" in body["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(f"Bearer {TOKEN}x", id="longer"),
        pytest.param(f"Bearer {TOKEN[:-1]}", id="shorter"),
        pytest.param("Bearer wrong-token-wrong-token-00", id="different"),
        pytest.param(f"Basic {TOKEN}", id="basic-scheme"),
        pytest.param("Bearer ", id="empty"),
    ],
)
async def test_costs_wrong_token_is_401(client: Client, header: str) -> None:
    response = await client.get("/api/costs", headers={"Authorization": header})
    body = await response.json()

    assert response.status == 401
    assert "token" in body["error"]


async def test_costs_token_never_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await client.get("/api/costs", headers=bearer("wrong-token-wrong-token-00"))
    await client.get("/api/costs", headers=bearer(TOKEN))

    assert TOKEN not in caplog.text
    assert "wrong-token-wrong-token-00" not in caplog.text


async def test_costs_disabled_without_configured_token(
    store: SQLiteStore, make_client: MakeClient
) -> None:
    client = await make_client(store, token=None)

    response = await client.get("/api/costs", headers=bearer(TOKEN))
    body = await response.json()

    assert response.status == 503
    assert "BEAMWATCH_API_TOKEN" in body["error"]


async def test_costs_cached_for_sixty_seconds(
    store: SQLiteStore, client: Client, now_ms: int
) -> None:
    await store.record_funds(funds_snapshot(now_ms - 60_000, EPOCH_0, 20.0))
    first = await (await client.get("/api/costs", headers=bearer(TOKEN))).json()

    await store.record_funds(funds_snapshot(now_ms, EPOCH_0 + 2, 5.0))
    second = await (await client.get("/api/costs", headers=bearer(TOKEN))).json()

    assert first["accounts"][0]["funds"] == 20.0
    assert second == first


async def test_costs_no_accounts_is_empty_list(client: Client) -> None:
    response = await client.get("/api/costs", headers=bearer(TOKEN))
    body = await response.json()

    assert response.status == 200
    assert body["accounts"] == []
