"""The durable spool: batches of line protocol the database did not take, on disk.

One SQLite file (WAL mode) with one row per batch, in arrival order. A batch is
`pending` after a transient failure outlasted the retries, and is replayed
oldest first once the database responds again. It is `failed` after a permanent
failure (bad line protocol, bad credentials, no such database): it stays, with
the database's message, until an operator looks at `beamwatch spool status`,
because replaying it unchanged would fail the same way.

Methods are synchronous and short; async callers run them in a worker thread.
NOTE: on AWS Lambda `/tmp` does not outlive the instance, so a spool there
needs durable storage (S3 or SQS) that this module does not provide.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

PENDING = "pending"
FAILED = "failed"
# The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"

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
class SpooledBatch:
    id: int
    created_ms: int
    status: str
    points: int
    attempts: int
    last_error: str | None
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


class SpoolFileError(Exception):
    """A spool path that cannot be read or is not a beamwatch spool."""


class Spool:
    """A SQLite file of batches; safe to share between threads of one process."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")
        # FULL: a batch acknowledged as spooled survives a power cut.
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.execute("PRAGMA busy_timeout=5000")
        self._connection.executescript(SCHEMA)

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


def read_status(path: Path) -> SpoolStatus:
    """Read the status of the spool at `path` without creating or changing a file.

    Raise SpoolFileError when `path` is missing, unreadable, a directory or not
    a spool. `Spool(path)` is no substitute, because it creates the file and
    its table in whatever SQLite file it is given.
    """
    with open_read_only(path) as connection:
        try:
            table = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'batch'"
            ).fetchone()
            if table is None:
                raise SpoolFileError(
                    f"{path} is not a beamwatch spool file (it has no batch table)"
                )
            return query_status(connection)
        except sqlite3.Error as exc:
            raise SpoolFileError(
                f"{path} is not a beamwatch spool file ({exc})"
            ) from None


@contextmanager
def open_read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """Open a SQLite file read-only after checking that it is one."""
    if path.is_dir():
        raise SpoolFileError(
            f"{path} is a directory, not a beamwatch spool file; pass the spool file"
        )
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        raise SpoolFileError(f"{path}: no such spool file") from None
    except OSError as exc:
        raise SpoolFileError(f"cannot read {path}: {exc.strerror}") from None
    if header != SQLITE_HEADER:
        raise SpoolFileError(
            f"{path} is not a beamwatch spool file (file is not a database)"
        )

    # mode=ro alone still creates the -wal and -shm files of a WAL database
    # and leaves them behind. Without a -wal file, every committed batch is in
    # the main file, so immutable=1 reads it without creating anything. With
    # one, a writer is open (or died), and mode=ro reads through its files.
    # NOTE: a writer that opens during this read and checkpoints before it ends
    # changes the main file under an immutable reader.
    uri = path.resolve().as_uri() + "?mode=ro"
    if not path.with_name(path.name + "-wal").exists():
        uri += "&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise SpoolFileError(f"cannot open {path} read-only: {exc}") from None
    with closing(connection):
        yield connection
