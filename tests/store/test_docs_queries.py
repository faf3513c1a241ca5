"""The InfluxQL examples in docs/influxdb.md and README.md, run on a real influxd."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from collector.store.base import Stat
from collector.store.influx import InfluxStore
from probe.models import Measurement, Outcome
from probe.writers import V1Writer
from tests.support.influx import InfluxServer, influxd

__all__ = ["influxd"]

REPO = Path(__file__).resolve().parents[2]
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)
DOC_EXAMPLES = SQL_BLOCK.findall((REPO / "docs" / "influxdb.md").read_text("utf-8"))
# The README repeats some of them in its "Query InfluxDB directly" section.
README_EXAMPLES = SQL_BLOCK.findall((REPO / "README.md").read_text("utf-8"))
EXAMPLES = list(dict.fromkeys(DOC_EXAMPLES + README_EXAMPLES))


def recent_points(now_ms: int) -> list[Measurement]:
    points = []
    for i in range(120):
        outcome = Outcome.TIMEOUT if i % 10 == 0 else Outcome.OK
        points.append(
            Measurement(
                time_ms=now_ms - 20 * 60_000 + i * 9_000,
                target="piece",
                provider=("alpha", "beta")[i % 2],
                region=("eu-central-1", "us-east-1")[i // 60],
                network="mainnet",
                outcome=outcome,
                ttfb_ms=None if outcome is Outcome.TIMEOUT else 20.0 + i % 17,
            )
        )
    return points


def test_doc_has_influxql_examples() -> None:
    assert len(DOC_EXAMPLES) == 3


@pytest.mark.parametrize("statement", EXAMPLES)
async def test_doc_example_runs(influxd: InfluxServer, statement: str) -> None:
    now_ms = int(time.time() * 1000)
    store = InfluxStore(influxd.url, "beamwatch", V1Writer(influxd.url, "beamwatch"))
    await store.write(recent_points(now_ms))
    (series,) = await store.query([statement], {})
    await store.close()
    assert series
    assert all(rows for _, rows in series)


async def test_doc_p95_matches_heatmap(influxd: InfluxServer) -> None:
    now_ms = int(time.time() * 1000)
    store = InfluxStore(influxd.url, "beamwatch", V1Writer(influxd.url, "beamwatch"))
    await store.write(recent_points(now_ms))
    (series,) = await store.query([DOC_EXAMPLES[0]], {})
    cells = await store.heatmap(now_ms - 3_600_000, now_ms + 1, Stat.P95)
    await store.close()

    from_doc = {(t["region"], t["provider"]): rows[0]["p95_ms"] for t, rows in series}
    from_heatmap = {(c.region, c.provider): c.value for c in cells}
    assert from_doc == from_heatmap
    assert len(from_doc) == 4
