"""Recent raw probe points held in memory and kept equal to InfluxDB's.

An exact percentile needs every raw point of the window. influxd 1.6 spends
about 3 us of CPU per point and 60 us per series on PERCENTILE(), so a 1 h
heatmap of 200 series costs about 60 ms of its CPU on every refresh. The
Pulse series and summary of /api/metrics cost another 230 ms (measured in
bench/api_load.py). `RecentPoints` keeps the raw points of the last hours in
memory ("held points"), so a query reads from InfluxDB only the points of the
last two minutes and one count per region. When a region's count differs from
the held points (a spool replay of old points, a deletion, a point that
arrived between the two requests), its cells are counted, and each cell that
differs is read again whole before the result is computed. So every result
comes from the points InfluxDB has. The held points are grouped by region,
provider and outcome, so a query filtered by target goes to InfluxDB.
"""

from __future__ import annotations

import asyncio
import logging
import math
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from collector.stats import percentile
from collector.store.base import (
    HeatmapCell,
    PulsePoint,
    QueryFilter,
    Stat,
    Summary,
    heatmap_cells,
)

log = logging.getLogger(__name__)

# (region, provider, outcome): the points of one outcome in one heatmap cell.
Group = tuple[str, str, str]
# Points with an `ok` field per group, which is what InfluxDB's count() counts.
Counts = dict[Group, int]
# One raw point: time in ms, ttfb_ms or None, ok or None.
RawPoint = tuple[int, float | None, bool | None]


class RawSource(Protocol):
    """The source of raw points and counts: InfluxStore."""

    async def regions(self) -> list[str]: ...

    async def read_points(
        self, since_ms: int, until_ms: int, region: str, provider: str | None
    ) -> dict[Group, list[RawPoint]]:
        """Return the points of one region, or of one cell, in time order."""
        ...

    async def count_points(
        self, since_ms: int, until_ms: int, region: str, by_group: bool
    ) -> Counts:
        """Count one region's points, per group or as one total under ("", "", "")."""
        ...


@dataclass(slots=True)
class _Points:
    """The held points of one group in time order; NaN marks a missing TTFB."""

    times: array[int] = field(default_factory=lambda: array("q"))
    ttfbs: array[float] = field(default_factory=lambda: array("d"))
    # 1 where the point has an `ok` field.
    has_ok: array[int] = field(default_factory=lambda: array("b"))

    def cut_from(self, time_ms: int) -> None:
        """Drop the points at or after `time_ms`."""
        index = bisect_left(self.times, time_ms)
        del self.times[index:], self.ttfbs[index:], self.has_ok[index:]

    def cut_before(self, time_ms: int) -> None:
        """Drop the points before `time_ms`."""
        index = bisect_left(self.times, time_ms)
        del self.times[:index], self.ttfbs[:index], self.has_ok[:index]

    def extend(self, points: Iterable[RawPoint]) -> None:
        for time_ms, ttfb_ms, ok in points:
            self.times.append(time_ms)
            self.ttfbs.append(math.nan if ttfb_ms is None else ttfb_ms)
            self.has_ok.append(0 if ok is None else 1)

    def bounds(self, since_ms: int, until_ms: int) -> tuple[int, int]:
        return bisect_left(self.times, since_ms), bisect_left(self.times, until_ms)


