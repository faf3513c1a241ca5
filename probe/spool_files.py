"""Opening spool files: create one, open an existing one, or read one read-only.

Each function raises SpoolFileError naming the path and the fix instead of
letting SQLite create a directory or change a file that is not a spool.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

# The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"
SUMMARY_COLUMNS = "id, created_ms, status, points, attempts, last_error"


class SpoolFileError(Exception):
    """A spool path that cannot be read or is not a beamwatch spool."""


def check_batch_table(connection: sqlite3.Connection, path: Path) -> None:
    """Raise SpoolFileError unless the database has the spool's batch table."""
    try:
        table = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'batch'"
        ).fetchone()
        if table is None:
            raise SpoolFileError(
                f"{path} is not a beamwatch spool file (it has no batch table)"
            )
        connection.execute(f"SELECT {SUMMARY_COLUMNS}, lines FROM batch LIMIT 0")
    except sqlite3.Error as exc:
        raise SpoolFileError(f"{path} is not a beamwatch spool file ({exc})") from None


def connect_or_create(path: Path) -> sqlite3.Connection:
    """Open the spool at `path`, creating the file but never a directory."""
    if path.is_dir():
        raise SpoolFileError(
            f"spool path {path} is a directory; give a file such as"
            f" {path / 'beamwatch-spool.db'}"
        )
    if not path.parent.is_dir():
        raise SpoolFileError(
            f"cannot create spool {path}: directory {path.parent} does not exist;"
            f" create it (mkdir -p {path.parent}) or choose another spool_path"
        )
    try:
        return sqlite3.connect(path, check_same_thread=False)
    except sqlite3.Error as exc:
        raise SpoolFileError(f"cannot open spool {path}: {exc}") from None


def connect_existing(path: Path) -> sqlite3.Connection:
    """Open an existing spool read-write, creating no file and changing none.

    The batch table is checked before the caller switches the journal to WAL,
    which would change any other SQLite file it was given.
    """
    check_sqlite_file(path)
    uri = path.resolve().as_uri() + "?mode=rw"
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise SpoolFileError(f"cannot open {path}: {exc}") from None
    try:
        check_batch_table(connection, path)
    except SpoolFileError:
        connection.close()
        raise
    return connection


def check_sqlite_file(path: Path) -> None:
    """Raise SpoolFileError unless `path` is a readable SQLite 3 file."""
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


@contextmanager
def open_read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """Open a SQLite file read-only after checking that it is one."""
    check_sqlite_file(path)

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
