"""Take docs/dashboard.png: the real collector with an hour of sample data, in chromium.

Run from the repository root:

    /work/venv/bin/python -m tests.dashboard.screenshot [OUTPUT.png]

The sample probes are generated here (fixed random seed), so the picture
shows how the views look, not how any real provider performs.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from collector.store.base import AlertEvent, FundsSnapshot, RoutingEntry
from probe.models import Measurement, Outcome
from tests.dashboard.harness import API_TOKEN, CHROMIUM, CHROMIUM_ARGS, LiveCollector

REGIONS = ("us-east-1", "eu-central-1", "ap-northeast-1", "sa-east-1")
PROVIDERS = ("sp-aurora", "sp-borealis", "sp-cirrus")
# Typical TTFB in ms per (region, provider); missing pairs get 180 ms.
BASE_TTFB_MS = {
    ("ap-northeast-1", "sp-borealis"): 900.0,
    ("sa-east-1", "sp-cirrus"): 2400.0,
    ("eu-central-1", "sp-aurora"): 95.0,
}
# Pairs whose probes time out this often.
FAILURE_RATE = {
    ("sa-east-1", "sp-cirrus"): 0.3,
    ("ap-northeast-1", "sp-borealis"): 0.06,
}
# Configured, but its probe has not reported yet.
SILENT = ("sa-east-1", "sp-aurora")
LAYOUT = {region: set(PROVIDERS) for region in REGIONS}
HOUR_MS = 3_600_000


def sample_measurements(now_ms: int, rng: random.Random) -> list[Measurement]:
    measurements = []
    for region in REGIONS:
        for provider in PROVIDERS:
            if (region, provider) == SILENT:
                continue
            base_ms = BASE_TTFB_MS.get((region, provider), 180.0)
            failure_rate = FAILURE_RATE.get((region, provider), 0.0)
            for minute in range(1, 61):
                failed = rng.random() < failure_rate
                ttfb_ms = base_ms * rng.lognormvariate(0, 0.25)
                measurements.append(
                    Measurement(
                        time_ms=now_ms - minute * 60_000 + rng.randrange(5_000),
                        target=f"{provider}-piece",
                        provider=provider,
                        region=region,
                        network="mainnet",
                        outcome=Outcome.TIMEOUT if failed else Outcome.OK,
                        ttfb_ms=None if failed else round(ttfb_ms, 1),
                        status_code=None if failed else 200,
                    )
                )
    return measurements


def sample_alerts(now_ms: int) -> list[AlertEvent]:
    return [
        AlertEvent(now_ms - 4 * 60_000, "p95_ttfb", "sp-cirrus", "critical", "firing",
                   "p95 TTFB 3,120 ms over 2,000 ms in sa-east-1 and us-east-1"),
        AlertEvent(now_ms - 9 * 60_000, "runway_days", "calibration", "warning",
                   "firing", "runway 3.9 days, under 7 days"),
        AlertEvent(now_ms - 25 * 60_000, "success_rate", "sp-borealis", "warning",
                   "resolved", "success rate back to 96 % in ap-northeast-1"),
        AlertEvent(now_ms - 52 * 60_000, "success_rate", "sp-borealis", "warning",
                   "firing", "success rate 88 % in ap-northeast-1"),
    ]  # fmt: skip


def funds_history(
    now_ms: int, network: str, funds: float, per_day: float
) -> list[FundsSnapshot]:
    snapshots = []
    for days_ago in range(7, -1, -1):
        epoch = 5_000_000 - days_ago * 2880
        snapshots.append(
            FundsSnapshot(
                time_ms=now_ms - days_ago * 86_400_000 - 120_000,
                network=network,
                payer="0x7a3c9e01b2d44f5a8c6e0f1d2b3a4c5d6e7f8091",
                token="USDFC",
                funds=funds + days_ago * per_day,
                lockup_current=per_day,
                lockup_rate=per_day / 2880,
                lockup_last_settled_at=epoch,
                current_epoch=epoch,
                runway_days=None,
            )
        )
    return snapshots


async def seed(collector: LiveCollector, now_ms: int) -> None:
    store = collector.store.inner
    await store.write(sample_measurements(now_ms, random.Random(7)))
    for event in sample_alerts(now_ms):
        await store.record_alert(event)
    await store.record_routing(
        now_ms - 4 * 60_000,
        RoutingEntry("sp-cirrus", "banned", now_ms - 4 * 60_000,
                     "p95 TTFB over 2,000 ms in 2 regions for 3 checks"),
    )  # fmt: skip
    for provider in ("sp-aurora", "sp-borealis"):
        await store.record_routing(
            now_ms - HOUR_MS,
            RoutingEntry(provider, "active", now_ms - HOUR_MS, "healthy"),
        )
    for snapshot in funds_history(now_ms, "mainnet", 1260.0, 29.0) + funds_history(
        now_ms, "calibration", 24.0, 5.0
    ):
        await store.record_funds(snapshot)


def take_screenshot(output: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        collector = LiveCollector(Path(work) / "beamwatch.db", LAYOUT)
        collector.start()
        try:
            collector.run(seed(collector, int(time.time() * 1000)))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.goto(collector.base_url)
                page.wait_for_selector("#heatmap-body table")
                page.fill("#runway-token", API_TOKEN)
                page.click("#runway-token-form button[type=submit]")
                expect(page.locator("#runway-body .account")).to_have_count(2)
                page.wait_for_timeout(1500)
                page.screenshot(path=str(output), full_page=True)
                browser.close()
        finally:
            collector.stop()


if __name__ == "__main__":
    take_screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.png"))
