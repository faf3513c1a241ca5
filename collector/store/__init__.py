"""Stores: where measurements are kept, and the queries the API runs on them.

Two backends implement the same `Store` protocol: SQLite (embedded, the default)
and InfluxDB. A contract test runs every query on both with the same data.
"""

from __future__ import annotations

from collector.store.base import (
    AlertEvent,
    HeatmapCell,
    PulsePoint,
    QueryFilter,
    RoutingEntry,
    Stat,
    Store,
    StoreUnavailable,
    Summary,
)

__all__ = [
    "AlertEvent",
    "HeatmapCell",
    "PulsePoint",
    "QueryFilter",
    "RoutingEntry",
    "Stat",
    "Store",
    "StoreUnavailable",
    "Summary",
]
