"""The embedded store: one SQLite file in WAL mode, with the InfluxDB schema as tables.

Every call runs on one worker thread that owns the connection, so the event
loop never blocks on disk and SQLite has a single writer.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from collector.stats import percentile
from collector.store.base import (
    AlertEvent,
    FundsSnapshot,
    HeatmapCell,
    PulsePoint,
    QueryFilter,
    RoutingEntry,
    Stat,
    StoreUnavailable,
    Summary,
)
from collector.store.sqlite_schema import connect
from probe.models import FLOAT_FIELDS, INT_FIELDS, TAG_NAMES, Measurement

T = TypeVar("T")

PROBE_COLUMNS = ("time_ms", *TAG_NAMES, *FLOAT_FIELDS, *INT_FIELDS, "ok", "error")


FUNDS_COLUMNS = (
    "time_ms, network, payer, token, funds, lockup_current, lockup_rate,"
    " lockup_last_settled_at, current_epoch, runway_days"
)


def _where(since_ms: int, until_ms: int, where: QueryFilter) -> tuple[str, list[Any]]:
    clauses = ["time_ms >= ?", "time_ms < ?"]
    values: list[Any] = [since_ms, until_ms]
    for column in ("region", "provider", "target"):
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            values.append(value)
    return " AND ".join(clauses), values


class SQLiteStore:
    """The default store; see the module docstring."""

    name = "sqlite"

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 5000) -> None:
        self._path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._connection: sqlite3.Connection | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._connection is None:
                self._connection = connect(self._path, self._busy_timeout_ms)
            return work(self._connection)

        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, call
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self._path}: {exc}") from exc

    async def close(self) -> None:
        def shut(connection: sqlite3.Connection) -> None:
            connection.close()
            self._connection = None

        if self._connection is not None:
            await self._run(shut)
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda c: c.execute("SELECT 1").fetchone())

    async def write(self, measurements: list[Measurement]) -> None:
        rows = [
            (
                m.time_ms,
                m.region,
                m.provider,
                m.target,
                m.network,
                m.outcome.value,
                m.dns_ms,
                m.connect_ms,
                m.tls_ms,
                m.ttfb_ms,
                m.download_ms,
                m.total_ms,
                m.status_code,
                m.bytes,
                m.redirects,
                int(m.ok),
                m.error,
            )
            for m in measurements
        ]
        marks = ", ".join("?" for _ in PROBE_COLUMNS)
        columns = ", ".join(PROBE_COLUMNS)
        statement = f"INSERT OR REPLACE INTO probe ({columns}) VALUES ({marks})"

        pairs = {(m.region, m.provider) for m in measurements}

        def insert(connection: sqlite3.Connection) -> None:
            with connection:
                connection.executemany(statement, rows)
                connection.executemany(
                    "INSERT OR IGNORE INTO probe_pair VALUES (?, ?)", pairs
                )

        await self._run(insert)

    async def count(self) -> int:
        row = await self._run(
            lambda c: c.execute("SELECT count(*) FROM probe").fetchone()
        )
        return int(row[0])

    async def record_alert(self, event: AlertEvent) -> None:
        def insert(connection: sqlite3.Connection) -> None:
            with connection:
                connection.execute(
                    "INSERT INTO alert VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        event.time_ms,
                        event.rule,
                        event.subject,
                        event.severity,
                        event.state,
                        event.message,
                    ),
                )

        await self._run(insert)

    async def record_routing(self, time_ms: int, entry: RoutingEntry) -> None:
        def insert(connection: sqlite3.Connection) -> None:
            with connection:
                connection.execute(
                    "INSERT INTO routing VALUES (?, ?, ?, ?)",
                    (time_ms, entry.provider, entry.state, entry.reason),
                )

        await self._run(insert)

    async def record_funds(self, snapshot: FundsSnapshot) -> None:
        values = (
            snapshot.time_ms,
            snapshot.network,
            snapshot.payer,
            snapshot.token,
            snapshot.funds,
            snapshot.lockup_current,
            snapshot.lockup_rate,
            snapshot.lockup_last_settled_at,
            snapshot.current_epoch,
            snapshot.runway_days,
        )

        def insert(connection: sqlite3.Connection) -> None:
            with connection:
                connection.execute(
                    f"INSERT OR REPLACE INTO funds ({FUNDS_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )

        await self._run(insert)

    async def latest_funds(self) -> list[FundsSnapshot]:
        def query(connection: sqlite3.Connection) -> list[FundsSnapshot]:
            rows = connection.execute(
                f"SELECT {FUNDS_COLUMNS} FROM funds AS f WHERE time_ms = ("
                " SELECT max(time_ms) FROM funds WHERE network = f.network"
                " AND payer = f.payer AND token = f.token)"
                " ORDER BY network, payer, token"
            ).fetchall()
            return [FundsSnapshot(*row) for row in rows]

        return await self._run(query)

    async def funds_history(self, since_ms: int, until_ms: int) -> list[FundsSnapshot]:
        def query(connection: sqlite3.Connection) -> list[FundsSnapshot]:
            rows = connection.execute(
                f"SELECT {FUNDS_COLUMNS} FROM funds"
                " WHERE time_ms >= ? AND time_ms < ?"
                " ORDER BY network, payer, token, time_ms",
                (since_ms, until_ms),
            ).fetchall()
            return [FundsSnapshot(*row) for row in rows]

        return await self._run(query)

    async def heatmap(
        self, since_ms: int, until_ms: int, stat: Stat
    ) -> list[HeatmapCell]:
        def query(connection: sqlite3.Connection) -> list[HeatmapCell]:
            pairs = connection.execute(
                "SELECT region, provider FROM probe_pair ORDER BY region, provider"
            ).fetchall()
            cells = []
            for region, provider in pairs:
                cell = _heatmap_cell(
                    connection, region, provider, since_ms, until_ms, stat
                )
                if cell is not None:
                    cells.append(cell)
            return cells

        return await self._run(query)

    async def pulse(
        self, since_ms: int, until_ms: int, bucket_ms: int, where: QueryFilter
    ) -> list[PulsePoint]:
        clause, values = _where(since_ms, until_ms, where)

        def query(connection: sqlite3.Connection) -> list[PulsePoint]:
            rows = connection.execute(
                f"SELECT region, time_ms, ttfb_ms FROM probe WHERE {clause}"
                " AND ok = 1 AND ttfb_ms IS NOT NULL",
                values,
            )
            buckets: dict[tuple[str, int], list[float]] = defaultdict(list)
            for region, time_ms, ttfb_ms in rows:
                buckets[(region, time_ms // bucket_ms * bucket_ms)].append(ttfb_ms)
            points = []
            for (region, start_ms), ttfbs in sorted(buckets.items()):
                ttfbs.sort()
                points.append(
                    PulsePoint(
                        region,
                        start_ms,
                        percentile(ttfbs, 50),
                        percentile(ttfbs, 95),
                        len(ttfbs),
                    )
                )
            return points

        return await self._run(query)

    async def summary(
        self, since_ms: int, until_ms: int, where: QueryFilter
    ) -> Summary:
        clause, values = _where(since_ms, until_ms, where)

        def query(connection: sqlite3.Connection) -> Summary:
            by_outcome = dict(
                connection.execute(
                    f"SELECT outcome, count(*) FROM probe WHERE {clause}"
                    " GROUP BY outcome",
                    values,
                ).fetchall()
            )
            ttfbs = [
                row[0]
                for row in connection.execute(
                    f"SELECT ttfb_ms FROM probe WHERE {clause}"
                    " AND ok = 1 AND ttfb_ms IS NOT NULL ORDER BY ttfb_ms",
                    values,
                )
            ]
            return Summary(
                count=sum(by_outcome.values()),
                ok_count=by_outcome.get("ok", 0),
                p50_ms=percentile(ttfbs, 50),
                p95_ms=percentile(ttfbs, 95),
                p99_ms=percentile(ttfbs, 99),
                by_outcome=by_outcome,
            )

        return await self._run(query)

    async def latest_by_region(self) -> dict[str, int]:
        def query(connection: sqlite3.Connection) -> dict[str, int]:
            rows = connection.execute(
                "SELECT region, max(time_ms) FROM probe GROUP BY region"
            ).fetchall()
            return {region: int(latest) for region, latest in rows}

        return await self._run(query)

    async def alerts(self, since_ms: int, limit: int) -> list[AlertEvent]:
        def query(connection: sqlite3.Connection) -> list[AlertEvent]:
            rows = connection.execute(
                "SELECT time_ms, rule, subject, severity, state, message FROM alert"
                " WHERE time_ms >= ? ORDER BY time_ms DESC LIMIT ?",
                (since_ms, limit),
            ).fetchall()
            return [AlertEvent(*row) for row in rows]

        return await self._run(query)

    async def routing(self) -> list[RoutingEntry]:
        def query(connection: sqlite3.Connection) -> list[RoutingEntry]:
            rows = connection.execute(
                "SELECT provider, state, max(time_ms), reason FROM routing"
                " GROUP BY provider ORDER BY provider"
            ).fetchall()
            return [
                RoutingEntry(p, state, since, reason)
                for p, state, since, reason in rows
            ]

        return await self._run(query)


def _heatmap_cell(
    connection: sqlite3.Connection,
    region: str,
    provider: str,
    since_ms: int,
    until_ms: int,
    stat: Stat,
) -> HeatmapCell | None:
    """Compute one heatmap cell from raw points; None when the window is empty.

    Both statements read one range of the probe_series_time index, so a cell
    costs its own points only, whatever else the table holds.
    """
    window = (region, provider, since_ms, until_ms)
    count, ok_count, latest_ms = connection.execute(
        "SELECT count(*), sum(ok), max(time_ms) FROM probe"
        " WHERE region = ? AND provider = ? AND time_ms >= ? AND time_ms < ?",
        window,
    ).fetchone()
    if not count:
        return None
    success_rate = ok_count / count
    if stat is Stat.SUCCESS_RATE:
        return HeatmapCell(
            region, provider, success_rate, count, success_rate, latest_ms
        )

    ttfbs = [
        row[0]
        for row in connection.execute(
            "SELECT ttfb_ms FROM probe"
            " WHERE region = ? AND provider = ? AND time_ms >= ? AND time_ms < ?"
            " AND ok = 1 AND ttfb_ms IS NOT NULL",
            window,
        )
    ]
    ttfbs.sort()
    assert stat.percent is not None
    value = percentile(ttfbs, stat.percent)
    return HeatmapCell(region, provider, value, count, success_rate, latest_ms)
