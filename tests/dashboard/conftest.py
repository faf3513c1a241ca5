"""Fixtures for the dashboard tests: one seeded collector and one chromium per session.

Seeded TTFBs are constant per (region, provider), so every percentile of a
cell equals that constant and the tests can name the exact value shown.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    sync_playwright,
)

from collector.store.base import AlertEvent, FundsSnapshot, RoutingEntry
from probe.models import Measurement, Outcome
from tests.dashboard.harness import API_TOKEN, CHROMIUM, CHROMIUM_ARGS, LiveCollector

LAYOUT = {
    "us-east-1": {"alpha", "beta"},
    "eu-central-1": {"alpha", "beta"},
    "ap-northeast-1": {"alpha"},
}
# (region, provider) -> (TTFB ms of each successful probe, ok count, timeout count)
SEEDED_CELLS = {
    ("us-east-1", "alpha"): (120.0, 12, 0),
    ("us-east-1", "beta"): (2600.0, 12, 0),
    ("eu-central-1", "alpha"): (800.0, 12, 0),
    ("ap-northeast-1", "alpha"): (300.0, 10, 10),
}
SEEDED_ALERTS = [
    ("p95_ttfb", "beta", "critical", "firing", "p95 TTFB 2600 ms over 2000 ms"),
    (
        "success_rate",
        "alpha",
        "warning",
        "firing",
        "success rate 50 % in ap-northeast-1",
    ),
    ("p95_ttfb", "alpha", "info", "resolved", "p95 TTFB back under 2000 ms"),
]
PAYER = "0x1111222233334444555566667777888899990000"
# Resource errors the browser logs by design: /api/costs returns 401 until
# a token is entered.
EXPECTED_RESOURCE_ERRORS = ("/api/costs",)


def seeded_measurements(now_ms: int) -> list[Measurement]:
    measurements = []
    for (region, provider), (ttfb_ms, ok_count, timeouts) in SEEDED_CELLS.items():
        for index in range(ok_count + timeouts):
            ok = index < ok_count
            measurements.append(
                Measurement(
                    time_ms=now_ms - (index + 1) * 60_000,
                    target=f"{provider}-piece",
                    provider=provider,
                    region=region,
                    network="local",
                    outcome=Outcome.OK if ok else Outcome.TIMEOUT,
                    ttfb_ms=ttfb_ms if ok else None,
                    status_code=200 if ok else None,
                    error=None if ok else "timed out after 10 s",
                )
            )
    return measurements


def funds_snapshot(time_ms: int, epoch: int, funds: float) -> FundsSnapshot:
    # 2 USDFC a day locked, 5 free after the lockup: 2.5 days of runway.
    return FundsSnapshot(
        time_ms=time_ms,
        network="calibration",
        payer=PAYER,
        token="USDFC",
        funds=funds,
        lockup_current=1.0,
        lockup_rate=2.0 / 2880,
        lockup_last_settled_at=epoch,
        current_epoch=epoch,
        runway_days=None,
    )


async def seed(collector: LiveCollector, now_ms: int) -> None:
    store = collector.store.inner
    await store.write(seeded_measurements(now_ms))
    for minutes, (rule, subject, severity, state, message) in enumerate(SEEDED_ALERTS):
        await store.record_alert(
            AlertEvent(
                now_ms - (minutes + 1) * 60_000, rule, subject, severity, state, message
            )
        )
    ban = RoutingEntry("beta", "banned", now_ms - 300_000, "p95 TTFB over 2000 ms")
    await store.record_routing(now_ms - 300_000, ban)
    await store.record_routing(
        now_ms - 900_000, RoutingEntry("alpha", "active", now_ms - 900_000, "healthy")
    )
    for days_ago in (2, 1, 0):
        epoch = 3_000_000 - days_ago * 2880
        snapshot_ms = now_ms - days_ago * 86_400_000 - 60_000
        await store.record_funds(funds_snapshot(snapshot_ms, epoch, 6.0 + days_ago * 2))


@contextlib.contextmanager
def seeded_collector(
    db_path: Path, token: str | None = API_TOKEN
) -> Iterator[LiveCollector]:
    server = LiveCollector(db_path, LAYOUT, token=token)
    server.start()
    try:
        server.run(seed(server, int(time.time() * 1000)))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCollector]:
    """A seeded collector shared by the tests that only read."""
    with seeded_collector(tmp_path_factory.mktemp("shared") / "beamwatch.db") as server:
        yield server


@pytest.fixture
def own_collector(tmp_path: Path) -> Iterator[LiveCollector]:
    """A seeded collector for one test that writes or breaks the store."""
    with seeded_collector(tmp_path / "beamwatch.db") as server:
        yield server


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Package scope, not session: the sync Playwright API keeps an event loop
    # running in this thread until it stops, and the asyncio tests of later
    # packages need the thread free of it.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class Dashboard:
    """One browser tab on the dashboard, with the errors it logged."""

    page: Page
    collector: LiveCollector
    errors: list[str] = field(default_factory=list)

    def record_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        expected = message.text.startswith("Failed to load resource") and url.endswith(
            EXPECTED_RESOURCE_ERRORS
        )
        if not expected:
            self.errors.append(f"{message.text} ({url})")

    def open(self, collector: LiveCollector | None = None) -> None:
        """Load the dashboard, polling every second, and wait for the heatmap."""
        self.collector = collector or self.collector
        self.page.goto(
            f"{self.collector.base_url}/?poll=1", wait_until="domcontentloaded"
        )
        self.page.wait_for_selector("#heatmap-body table", timeout=10_000)

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.cspViolations"))


@pytest.fixture(scope="package")
def browser_context(browser: Browser) -> Iterator[BrowserContext]:
    # One context for all tests, because a context per test added about 0.5 s
    # each (measured on 2 busy CPUs). Each test gets its own tab, and
    # sessionStorage, the only storage the page uses, belongs to the tab.
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    yield context
    context.close()


@contextlib.contextmanager
def new_tab(context: BrowserContext, collector: LiveCollector) -> Iterator[Dashboard]:
    page = context.new_page()
    tab = Dashboard(page, collector)
    page.on("console", tab.record_console)
    page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))
    # Init scripts run outside the page's CSP, so this listener is allowed.
    page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', (event) =>"
        " window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI));"
    )
    try:
        yield tab
    finally:
        page.close()


@pytest.fixture
def dashboard(
    browser_context: BrowserContext, collector: LiveCollector
) -> Iterator[Dashboard]:
    """A fresh tab on the shared collector, not loaded yet."""
    with new_tab(browser_context, collector) as tab:
        yield tab


@pytest.fixture(scope="module")
def shared_dashboard(
    browser_context: BrowserContext, collector: LiveCollector
) -> Iterator[Dashboard]:
    """One loaded tab shared by the tests of a module that only read the page."""
    with new_tab(browser_context, collector) as tab:
        tab.open()
        yield tab
