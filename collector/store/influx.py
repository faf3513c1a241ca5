"""The InfluxDB store: line protocol in, InfluxQL over `/query` out.

InfluxDB 1.x serves `/query` natively, 2.x with a DBRP mapping and 3.x as its
InfluxQL API. Every value a caller passes (tag filters, times) travels as a
bind parameter (`params` JSON, `$name` in the statement), so a provider named
`x" OR 1=1` is only a name. Identifiers, bucket widths and limits are built
here from integers and fixed names, never from caller text.
NOTE: bind parameters are tested on InfluxDB 1.6 only; 2.x and 3.x document
them for InfluxQL too, but no test here runs those versions.

Percentiles come from InfluxQL PERCENTILE() over raw points, the same
nearest-rank rule as collector.stats.percentile, so both stores agree.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
from pydantic import SecretStr

from collector.config import InfluxStoreSettings
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
    heatmap_cells,
)
from collector.store.influxql import (
    TIME_RANGE,
    InfluxQLClient,
    Row,
    Series,
    TruncatedResult,
    tag_filter,
    time_params,
)
from collector.store.recent import Counts, Group, RawPoint, RecentPoints
from probe.lineprotocol import ProbeEncoder, encode_line
from probe.models import Measurement
from probe.sinks import BatchingSink
from probe.spool import Spool
from probe.writers import (
    LineWriter,
    V1Writer,
    V2Writer,
    WriteError,
    describe_failure,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

FUNDS_FIELDS = (
    "funds",
    "lockup_current",
    "lockup_rate",
    "lockup_last_settled_at",
    "current_epoch",
    "runway_days",
)


class InfluxStore(InfluxQLClient):
    """The Store protocol on InfluxDB; writes go through `writer`."""

    name = "influxdb"

    def __init__(
        self,
        url: str,
        database: str,
        writer: LineWriter,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
        recent_points_hours: float = 6.0,
        recent_points_max: int = 2_000_000,
    ) -> None:
        """Query `database` at `url`; write through `writer`.

        Heatmaps of windows up to `recent_points_hours` are computed from raw
        points held in memory (see collector.store.recent), at most
        `recent_points_max` of them; 0 hours turns that off.
        """
        super().__init__(
            url,
            database,
            username=username,
            password=password,
            token=token,
            timeout_s=timeout_s,
        )
        self._writer = writer
        self._encoder = ProbeEncoder()
        self._recent = RecentPoints(
            self,
            span_ms=round(recent_points_hours * 3_600_000),
            max_points=recent_points_max,
        )

    @property
    def recent_points(self) -> RecentPoints:
        """The raw points held for heatmaps, with their reload counters."""
        return self._recent

    async def close(self) -> None:
        await super().close()
        await self._writer.close()

    async def ping(self) -> None:
        try:
            async with self._client().get(f"{self._url}/ping") as response:
                if response.status != 204:
                    raise StoreUnavailable(
                        f"InfluxDB at {self._url} returned status"
                        f" {response.status} for /ping; check the url setting"
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = describe_failure(exc, self._timeout.total)
            raise StoreUnavailable(f"InfluxDB at {self._url}: {reason}") from exc

    async def write_lines(self, lines: list[str]) -> None:
        """Post prebuilt lines in one request; raise StoreUnavailable on failure."""
        try:
            await self._writer.write("\n".join(lines))
        except WriteError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def write(self, measurements: list[Measurement]) -> None:
        """Write directly, without spool; the service's sink adds the spool."""
        if measurements:
            await self.write_lines(self._encoder.encode_batch(measurements))

    async def record_alert(self, event: AlertEvent) -> None:
        # NOTE: two events with equal tags and the same millisecond are one
        # point in InfluxDB, so the later overwrites the earlier; SQLite keeps both.
        tags = {
            "severity": event.severity,
            "rule": event.rule,
            "subject": event.subject,
            "state": event.state,
        }
        line = encode_line("alert", tags, {"message": event.message}, event.time_ms)
        await self.write_lines([line])

    async def record_routing(self, time_ms: int, entry: RoutingEntry) -> None:
        fields = {"state": entry.state, "reason": entry.reason}
        line = encode_line("routing", {"provider": entry.provider}, fields, time_ms)
        await self.write_lines([line])

    async def record_funds(self, snapshot: FundsSnapshot) -> None:
        tags = {
            "network": snapshot.network,
            "payer": snapshot.payer,
            "token": snapshot.token,
        }
        fields = {
            "funds": float(snapshot.funds),
            "lockup_current": float(snapshot.lockup_current),
            "lockup_rate": float(snapshot.lockup_rate),
            "lockup_last_settled_at": int(snapshot.lockup_last_settled_at),
            "current_epoch": int(snapshot.current_epoch),
            "runway_days": (
                None if snapshot.runway_days is None else float(snapshot.runway_days)
            ),
        }
        await self.write_lines([encode_line("funds", tags, fields, snapshot.time_ms)])

    async def regions(self) -> list[str]:
        """Return every region tag value in the probe measurement."""
        (series,) = await self.query(
            ['SHOW TAG VALUES FROM probe WITH KEY = "region"'], {}
        )
        return sorted(row["value"] for _, rows in series for row in rows)

    async def heatmap(
        self, since_ms: int, until_ms: int, stat: Stat
    ) -> list[HeatmapCell]:
        if self._recent.covers(since_ms, until_ms):
            cells = await self._from_recent(
                self._recent.heatmap(since_ms, until_ms, stat)
            )
            if cells is not None:
                return cells
        return await self._heatmap_direct(since_ms, until_ms, stat)

    async def _from_recent(self, answer: Awaitable[T | None]) -> T | None:
        """Await a result from the held points; None means: query InfluxDB instead."""
        try:
            return await answer
        except TruncatedResult as exc:
            log.warning(
                "queries now ask InfluxDB for every percentile, because %s", exc
            )
            self._recent.active = False
            return None

    async def read_points(
        self, since_ms: int, until_ms: int, region: str, provider: str | None
    ) -> dict[Group, list[RawPoint]]:
        """Return the raw points of one region, or of one cell, in time order."""
        params = time_params(since_ms, until_ms)
        params["region"] = region
        where = f"{TIME_RANGE} AND region = $region"
        if provider is not None:
            params["provider"] = provider
            where += " AND provider = $provider"
        (series,) = await self.query(
            [
                f'SELECT "ttfb_ms", "ok" FROM probe WHERE {where}'
                " GROUP BY region, provider, outcome"
            ],
            params,
        )
        return {
            (tags["region"], tags["provider"], tags["outcome"]): [
                (row["time"], row["ttfb_ms"], row["ok"]) for row in rows
            ]
            for tags, rows in series
        }

    async def count_points(
        self, since_ms: int, until_ms: int, region: str, by_group: bool
    ) -> Counts:
        """Count one region's points with an `ok` field, per group or in total."""
        params = time_params(since_ms, until_ms)
        params["region"] = region
        statement = (
            f'SELECT count("ok") FROM probe WHERE {TIME_RANGE} AND region = $region'
        )
        if by_group:
            statement += " GROUP BY region, provider, outcome"
        (series,) = await self.query([statement], params)
        return {
            (
                tags.get("region", ""),
                tags.get("provider", ""),
                tags.get("outcome", ""),
            ): (rows[0]["count"])
            for tags, rows in series
        }

    @staticmethod
    def _count_statements(regions: list[str], params: dict[str, Any]) -> list[str]:
        """Count points per (region, provider, outcome), one statement per region."""
        statements = []
        for index, region in enumerate(regions):
            params[f"region{index}"] = region
            statements.append(
                f'SELECT count("ok") FROM probe WHERE {TIME_RANGE}'
                f" AND region = $region{index} GROUP BY region, provider, outcome"
            )
        return statements

    async def _heatmap_direct(
        self, since_ms: int, until_ms: int, stat: Stat
    ) -> list[HeatmapCell]:
        # One request per region and statement, all at once: influxd runs the
        # requests on all its cores, and each region's cells are independent,
        # so the percentiles stay exact. On 24 h x 200 series this halved the
        # percentile statement's latency against one request for all regions.
        params = time_params(since_ms, until_ms)
        regions = await self.regions()
        statements = self._count_statements(regions, params)
        for index in range(len(regions)):
            where = f"{TIME_RANGE} AND region = $region{index}"
            statements.append(
                f'SELECT last("ok") FROM probe WHERE {where} GROUP BY region, provider'
            )
            if stat.percent is not None:
                statements.append(
                    f'SELECT percentile("ttfb_ms", {stat.percent:g}) FROM probe'
                    f" WHERE outcome = 'ok' AND {where} GROUP BY region, provider"
                )
        results = await self.query_each(statements, params)

        tallies: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        latest: dict[tuple[str, str], int] = {}
        percentiles: dict[tuple[str, str], float] = {}
        for statement, series in zip(statements, results, strict=True):
            for tags, rows in series:
                key = (tags["region"], tags["provider"])
                if statement.startswith('SELECT count("ok")'):
                    tallies[key][0] += rows[0]["count"]
                    if tags["outcome"] == "ok":
                        tallies[key][1] += rows[0]["count"]
                elif statement.startswith('SELECT last("ok")'):
                    latest[key] = rows[0]["time"]
                else:
                    percentiles[key] = rows[0]["percentile"]

        return heatmap_cells(tallies, latest, stat, percentiles)

    async def pulse(
        self, since_ms: int, until_ms: int, bucket_ms: int, where: QueryFilter
    ) -> list[PulsePoint]:
        if int(bucket_ms) <= 0:
            raise ValueError(f"bucket_ms must be positive, not {bucket_ms}")
        if self._recent.covers(since_ms, until_ms) and where.target is None:
            held = await self._from_recent(
                self._recent.pulse(since_ms, until_ms, bucket_ms, where)
            )
            if held is not None:
                return held
        params = time_params(since_ms, until_ms)
        clause = tag_filter(where, params)
        statement = (
            'SELECT percentile("ttfb_ms", 50) AS p50, percentile("ttfb_ms", 95) AS p95,'
            ' count("ttfb_ms") AS n FROM probe'
            f" WHERE outcome = 'ok' AND {TIME_RANGE}{clause}"
            f" GROUP BY time({int(bucket_ms)}ms), region fill(none)"
        )
        (series,) = await self.query([statement], params)
        points = [
            PulsePoint(tags["region"], row["time"], row["p50"], row["p95"], row["n"])
            for tags, rows in series
            for row in rows
        ]
        points.sort(key=lambda point: (point.region, point.time_ms))
        return points

    async def summary(
        self, since_ms: int, until_ms: int, where: QueryFilter
    ) -> Summary:
        if self._recent.covers(since_ms, until_ms) and where.target is None:
            held = await self._from_recent(
                self._recent.summary(since_ms, until_ms, where)
            )
            if held is not None:
                return held
        params = time_params(since_ms, until_ms)
        clause = tag_filter(where, params)
        by_outcome_result, percentile_result = await self.query_each(
            [
                f'SELECT count("ok") FROM probe WHERE {TIME_RANGE}{clause}'
                " GROUP BY outcome",
                'SELECT percentile("ttfb_ms", 50) AS p50,'
                ' percentile("ttfb_ms", 95) AS p95, percentile("ttfb_ms", 99) AS p99'
                f" FROM probe WHERE outcome = 'ok' AND {TIME_RANGE}{clause}",
            ],
            params,
        )
        by_outcome = {
            tags["outcome"]: rows[0]["count"] for tags, rows in by_outcome_result
        }
        row: Row = percentile_result[0][1][0] if percentile_result else {}
        return Summary(
            count=sum(by_outcome.values()),
            ok_count=by_outcome.get("ok", 0),
            p50_ms=row.get("p50"),
            p95_ms=row.get("p95"),
            p99_ms=row.get("p99"),
            by_outcome=by_outcome,
        )

    async def latest_by_region(self) -> dict[str, int]:
        (series,) = await self.query(
            ['SELECT last("ok") FROM probe GROUP BY region'], {}
        )
        return {tags["region"]: int(rows[0]["time"]) for tags, rows in series}

    async def alerts(self, since_ms: int, limit: int) -> list[AlertEvent]:
        if int(limit) < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        (series,) = await self.query(
            [
                'SELECT "rule", "subject", "severity", "state", "message" FROM alert'
                f" WHERE time >= $since ORDER BY time DESC LIMIT {int(limit)}"
            ],
            {"since": int(since_ms) * 1_000_000},
        )
        rows = series[0][1] if series else []
        return [
            AlertEvent(
                row["time"],
                row["rule"],
                row["subject"],
                row["severity"],
                row["state"],
                row["message"],
            )
            for row in rows
        ]

    async def routing(self) -> list[RoutingEntry]:
        (series,) = await self.query(
            [
                'SELECT "state", "reason" FROM routing GROUP BY provider'
                " ORDER BY time DESC LIMIT 1"
            ],
            {},
        )
        entries = [
            RoutingEntry(
                tags["provider"], rows[0]["state"], rows[0]["time"], rows[0]["reason"]
            )
            for tags, rows in series
        ]
        entries.sort(key=lambda entry: entry.provider)
        return entries

    async def latest_funds(self) -> list[FundsSnapshot]:
        (series,) = await self.query(
            [
                "SELECT * FROM funds GROUP BY network, payer, token"
                " ORDER BY time DESC LIMIT 1"
            ],
            {},
        )
        return sorted(_snapshots(series), key=_funds_order)

    async def funds_history(self, since_ms: int, until_ms: int) -> list[FundsSnapshot]:
        (series,) = await self.query(
            [f"SELECT * FROM funds WHERE {TIME_RANGE} GROUP BY network, payer, token"],
            time_params(since_ms, until_ms),
        )
        return sorted(_snapshots(series), key=_funds_order)