class RecentPoints:
    """Raw points of [low_ms, high_ms) per group, read from a RawSource.

    A window longer than `span_ms` is not served here. Past `max_points` the
    held points are dropped and `active` turns False, so a deployment too
    large for memory queries InfluxDB directly instead.
    """

    # Points of the last `overlap_ms` are read again on every query, so a
    # batch that arrives a little late needs no recount.
    overlap_ms = 120_000

    def __init__(self, source: RawSource, *, span_ms: int, max_points: int) -> None:
        self._source = source
        self.span_ms = span_ms
        self.max_points = max_points
        self._groups: dict[Group, _Points] = {}
        self._low_ms = 0
        self._high_ms = 0
        self._loaded = False
        self.active = span_ms > 0
        # How often the held points were read whole, and cells read again.
        self.full_loads = 0
        self.reloaded_cells = 0
        # One query at a time reads and changes the held points.
        self._lock = asyncio.Lock()

    def covers(self, since_ms: int, until_ms: int) -> bool:
        """True when a window of this length is served from memory."""
        return self.active and 0 < until_ms - since_ms <= self.span_ms

    async def heatmap(
        self, since_ms: int, until_ms: int, stat: Stat
    ) -> list[HeatmapCell] | None:
        """Compute the heatmap; None when the points are over `max_points`."""
        async with self._lock:
            if not await self._sync(since_ms, until_ms):
                return None
            return self.compute(since_ms, until_ms, stat)

    async def pulse(
        self, since_ms: int, until_ms: int, bucket_ms: int, where: QueryFilter
    ) -> list[PulsePoint] | None:
        """Compute p50 and p95 per region and time bucket, as GROUP BY time() does.

        None when the points are over `max_points`. `where.target` must be
        None, because the held points are not kept per target.
        """
        async with self._lock:
            if not await self._sync(since_ms, until_ms):
                return None
            buckets: dict[tuple[str, int], list[float]] = defaultdict(list)
            for (region, _, _), points in self._selected(where, ok_only=True):
                start, end = points.bounds(since_ms, until_ms)
                for time_ms, ttfb_ms in zip(
                    points.times[start:end], points.ttfbs[start:end], strict=True
                ):
                    if ttfb_ms == ttfb_ms:
                        buckets[(region, time_ms // bucket_ms * bucket_ms)].append(
                            ttfb_ms
                        )
            pulse = []
            for (region, start_ms), ttfbs in sorted(buckets.items()):
                ttfbs.sort()
                pulse.append(
                    PulsePoint(
                        region,
                        start_ms,
                        percentile(ttfbs, 50),
                        percentile(ttfbs, 95),
                        len(ttfbs),
                    )
                )
            return pulse

    async def summary(
        self, since_ms: int, until_ms: int, where: QueryFilter
    ) -> Summary | None:
        """Count points per outcome and take TTFB percentiles of the ok ones.

        None when the points are over `max_points`; `where.target` must be None.
        """
        async with self._lock:
            if not await self._sync(since_ms, until_ms):
                return None
            by_outcome: dict[str, int] = defaultdict(int)
            ttfbs: list[float] = []
            for (_, _, outcome), points in self._selected(where, ok_only=False):
                start, end = points.bounds(since_ms, until_ms)
                with_ok = sum(points.has_ok[start:end])
                if with_ok:
                    by_outcome[outcome] += with_ok
                if outcome == "ok":
                    ttfbs.extend([v for v in points.ttfbs[start:end] if v == v])
            ttfbs.sort()
            return Summary(
                count=sum(by_outcome.values()),
                ok_count=by_outcome.get("ok", 0),
                p50_ms=percentile(ttfbs, 50),
                p95_ms=percentile(ttfbs, 95),
                p99_ms=percentile(ttfbs, 99),
                by_outcome=dict(by_outcome),
            )

    def _selected(
        self, where: QueryFilter, *, ok_only: bool
    ) -> list[tuple[Group, _Points]]:
        if where.target is not None:
            raise ValueError("held points are not kept per target; ask InfluxDB")
        return [
            (group, points)
            for group, points in self._groups.items()
            if where.region in (None, group[0])
            and where.provider in (None, group[1])
            and (group[2] == "ok" or not ok_only)
        ]

    async def _sync(self, since_ms: int, until_ms: int) -> bool:
        """Bring the held points of the window up to date and check them.

        False when the held points are over `max_points`.
        """
        regions = await self._source.regions()
        # Both requests at once: a point written between them shows as a
        # count that differs, which _reconcile then reads again.
        _, totals = await asyncio.gather(
            self._refresh(regions, since_ms, until_ms),
            asyncio.gather(
                *(
                    self._source.count_points(since_ms, until_ms, region, False)
                    for region in regions
                )
            ),
        )
        await self._reconcile(regions, totals, since_ms, until_ms)
        return self._within_size()

    async def _refresh(self, regions: list[str], since_ms: int, until_ms: int) -> None:
        """Read the points that InfluxDB has and this cache does not have yet."""
        if not self._loaded or not self._low_ms <= since_ms <= self._high_ms:
            self._loaded = False
            self._groups = {}
            self.full_loads += 1
            await self._read(regions, since_ms, until_ms)
            self._low_ms, self._high_ms = since_ms, until_ms
            self._loaded = True
        elif until_ms > self._high_ms - self.overlap_ms:
            start_ms = max(self._low_ms, self._high_ms - self.overlap_ms)
            end_ms = max(self._high_ms, until_ms)
            await self._read(regions, start_ms, end_ms)
            self._high_ms = end_ms
        # Keep the requested window even when it ends before the newest points.
        oldest_ms = min(self._high_ms - self.span_ms, since_ms)
        if oldest_ms > self._low_ms:
            for points in self._groups.values():
                points.cut_before(oldest_ms)
            self._low_ms = oldest_ms

    async def _read(self, regions: list[str], start_ms: int, end_ms: int) -> None:
        """Replace the held points of [start_ms, end_ms) with InfluxDB's."""
        found = await asyncio.gather(
            *(
                self._source.read_points(start_ms, end_ms, region, None)
                for region in regions
            )
        )
        for points in self._groups.values():
            points.cut_from(start_ms)
        for groups in found:
            self._add(groups)

    async def _reconcile(
        self, regions: list[str], totals: list[Counts], since_ms: int, until_ms: int
    ) -> None:
        """Read again each cell whose counts differ from InfluxDB's.

        `totals` contains InfluxDB's total count of each region in `regions`.
        """
        cached = self.counts(since_ms, until_ms)
        for region, total in zip(regions, totals, strict=True):
            cached_total = sum(n for group, n in cached.items() if group[0] == region)
            if total.get(("", "", ""), 0) == cached_total:
                continue
            counts = await self._source.count_points(since_ms, until_ms, region, True)
            cells = {
                (group[0], group[1])
                for group in counts.keys() | cached.keys()
                if group[0] == region and counts.get(group) != cached.get(group)
            }
            for cell in sorted(cells):
                await self._reload_cell(*cell)
        # A region whose points are all gone no longer appears in `regions`.
        for group in [group for group in cached if group[0] not in regions]:
            del self._groups[group]

    async def _reload_cell(self, region: str, provider: str) -> None:
        log.debug(
            "reading region %s provider %s again: its count differs from InfluxDB's",
            region,
            provider,
        )
        self.reloaded_cells += 1
        found = await self._source.read_points(
            self._low_ms, self._high_ms, region, provider
        )
        for group in [g for g in self._groups if g[:2] == (region, provider)]:
            del self._groups[group]
        self._add(found)

    def _add(self, groups: dict[Group, list[RawPoint]]) -> None:
        for group, points in groups.items():
            if group not in self._groups:
                self._groups[group] = _Points()
            self._groups[group].extend(points)

    def counts(self, since_ms: int, until_ms: int) -> Counts:
        """Count held points with an `ok` field per group."""
        counts: Counts = {}
        for group, points in self._groups.items():
            start, end = points.bounds(since_ms, until_ms)
            with_ok = sum(points.has_ok[start:end])
            if with_ok:
                counts[group] = with_ok
        return counts

    def compute(self, since_ms: int, until_ms: int, stat: Stat) -> list[HeatmapCell]:
        """Compute the cells from held points, as the InfluxQL statements do."""
        tallies: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        latest: dict[tuple[str, str], int] = {}
        ttfbs: dict[tuple[str, str], list[float]] = defaultdict(list)
        for (region, provider, outcome), points in self._groups.items():
            start, end = points.bounds(since_ms, until_ms)
            cell = (region, provider)
            with_ok = sum(points.has_ok[start:end])
            if with_ok:
                tallies[cell][0] += with_ok
                if outcome == "ok":
                    tallies[cell][1] += with_ok
                last = next(i for i in reversed(range(start, end)) if points.has_ok[i])
                latest[cell] = max(latest.get(cell, 0), points.times[last])
            if outcome == "ok" and stat.percent is not None:
                # NaN, a point without ttfb_ms, is the one value unequal to itself.
                ttfbs[cell].extend([v for v in points.ttfbs[start:end] if v == v])
        percentiles = {
            cell: percentile(sorted(values), stat.percent)
            for cell, values in ttfbs.items()
            if stat.percent is not None
        }
        return heatmap_cells(tallies, latest, stat, percentiles)

    def _within_size(self) -> bool:
        """Drop every held point and turn off when they are over `max_points`."""
        total = sum(len(points.times) for points in self._groups.values())
        if total > self.max_points:
            log.warning(
                "holding %d recent points is more than recent_points_max = %d;"
                " heatmaps now ask InfluxDB for every percentile (raise"
                " recent_points_max or lower recent_points_hours)",
                total,
                self.max_points,
            )
            self._groups = {}
            self._loaded = False
            self.active = False
        return self.active
