"""The on-disk spool: order, statuses, reopening, requeue and delete, and locks."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from probe.spool import (
    FAILED,
    PENDING,
    Spool,
    SpoolBatchError,
    SpoolFileError,
    read_status,
)


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
    path.parent.mkdir()
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


def snapshot(directory: Path) -> dict[str, str]:
    """Map each file name in `directory` to the SHA-256 of its contents."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
    }


def test_read_status_changes_no_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put("a 1\na 2", 2)
    spool.put("b 1", 1, status=FAILED, error="database not found")
    spool.close()
    before = snapshot(tmp_path)

    status = read_status(tmp_path / "spool.db")

    assert snapshot(tmp_path) == before
    assert list(before) == ["spool.db"]
    assert status.pending_points == 2
    assert status.failed_batches == 1
    assert status.failures[0][3] == "database not found"


def test_read_status_sees_open_writer(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put("a 1", 1)
    try:
        assert (tmp_path / "spool.db-wal").exists()
        spool.put("b 1\nb 2", 2)

        status = read_status(tmp_path / "spool.db")
    finally:
        spool.close()

    assert status.pending_batches == 2
    assert status.pending_points == 3


def test_read_status_leaves_other_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE reading (value REAL)")
    connection.close()
    before = snapshot(tmp_path)

    with pytest.raises(SpoolFileError) as caught:
        read_status(path)

    assert str(caught.value) == (
        f"{path} is not a beamwatch spool file (it has no batch table)"
    )
    assert snapshot(tmp_path) == before
    with sqlite3.connect(path) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
    connection.close()
    assert tables == [("reading",)]


def test_read_status_rejects_other_batch_table(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE batch (name TEXT)")
    connection.close()

    with pytest.raises(SpoolFileError) as caught:
        read_status(path)

    assert f"{path} is not a beamwatch spool file (no such column" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b'[store]\nkind = "influxdb"\n', "(file is not a database)", id="toml"
        ),
        pytest.param(b"", "(file is not a database)", id="empty"),
        pytest.param(
            b"SQLite format 3\x00" + b"\xff" * 200,
            "(file is not a database)",
            id="bad-header",
        ),
    ],
)
def test_read_status_rejects_non_spool(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "x.toml"
    path.write_bytes(content)

    with pytest.raises(SpoolFileError) as caught:
        read_status(path)

    assert str(caught.value) == f"{path} is not a beamwatch spool file {message}"
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["x.toml"]


def test_read_status_rejects_directory(tmp_path: Path) -> None:
    with pytest.raises(SpoolFileError) as caught:
        read_status(tmp_path)

    assert str(caught.value) == (
        f"{tmp_path} is a directory, not a beamwatch spool file; pass the spool file"
    )
    assert list(tmp_path.iterdir()) == []


def test_read_status_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpoolFileError) as caught:
        read_status(tmp_path / "none.db")

    assert str(caught.value) == f"{tmp_path / 'none.db'}: no such spool file"
    assert list(tmp_path.iterdir()) == []


def test_requeue_failed_resets_attempts(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    first = spool.put("a 1", 1)
    spool.mark_failed(first, "database not found")
    spool.mark_failed(first, "database not found again")
    second = spool.put("b 1\nb 2", 2)

    requeued = spool.requeue_failed()

    assert [batch.id for batch in requeued] == [first]
    assert requeued[0].attempts == 2
    oldest = spool.oldest_pending()
    assert oldest is not None
    assert oldest.id == first
    assert oldest.attempts == 0
    assert oldest.last_error == "database not found again"
    assert [b.id for b in spool.batches(status=PENDING)] == [first, second]


def test_requeue_rejects_pending_and_unknown(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    failed = spool.put("a 1", 1, status=FAILED, error="403")
    pending = spool.put("b 1", 1)

    with pytest.raises(SpoolBatchError, match=f"batch {pending} is pending, not"):
        spool.requeue_failed([failed, pending])
    with pytest.raises(SpoolBatchError, match="no batch with id 7, 8 in the spool"):
        spool.requeue_failed([8, failed, 7])

    assert spool.status().failed_batches == 1
    assert spool.batches([failed])[0].status == FAILED


def test_delete_batches_skips_gone_ids(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    pending = spool.put("a 1", 1)
    failed = spool.put("b 1\nb 2", 2, status=FAILED, error="400")
    spool.delete(pending)

    deleted = spool.delete_batches([pending, failed])

    assert [batch.id for batch in deleted] == [failed]
    assert deleted[0].points == 2
    assert spool.batches() == []


def test_delete_batches_with_status_filter(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    pending = spool.put("a 1", 1)
    failed = spool.put("b 1", 1, status=FAILED, error="400")

    deleted = spool.delete_batches([pending, failed], status=FAILED)

    assert [batch.id for batch in deleted] == [failed]
    assert [batch.id for batch in spool.batches()] == [pending]


def test_spool_rejects_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "x" / "spool.db"

    with pytest.raises(SpoolFileError) as caught:
        Spool(path)

    message = str(caught.value)
    assert f"directory {path.parent} does not exist" in message
    assert f"mkdir -p {path.parent}" in message
    assert not (tmp_path / "absent").exists()


def test_spool_rejects_directory_path(tmp_path: Path) -> None:
    with pytest.raises(SpoolFileError, match="is a directory; give a file such as"):
        Spool(tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_open_existing_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(SpoolFileError, match="no such spool file"):
        Spool(tmp_path / "none.db", create=False)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE reading (value REAL)")
    connection.close()
    before = snapshot(tmp_path)

    with pytest.raises(SpoolFileError, match="it has no batch table"):
        Spool(other, create=False)

    assert snapshot(tmp_path) == before


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Hold the database's write lock from another connection for `seconds`."""
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait()
    return thread


def test_changes_wait_for_other_writer(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    sink_spool = Spool(path)
    failed = sink_spool.put("a 1", 1, status=FAILED, error="404")
    command_spool = Spool(path, create=False)

    holder = hold_write_lock(path, 0.5)
    started = time.monotonic()
    requeued = command_spool.requeue_failed()
    holder.join()
    holder = hold_write_lock(path, 0.5)
    put_id = sink_spool.put("b 1", 1)
    waited_s = time.monotonic() - started
    holder.join()

    assert [batch.id for batch in requeued] == [failed]
    assert put_id == failed + 1
    assert waited_s >= 0.9
    command_spool.close()
    sink_spool.close()


def test_sink_and_command_share_file(tmp_path: Path) -> None:
    """A sink and a spool command, each on its own connection, never hit a lock.

    Two connections in threads lock the file as two processes would, because
    SQLite locks per connection.
    """
    path = tmp_path / "spool.db"
    sink_spool = Spool(path)
    command_spool = Spool(path, create=False)
    errors: list[BaseException] = []

    def run_sink() -> None:
        try:
            for i in range(200):
                batch_id = sink_spool.put(f"a {i}", 1)
                if i % 2:
                    sink_spool.mark_failed(batch_id, "404")
                oldest = sink_spool.oldest_pending()
                if oldest is not None and i % 3 == 0:
                    sink_spool.delete(oldest.id)
        except BaseException as exc:
            errors.append(exc)

    def run_commands() -> None:
        try:
            for i in range(100):
                command_spool.requeue_failed()
                failed = command_spool.batches(status=FAILED)
                if i % 5 == 0 and failed:
                    command_spool.delete_batches([b.id for b in failed], status=FAILED)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run_sink), threading.Thread(target=run_commands)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    status = sink_spool.status()
    command_spool.close()
    sink_spool.close()

    assert errors == []
    assert status.pending_batches + status.failed_batches > 0
