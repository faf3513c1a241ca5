"""The ticker and the routing table, from seeded alert and routing rows."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from collector.store.base import AlertEvent
from tests.dashboard.conftest import Dashboard
from tests.dashboard.harness import LiveCollector


def test_ticker_lists_alerts_newest_first(shared_dashboard: Dashboard) -> None:
    items = shared_dashboard.page.locator("#ticker-list li.alert")
    expect(items).to_have_count(3)
    assert items.locator(".alert-message").all_inner_texts() == [
        "p95 TTFB 2600 ms over 2000 ms",
        "success rate 50 % in ap-northeast-1",
        "p95 TTFB back under 2000 ms",
    ]
    assert items.first.get_attribute("class") == "alert severity-critical state-open"
    assert "state-resolved" in (items.nth(2).get_attribute("class") or "")


def test_ticker_prepends_streamed_alert(
    dashboard: Dashboard, own_collector: LiveCollector
) -> None:
    dashboard.open(own_collector)
    expect(dashboard.page.locator("#live-mode")).to_have_text("live stream")

    event = AlertEvent(
        int(time.time() * 1000), "p95_ttfb", "gamma", "warning", "firing", "slow"
    )
    own_collector.run(own_collector.store.inner.record_alert(event))

    first = dashboard.page.locator("#ticker-list li.alert").first
    expect(first.locator(".alert-subject")).to_have_text("gamma")
    expect(dashboard.page.locator("#ticker-list li.alert")).to_have_count(4)


def test_routing_highlights_banned_provider(shared_dashboard: Dashboard) -> None:
    banned = shared_dashboard.page.locator("#routing-body tr.is-banned")
    expect(banned).to_have_count(1)
    assert banned.get_attribute("data-provider") == "beta"
    expect(banned.locator(".route-reason")).to_have_text("p95 TTFB over 2000 ms")
    active = shared_dashboard.page.locator('#routing-body tr[data-provider="alpha"]')
    assert "is-banned" not in (active.get_attribute("class") or "")
    expect(shared_dashboard.page.locator("#routing-note")).to_have_text("1 banned of 2")
