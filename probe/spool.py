"""The durable spool: batches of line protocol the database did not take, on disk.

One SQLite file (WAL mode) with one row per batch, in arrival order. A batch is
`pending` after a transient failure outlasted the retries, and is replayed
oldest first once the database responds again. It is `failed` after a permanent
failure (bad line protocol, bad credentials, no such database): it stays, with
the database's message, out of every replay, because replaying it unchanged
would fail the same way. An operator lists it with `beamwatch spool status`,
and after fixing the cause (creating the database, replacing the token) marks
it pending again with `beamwatch spool retry`, or deletes it with
`beamwatch spool drop`.

The running sink and those commands open the same file from two processes.
Changes that read before they write run in one `BEGIN IMMEDIATE` transaction,
and every connection waits up to `BUSY_TIMEOUT_MS` for the other's lock
instead of failing. Methods are synchronous and short; async callers run them
in a worker thread.
NOTE: on AWS Lambda `/tmp` does not outlive the instance, so a spool there
needs durable storage (S3 or SQS) that this module does not provide.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from probe.spool_files import (
    SUMMARY_COLUMNS,
    SpoolFileError,
    check_batch_table,
    connect_existing,
    connect_or_create,
    open_read_only,
)

# SpoolFileError is part of this module's interface: callers catch it from here.
__all__ = [
    "FAILED",
    "PENDING",
    "BatchSummary",
    "Spool",
    "SpoolBatchError",
    "SpoolFileError",
    "SpoolStatus",
    "SpooledBatch",
    "read_status",
]

PENDING = "pending"
FAILED = "failed"
# How long a connection waits for another connection's write lock.
BUSY_TIMEOUT_MS = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS batch (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'failed')),
    points INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lines TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_status ON batch (status, id);
"""


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """A spooled batch without its lines, as the spool commands list it."""

    id: int
    created_ms: int
    status: str
    points: int
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class SpooledBatch(BatchSummary):
    lines: str


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    """Counts of batches and points per status, and the failed batches' errors."""

    pending_batches: int
    pending_points: int
    failed_batches: int
    failed_points: int
    oldest_pending_ms: int | None
    failures: list[tuple[int, int, int, str | None]]
    """(batch id, created_ms, points, error) of each failed batch, oldest first."""


class SpoolBatchError(Exception):
    """Batch ids that name no batch, or a batch in the wrong status for a change."""


