"""Statistics shared by every store, so both return the same numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], percent: float) -> float | None:
    """Return the nearest-rank percentile of already sorted values.

    The rank is `floor(n * percent / 100 + 0.5)`, counted from 1, which is the
    rule of InfluxQL's PERCENTILE() in InfluxDB 1.x, so the SQLite store and
    InfluxDB return the same raw point. None when no value has that rank.
    """
    index = math.floor(len(sorted_values) * percent / 100.0 + 0.5) - 1
    if index < 0 or index >= len(sorted_values):
        return None
    return sorted_values[index]
