"""The on-disk spool: order, statuses, and surviving a reopen."""

from __future__ import annotations

from pathlib import Path

from probe.spool import FAILED, Spool


def test_spool_returns_oldest_pending_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    first = spool.put("a 1", 1)
    second = spool.put("b 2", 1)

    oldest = spool.oldest_pending()
    assert oldest is not None
    assert oldest.id == first
    assert oldest.lines == "a 1"

    spool.delete(first)
    oldest = spool.oldest_pending()
    assert oldest is not None
    assert oldest.id == second


def test_spool_keeps_batches_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "spool.db"
    spool = Spool(path)
    spool.put("a 1\na 2", 2, error="connection refused")
    spool.close()

    reopened = Spool(path)
    status = reopened.status()
    assert status.pending_batches == 1
    assert status.pending_points == 2
    assert reopened.has_pending()


def test_failed_batches_skip_replay(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    batch_id = spool.put("bad line", 1)
    spool.mark_failed(batch_id, "unable to parse 'bad line'")

    assert spool.oldest_pending() is None
    assert not spool.has_pending()
    status = spool.status()
    assert status.failed_batches == 1
    assert status.failed_points == 1
    assert status.failures[0][0] == batch_id
    assert status.failures[0][3] == "unable to parse 'bad line'"


def test_spool_status_counts_by_status(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put("a 1\na 2\na 3", 3)
    spool.put("b 1", 1, status=FAILED, error="database not found")
    spool.put("c 1\nc 2", 2)

    status = spool.status()
    assert status.pending_batches == 2
    assert status.pending_points == 5
    assert status.failed_batches == 1
    assert status.failed_points == 1
    assert status.oldest_pending_ms is not None


def test_record_attempt_counts_and_keeps_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    batch_id = spool.put("a 1", 1)
    spool.record_attempt(batch_id, "503 Service Unavailable")
    spool.record_attempt(batch_id, "connection refused")

    batch = spool.oldest_pending()
    assert batch is not None
    assert batch.attempts == 2
    assert batch.last_error == "connection refused"


def test_empty_spool_status_is_zero(tmp_path: Path) -> None:
    status = Spool(tmp_path / "spool.db").status()
    assert status.pending_batches == 0
    assert status.pending_points == 0
    assert status.failed_batches == 0
    assert status.oldest_pending_ms is None
    assert status.failures == []