class Spool:
    """A SQLite file of batches; safe to share between threads of one process.

    `Spool(path)` creates the file and its table when missing, but not a
    missing directory, and raises SpoolFileError when `path` is a directory,
    its directory is missing, or SQLite cannot open it. With `create=False` it
    opens an existing spool only, and raises SpoolFileError when `path` is
    missing, a directory or not a spool, leaving the file as it was.
    """

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if create:
            self._connection = connect_or_create(self.path)
        else:
            self._connection = connect_existing(self.path)
        try:
            self._connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a batch acknowledged as spooled survives a power cut.
            self._connection.execute("PRAGMA synchronous=FULL")
            if create:
                self._connection.executescript(SCHEMA)
        except sqlite3.Error as exc:
            self._connection.close()
            raise SpoolFileError(f"cannot open spool {self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def put(
        self,
        lines: str,
        points: int,
        *,
        status: str = PENDING,
        error: str | None = None,
        attempts: int = 0,
    ) -> int:
        """Store one batch and return its id; ids grow in arrival order."""
        with self._lock, self._connection:
            cursor = self._connection.execute(
                "INSERT INTO batch (created_ms, status, points, attempts, last_error,"
                " lines) VALUES (?, ?, ?, ?, ?, ?)",
                (int(time.time() * 1000), status, points, attempts, error, lines),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def oldest_pending(self) -> SpooledBatch | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT id, created_ms, status, points, attempts, last_error, lines"
                " FROM batch WHERE status = 'pending' ORDER BY id LIMIT 1"
            ).fetchone()
        return SpooledBatch(*row) if row is not None else None

    def has_pending(self) -> bool:
        with self._lock:
            row = self._connection.execute(
                "SELECT 1 FROM batch WHERE status = 'pending' LIMIT 1"
            ).fetchone()
        return row is not None

    def delete(self, batch_id: int) -> None:
        """Forget a batch the database accepted."""
        with self._lock, self._connection:
            self._connection.execute("DELETE FROM batch WHERE id = ?", (batch_id,))

    def record_attempt(self, batch_id: int, error: str) -> None:
        with self._lock, self._connection:
            self._connection.execute(
                "UPDATE batch SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error, batch_id),
            )

    def mark_failed(self, batch_id: int, error: str) -> None:
        """Keep a batch out of replays because the database rejected it for good."""
        with self._lock, self._connection:
            self._connection.execute(
                "UPDATE batch SET status = 'failed', attempts = attempts + 1,"
                " last_error = ? WHERE id = ?",
                (error, batch_id),
            )

    def status(self) -> SpoolStatus:
        with self._lock:
            return query_status(self._connection)

    def batches(
        self, ids: Sequence[int] | None = None, *, status: str | None = None
    ) -> list[BatchSummary]:
        """Return the batches `ids` (all when None) with `status` (any when None).

        Raise SpoolBatchError naming the ids that match no batch.
        """
        with self._lock:
            return select_batches(self._connection, ids, status)

    def requeue_failed(self, ids: Sequence[int] | None = None) -> list[BatchSummary]:
        """Mark failed batches pending again and return them as they were.

        The attempt count restarts at 0 and `last_error` stays until the next
        attempt. With `ids`, only those batches change, and an id that names
        no batch or a batch that is not failed raises SpoolBatchError with
        nothing changed.
        """
        with self._write_transaction() as connection:
            batches = select_batches(connection, ids, None if ids else FAILED)
            not_failed = [batch for batch in batches if batch.status != FAILED]
            if not_failed:
                named = ", ".join(f"{b.id} is {b.status}" for b in not_failed)
                raise SpoolBatchError(
                    f"batch {named}, not failed; retry requeues failed batches"
                    " only, and the sink replays pending ones by itself"
                )
            connection.executemany(
                "UPDATE batch SET status = 'pending', attempts = 0 WHERE id = ?",
                [(batch.id,) for batch in batches],
            )
        return batches

    def delete_batches(
        self, ids: Sequence[int], *, status: str | None = None
    ) -> list[BatchSummary]:
        """Delete the batches `ids` that still exist (with `status`, if given).

        Return the deleted batches. An id whose batch is already gone, because
        the sink wrote it or another command deleted it, is skipped.
        """
        with self._write_transaction() as connection:
            batches = select_batches(connection, ids, status, missing_ok=True)
            connection.executemany(
                "DELETE FROM batch WHERE id = ?", [(batch.id,) for batch in batches]
            )
        return batches

    @contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the database's write lock from the first read to the commit.

        A deferred transaction that reads and then writes fails at once with
        "database is locked" when another connection wrote in between, while
        BEGIN IMMEDIATE waits for the lock up front.
        """
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.rollback()
                raise
            self._connection.commit()


def query_status(connection: sqlite3.Connection) -> SpoolStatus:
    """Count the batches and points per status through `connection`."""
    totals = {
        status: (batches, points)
        for status, batches, points in connection.execute(
            "SELECT status, count(*), sum(points) FROM batch GROUP BY status"
        )
    }
    oldest = connection.execute(
        "SELECT min(created_ms) FROM batch WHERE status = 'pending'"
    ).fetchone()[0]
    failures = connection.execute(
        "SELECT id, created_ms, points, last_error FROM batch"
        " WHERE status = 'failed' ORDER BY id"
    ).fetchall()
    pending = totals.get(PENDING, (0, 0))
    failed = totals.get(FAILED, (0, 0))
    return SpoolStatus(
        pending_batches=pending[0],
        pending_points=pending[1],
        failed_batches=failed[0],
        failed_points=failed[1],
        oldest_pending_ms=oldest,
        failures=[tuple(row) for row in failures],
    )


def select_batches(
    connection: sqlite3.Connection,
    ids: Sequence[int] | None,
    status: str | None,
    *,
    missing_ok: bool = False,
) -> list[BatchSummary]:
    """Select batches oldest first by id (all when None) and status (any if None).

    Raise SpoolBatchError for ids that match no batch, unless `missing_ok`.
    """
    query = f"SELECT {SUMMARY_COLUMNS} FROM batch"
    conditions: list[str] = []
    parameters: list[int | str] = []
    if ids:
        conditions.append(f"id IN ({', '.join('?' * len(ids))})")
        parameters.extend(ids)
    if status is not None:
        conditions.append("status = ?")
        parameters.append(status)
    if conditions:
        query += " WHERE " + " AND ".join(conditions)
    rows = connection.execute(query + " ORDER BY id", parameters).fetchall()
    batches = [BatchSummary(*row) for row in rows]

    if ids and not missing_ok:
        found = {batch.id for batch in batches}
        unknown = sorted(set(ids) - found)
        if unknown:
            raise SpoolBatchError(
                f"no batch with id {', '.join(map(str, unknown))}"
                + (f" and status {status}" if status else "")
                + " in the spool; `beamwatch spool status` lists the failed batches"
            )
    return batches


def read_status(path: Path) -> SpoolStatus:
    """Read the status of the spool at `path` without creating or changing a file.

    Raise SpoolFileError when `path` is missing, unreadable, a directory or not
    a spool. `Spool(path)` is no substitute, because it creates the file and
    its table in whatever SQLite file it is given.
    """
    with open_read_only(path) as connection:
        check_batch_table(connection, path)
        return query_status(connection)
