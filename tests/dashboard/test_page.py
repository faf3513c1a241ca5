"""The page as a whole: CSP, console, header health, outages and live updates."""

from __future__ import annotations

import time

from playwright.sync_api import Route, expect

from probe.models import Measurement, Outcome
from tests.dashboard.conftest import Dashboard
from tests.dashboard.harness import LiveCollector


def new_region_probe() -> Measurement:
    return Measurement(
        time_ms=int(time.time() * 1000),
        target="alpha-piece",
        provider="alpha",
        region="sa-east-1",
        network="local",
        outcome=Outcome.OK,
        ttfb_ms=450.0,
        status_code=200,
    )


def test_page_has_no_errors_or_violations(shared_dashboard: Dashboard) -> None:
    expect(shared_dashboard.page.locator("#ticker-list li.alert")).to_have_count(3)
    expect(shared_dashboard.page.locator("#routing-body tr.route")).to_have_count(2)

    assert shared_dashboard.errors == []
    assert shared_dashboard.csp_violations() == []


def test_header_shows_health_and_region_ages(shared_dashboard: Dashboard) -> None:
    expect(shared_dashboard.page.locator("#health-pill")).to_have_text("ok")
    expect(shared_dashboard.page.locator("#health-meta")).to_contain_text(
        "store sqlite"
    )
    ages = shared_dashboard.page.locator("#region-ages .region-age")
    expect(ages).to_have_count(3)
    expect(ages.first).to_contain_text("ap-northeast-1")
    expect(shared_dashboard.page.locator("#updated-age")).to_contain_text("s ago")


def test_store_outage_shows_banner_and_stale(
    dashboard: Dashboard, own_collector: LiveCollector
) -> None:
    dashboard.open(own_collector)

    own_collector.store.down = True

    banner = dashboard.page.locator("#outage-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("store unavailable: database is locked")
    expect(dashboard.page.locator("#health-pill")).to_have_text("store down")
    expect(dashboard.page.locator("#heatmap-panel")).to_have_class(
        "panel panel-heatmap is-stale"
    )
    assert dashboard.page.locator("#heatmap-body td.cell").count() == 6

    own_collector.store.down = False

    expect(banner).to_be_hidden()
    expect(dashboard.page.locator("#heatmap-panel")).to_have_class(
        "panel panel-heatmap"
    )


def test_stopped_collector_shows_unreachable_banner(
    dashboard: Dashboard, own_collector: LiveCollector
) -> None:
    dashboard.open(own_collector)

    own_collector.stop()

    banner = dashboard.page.locator("#outage-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Collector unreachable:")
    expect(banner).to_contain_text("cannot reach the collector for /api/health")
    expect(dashboard.page.locator("#health-pill")).to_have_text("unreachable")
    assert dashboard.page.locator("#heatmap-body td.cell").count() == 6


def test_stream_points_refresh_heatmap(
    dashboard: Dashboard, own_collector: LiveCollector
) -> None:
    dashboard.open(own_collector)
    expect(dashboard.page.locator("#live-mode")).to_have_text("live stream")

    own_collector.run(own_collector.store.inner.write([new_region_probe()]))

    new_cell = dashboard.page.locator(
        '#heatmap-body td[data-region="sa-east-1"][data-provider="alpha"]'
    )
    expect(new_cell.locator(".cell-value")).to_have_text("450 ms")


def test_missing_stream_falls_back_to_polling(
    dashboard: Dashboard, own_collector: LiveCollector
) -> None:
    # The browser returns 404 for /api/stream itself, as a collector without
    # a stream would. Every other request reaches the real API.
    def reject(route: Route) -> None:
        route.fulfill(
            status=404,
            content_type="application/json",
            body='{"error": "no API endpoint at /api/stream"}',
        )

    dashboard.page.route("**/api/stream", reject)
    dashboard.open(own_collector)
    expect(dashboard.page.locator("#live-mode")).to_contain_text("polling every 1 s")

    own_collector.run(own_collector.store.inner.write([new_region_probe()]))

    new_cell = dashboard.page.locator(
        '#heatmap-body td[data-region="sa-east-1"][data-provider="alpha"]'
    )
    expect(new_cell.locator(".cell-value")).to_have_text("450 ms")
