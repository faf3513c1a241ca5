"""The embedded store's sink keeps points while another process locks the file."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from collector.retaining_sink import RetainingSink
from collector.store.sqlite import SQLiteStore
from probe.models import Measurement, Outcome

BASE_MS = 1_767_225_600_000


def round_of_points(number: int, size: int = 4) -> list[Measurement]:
    return [
        Measurement(
            time_ms=BASE_MS + number * 60_000 + index,
            target=f"t{index}",
            provider="alpha",
            region="eu-central-1",
            network="local",
            outcome=Outcome.OK,
            ttfb_ms=10.0 + index,
            status_code=200,
            bytes=100,
        )
        for index in range(size)
    ]


async def test_locked_file_keeps_points_for_next_round(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "beamwatch.db"
    store = SQLiteStore(path, busy_timeout_ms=50)
    sink = RetainingSink(store.write)
    await store.ping()
    # Another process's open transaction, as in the sqlite3 shell.
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING):
            await sink(round_of_points(1))
            await sink.drain()
        assert sink.unwritten_points == 4
        assert "store write failed, 4 points held" in caplog.text
        assert "database is locked" in caplog.text
        assert "Traceback" not in caplog.text
    finally:
        other.rollback()
        other.close()

    await sink(round_of_points(2))
    await sink.close()
    assert sink.unwritten_points == 0
    assert await store.count() == 8
    await store.close()


async def test_close_writes_unwritten_points(tmp_path: Path) -> None:
    path = tmp_path / "beamwatch.db"
    store = SQLiteStore(path, busy_timeout_ms=50)
    sink = RetainingSink(store.write)
    await store.ping()
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    await sink(round_of_points(1))
    await sink.drain()
    other.rollback()
    other.close()

    await sink.close()
    assert sink.unwritten_points == 0
    assert await store.count() == 4
    await store.close()


async def test_overflow_drops_oldest_points(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "beamwatch.db"
    store = SQLiteStore(path, busy_timeout_ms=50)
    sink = RetainingSink(store.write, max_unwritten=6)
    await store.ping()
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    with caplog.at_level(logging.ERROR):
        await sink(round_of_points(1))
        await sink.drain()
        await sink(round_of_points(2))
        await sink.drain()
    other.rollback()
    other.close()

    assert sink.dropped_points == 2
    assert "dropping the 2 oldest unwritten points" in caplog.text
    await sink.close()
    assert await store.count() == 6
    await store.close()
    with sqlite3.connect(path) as reader:
        (oldest_ms,) = reader.execute("SELECT min(time_ms) FROM probe").fetchone()
    # Round 1's first two points went; its last two and round 2 stayed.
    assert oldest_ms == round_of_points(1)[2].time_ms
