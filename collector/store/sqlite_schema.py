"""The SQLite schema and connection setup for the embedded store.

`SCHEMA` creates the probe, probe_pair, alert, routing and funds tables with
their indexes, mirroring the InfluxDB measurements. `connect` opens the file in
WAL mode, applies the schema and fills `probe_pair` for a file written before
that table existed. `SQLiteStore` in collector.store.sqlite calls `connect` on
its worker thread.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS probe (
    time_ms INTEGER NOT NULL,
    region TEXT NOT NULL,
    provider TEXT NOT NULL,
    target TEXT NOT NULL,
    network TEXT NOT NULL,
    outcome TEXT NOT NULL,
    dns_ms REAL, connect_ms REAL, tls_ms REAL, ttfb_ms REAL,
    download_ms REAL, total_ms REAL,
    status_code INTEGER, bytes INTEGER, redirects INTEGER,
    ok INTEGER NOT NULL,
    error TEXT,
    -- A point is its series and time, as in InfluxDB: a replay overwrites.
    PRIMARY KEY (region, provider, target, network, outcome, time_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS probe_time ON probe (time_ms);
-- Covers the heatmap: one index range per (region, provider) and window.
CREATE INDEX IF NOT EXISTS probe_series_time
    ON probe (region, provider, time_ms, ok, ttfb_ms);
-- Every (region, provider) ever written, so the heatmap need not scan for them.
CREATE TABLE IF NOT EXISTS probe_pair (
    region TEXT NOT NULL,
    provider TEXT NOT NULL,
    PRIMARY KEY (region, provider)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert (
    time_ms INTEGER NOT NULL,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_time ON alert (time_ms);
CREATE TABLE IF NOT EXISTS routing (
    time_ms INTEGER NOT NULL,
    provider TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS funds (
    time_ms INTEGER NOT NULL,
    network TEXT NOT NULL,
    payer TEXT NOT NULL,
    token TEXT NOT NULL,
    funds REAL NOT NULL,
    lockup_current REAL NOT NULL,
    lockup_rate REAL NOT NULL,
    lockup_last_settled_at INTEGER NOT NULL,
    current_epoch INTEGER NOT NULL,
    runway_days REAL,
    PRIMARY KEY (network, payer, token, time_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS funds_time ON funds (time_ms);
"""


def connect(path: Path, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """Open the store file at `path`, creating it and its tables if missing.

    The directory must exist already: a typo in the path should fail loudly
    rather than create a tree of directories somewhere unexpected. A write
    waits up to `busy_timeout_ms` for another process's lock, then fails.
    """
    if not path.parent.is_dir():
        raise sqlite3.OperationalError(
            f"directory {path.parent} does not exist; create it or change [store] path"
        )
    connection = sqlite3.connect(path, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    connection.executescript(SCHEMA)
    with connection:
        connection.execute(
            "INSERT OR IGNORE INTO probe_pair"
            " SELECT DISTINCT region, provider FROM probe"
            " WHERE NOT EXISTS (SELECT 1 FROM probe_pair)"
        )
    return connection
