"""The heatmap view against the real collector API and seeded SQLite data."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from probe.models import Measurement, Outcome
from tests.dashboard.conftest import SEEDED_CELLS, Dashboard
from tests.dashboard.harness import LiveCollector


def cell(dashboard: Dashboard, region: str, provider: str):  # type: ignore[no-untyped-def]
    selector = f'#heatmap-body td[data-region="{region}"][data-provider="{provider}"]'
    return dashboard.page.locator(selector)


def test_heatmap_shows_cell_per_pair(shared_dashboard: Dashboard) -> None:
    regions = shared_dashboard.page.locator("#heatmap-body tbody th").all_inner_texts()
    providers = shared_dashboard.page.locator(
        "#heatmap-body thead .col-head"
    ).all_inner_texts()
    assert regions == ["ap-northeast-1", "eu-central-1", "us-east-1"]
    assert providers == ["alpha", "beta"]
    assert shared_dashboard.page.locator("#heatmap-body td.cell").count() == 6


def test_heatmap_shows_seeded_p95_values(shared_dashboard: Dashboard) -> None:
    expected = {
        ("us-east-1", "alpha"): ("120 ms", "good"),
        ("us-east-1", "beta"): ("2,600 ms", "bad"),
        ("eu-central-1", "alpha"): ("800 ms", "warn"),
        ("ap-northeast-1", "alpha"): ("300 ms", "good"),
    }
    assert set(expected) == set(SEEDED_CELLS)
    for (region, provider), (value, level) in expected.items():
        target = cell(shared_dashboard, region, provider)
        expect(target.locator(".cell-value")).to_have_text(value)
        assert target.get_attribute("data-level") == level


def test_heatmap_cell_shows_count_and_success(shared_dashboard: Dashboard) -> None:
    meta = cell(shared_dashboard, "ap-northeast-1", "alpha").locator(".cell-meta").first
    expect(meta).to_have_text("20 probes · 50 % ok")
    latest = cell(shared_dashboard, "ap-northeast-1", "alpha").locator(".cell-latest")
    expect(latest).to_contain_text("ago")


def test_heatmap_empty_configured_cell(shared_dashboard: Dashboard) -> None:
    empty = cell(shared_dashboard, "eu-central-1", "beta")
    expect(empty.locator(".cell-value")).to_have_text("no data")
    assert empty.get_attribute("data-level") == "empty"
    assert "0 ms" not in empty.inner_text()


def test_heatmap_switches_to_success_rate(dashboard: Dashboard) -> None:
    dashboard.open()

    dashboard.page.select_option("#heatmap-stat", "success_rate")

    failing = cell(dashboard, "ap-northeast-1", "alpha")
    expect(failing.locator(".cell-value")).to_have_text("50 %")
    assert failing.get_attribute("data-level") == "bad"
    expect(cell(dashboard, "us-east-1", "beta").locator(".cell-value")).to_have_text(
        "100 %"
    )
    expect(dashboard.page.locator("#heatmap-note")).to_have_text("success rate over 1h")


def test_heatmap_window_selector_refetches(dashboard: Dashboard) -> None:
    dashboard.open()

    # ap-northeast-1 probes were 1 to 20 minutes old when seeded, the timeouts
    # 11 to 20. 15 minutes contain the 10 successes and the 4 newest timeouts,
    # or 3 once the session has run for a minute.
    dashboard.page.select_option("#heatmap-window", "15m")

    expect(dashboard.page.locator("#heatmap-note")).to_have_text("p95 TTFB over 15m")
    meta = cell(dashboard, "ap-northeast-1", "alpha").locator(".cell-meta").first
    expect(meta).to_have_text(re.compile(r"^(14 probes · 71.4|13 probes · 76.9) % ok$"))


def test_heatmap_shows_api_error_text(dashboard: Dashboard) -> None:
    dashboard.open()

    # A window the API rejects, to see its 400 message reach the panel.
    dashboard.page.evaluate(
        "() => { const select = document.getElementById('heatmap-window');"
        " select.add(new Option('bad', '90x')); select.value = '90x';"
        " select.dispatchEvent(new Event('change')); }"
    )

    error = dashboard.page.locator("#heatmap-panel .panel-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("invalid query parameter 'window'")
    expect(dashboard.page.locator("#heatmap-panel")).to_have_class(
        "panel panel-heatmap is-stale"
    )
    assert dashboard.page.locator("#heatmap-body td.cell").count() == 6


def test_heatmap_marks_all_failed_cell(
    dashboard: Dashboard, own_collector: LiveCollector
) -> None:
    dashboard.open(own_collector)
    now_ms = int(time.time() * 1000)
    timeouts = [
        Measurement(
            time_ms=now_ms - index * 1000,
            target="gamma-piece",
            provider="gamma",
            region="sa-east-1",
            network="local",
            outcome=Outcome.TIMEOUT,
            error="timed out after 10 s",
        )
        for index in range(3)
    ]

    own_collector.run(own_collector.store.inner.write(timeouts))

    failed = cell(dashboard, "sa-east-1", "gamma")
    expect(failed.locator(".cell-value")).to_have_text("all failed")
    assert failed.get_attribute("data-level") == "bad"
    expect(failed.locator(".cell-meta").first).to_have_text("3 probes · 0 % ok")
