"""The store protocol and the records its queries return.

Times are Unix milliseconds. A window is `[since_ms, until_ms)`. TTFB
statistics use successful attempts only (outcome `ok`), because a refused
connection has no service latency; counts and success rates use every attempt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from probe.models import Measurement


class StoreUnavailable(Exception):
    """The store cannot be reached or returned an error, so retry later."""


class Stat(StrEnum):
    P50 = "p50"
    P95 = "p95"
    P99 = "p99"
    SUCCESS_RATE = "success_rate"

    @property
    def percent(self) -> float | None:
        return {"p50": 50.0, "p95": 95.0, "p99": 99.0}.get(self.value)


@dataclass(frozen=True, slots=True)
class QueryFilter:
    """Tag filters; None means any value."""

    region: str | None = None
    provider: str | None = None
    target: str | None = None


@dataclass(slots=True)
class HeatmapCell:
    region: str
    provider: str
    value: float | None
    count: int
    success_rate: float | None
    latest_ms: int | None


def heatmap_cells(
    tallies: Mapping[tuple[str, str], Sequence[int]],
    latest: Mapping[tuple[str, str], int],
    stat: Stat,
    percentiles: Mapping[tuple[str, str], float | None],
) -> list[HeatmapCell]:
    """Build the cells, sorted, from (count, ok count) per (region, provider)."""
    cells = []
    for cell, (count, ok_count) in sorted(tallies.items()):
        success_rate = ok_count / count
        value = success_rate if stat.percent is None else percentiles.get(cell)
        cells.append(HeatmapCell(*cell, value, count, success_rate, latest.get(cell)))
    return cells


@dataclass(slots=True)
class PulsePoint:
    """TTFB percentiles of one region in one time bucket starting at `time_ms`."""

    region: str
    time_ms: int
    p50_ms: float | None
    p95_ms: float | None
    count: int


@dataclass(slots=True)
class Summary:
    count: int
    ok_count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    by_outcome: dict[str, int] = field(default_factory=dict)

    @property
    def success_rate(self) -> float | None:
        return self.ok_count / self.count if self.count else None


@dataclass(slots=True)
class AlertEvent:
    time_ms: int
    rule: str
    subject: str
    severity: str
    state: str
    message: str


@dataclass(slots=True)
class RoutingEntry:
    provider: str
    state: str
    since_ms: int
    reason: str


@dataclass(slots=True)
class FundsSnapshot:
    """One reading of a Filecoin Pay account, stored as a point of measurement `funds`.

    Tags: `network`, `payer`, `token`. Amounts are in whole token units (the
    poller divides the contract's base units by 10**decimals, 18 for USDFC).
    `lockup_rate` is the amount the account's rails lock per epoch (30 s).
    `lockup_last_settled_at` and `current_epoch` are chain epochs read in the
    same poll. `runway_days` is derived from the others when the point is
    written, so InfluxQL users can chart it without the formula.
    """

    time_ms: int
    network: str
    payer: str
    token: str
    funds: float
    lockup_current: float
    lockup_rate: float
    lockup_last_settled_at: int
    current_epoch: int
    runway_days: float | None


class Store(Protocol):
    """Interface that every store backend offers the probe runner and the API."""

    name: str

    async def write(self, measurements: list[Measurement]) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store responds."""

    async def heatmap(
        self, since_ms: int, until_ms: int, stat: Stat
    ) -> list[HeatmapCell]: ...

    async def pulse(
        self, since_ms: int, until_ms: int, bucket_ms: int, where: QueryFilter
    ) -> list[PulsePoint]: ...

    async def summary(
        self, since_ms: int, until_ms: int, where: QueryFilter
    ) -> Summary: ...

    async def latest_by_region(self) -> dict[str, int]:
        """Return the time of the newest point per region."""

    async def alerts(self, since_ms: int, limit: int) -> list[AlertEvent]:
        """Return alert events newest first."""

    async def routing(self) -> list[RoutingEntry]:
        """Return the latest routing state per provider."""

    async def record_alert(self, event: AlertEvent) -> None:
        """Write one point of measurement `alert`."""

    async def record_routing(self, time_ms: int, entry: RoutingEntry) -> None:
        """Write one point of measurement `routing` (a ban or unban action)."""

    async def record_funds(self, snapshot: FundsSnapshot) -> None:
        """Write one point of measurement `funds`."""

    async def latest_funds(self) -> list[FundsSnapshot]:
        """Return the newest snapshot per (network, payer, token), sorted by them."""

    async def funds_history(self, since_ms: int, until_ms: int) -> list[FundsSnapshot]:
        """Return every snapshot in the window, by (network, payer, token, time)."""

    async def close(self) -> None: ...