def _snapshots(series: list[Series]) -> list[FundsSnapshot]:
    return [
        FundsSnapshot(
            time_ms=row["time"],
            network=tags["network"],
            payer=tags["payer"],
            token=tags["token"],
            funds=float(row["funds"]),
            lockup_current=float(row["lockup_current"]),
            lockup_rate=float(row["lockup_rate"]),
            lockup_last_settled_at=int(row["lockup_last_settled_at"]),
            current_epoch=int(row["current_epoch"]),
            runway_days=(
                None if row.get("runway_days") is None else float(row["runway_days"])
            ),
        )
        for tags, rows in series
        for row in rows
    ]


def _funds_order(snapshot: FundsSnapshot) -> tuple[str, str, str, int]:
    return (snapshot.network, snapshot.payer, snapshot.token, snapshot.time_ms)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def open_writer(settings: InfluxStoreSettings) -> LineWriter:
    """Build the configured write path: /write (v1) or /api/v2/write (v2)."""
    if settings.write_api == "v2":
        assert settings.bucket is not None  # the settings validator ensures it
        return V2Writer(
            settings.url,
            settings.bucket,
            org=settings.org,
            token=_secret(settings.token),
            timeout_s=settings.timeout_s,
        )
    return V1Writer(
        settings.url,
        settings.database,
        retention_policy=settings.retention_policy,
        username=settings.username,
        password=_secret(settings.password),
        token=_secret(settings.token),
        timeout_s=settings.timeout_s,
    )


def open_influx_store(settings: InfluxStoreSettings) -> InfluxStore:
    return InfluxStore(
        settings.url,
        settings.database,
        open_writer(settings),
        username=settings.username,
        password=_secret(settings.password),
        token=_secret(settings.token),
        timeout_s=settings.timeout_s,
        recent_points_hours=settings.recent_points_hours,
        recent_points_max=settings.recent_points_max,
    )


def open_influx_sink(settings: InfluxStoreSettings) -> BatchingSink:
    """Build the probe sink: batches, retries, then the spool at `spool_path`."""
    return BatchingSink(
        open_writer(settings),
        Spool(settings.spool_path),
        batch_size=settings.batch_size,
        flush_interval_s=settings.flush_interval_s,
        retry_attempts=settings.retry_attempts,
        retry_max_s=settings.retry_max_s,
    )
