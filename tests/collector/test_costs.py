"""Runway and daily spend from Filecoin Pay account snapshots."""

from __future__ import annotations

import dataclasses

import pytest

from collector.costs import (
    EPOCHS_PER_DAY,
    costs_view,
    daily_spend,
    funded_until_epoch,
    runway_days,
)
from tests.collector.conftest import funds_snapshot

DAY_MS = 86_400_000
# 2026-12-01T00:00:00Z
DEC_1_MS = 1_796_083_200_000


def test_funded_until_follows_formula() -> None:
    snapshot = dataclasses.replace(
        funds_snapshot(DEC_1_MS, 10_000, 12.5), lockup_last_settled_at=9_000
    )

    # 9000 + (12.5 - 1.0) / 0.001 = 20,500
    assert funded_until_epoch(snapshot) == pytest.approx(20_500)
    assert runway_days(snapshot, 10_000) == pytest.approx(10_500 / EPOCHS_PER_DAY)


def test_zero_rate_has_no_runway_limit() -> None:
    snapshot = dataclasses.replace(funds_snapshot(DEC_1_MS, 10, 5.0), lockup_rate=0)

    assert funded_until_epoch(snapshot) is None
    assert runway_days(snapshot, 10) is None


def test_underfunded_account_has_negative_runway() -> None:
    snapshot = funds_snapshot(DEC_1_MS, 10_000, 0.5)

    assert runway_days(snapshot, 10_000) == pytest.approx(-500 / EPOCHS_PER_DAY)


def test_daily_spend_books_on_later_day() -> None:
    history = [
        funds_snapshot(DEC_1_MS + DAY_MS - 3_600_000, 0, 10.0),
        funds_snapshot(DEC_1_MS + DAY_MS + 3_600_000, 240, 9.76),
        funds_snapshot(DEC_1_MS + 2 * DAY_MS - 1, 2_880, 7.12),
    ]

    assert daily_spend(history) == [
        {"day": "2026-12-02", "spend": pytest.approx(2.88)},
    ]


def test_daily_spend_needs_two_snapshots() -> None:
    assert daily_spend([funds_snapshot(DEC_1_MS, 0, 1.0)]) == []


def test_runway_counts_down_after_snapshot() -> None:
    snapshot = funds_snapshot(DEC_1_MS, 10_000, 12.5)

    view = costs_view([snapshot], [snapshot], DEC_1_MS + DAY_MS, 7)

    [account] = view["accounts"]
    assert account["runway_days"] == pytest.approx(11_500 / EPOCHS_PER_DAY - 1)
    assert account["funded_until_ms"] == DEC_1_MS + 11_500 * 30_000
    assert view["runway_warning_days"] == 7
