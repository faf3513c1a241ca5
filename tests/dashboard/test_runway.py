"""The runway panel against the real /api/costs, which needs a bearer token."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard, seeded_collector
from tests.dashboard.harness import API_TOKEN


def enter_token(dashboard: Dashboard, token: str) -> None:
    dashboard.page.fill("#runway-token", token)
    dashboard.page.click("#runway-token-form button[type=submit]")


def test_runway_asks_for_token_on_401(shared_dashboard: Dashboard) -> None:
    expect(shared_dashboard.page.locator("#runway-token-form")).to_be_visible()
    expect(shared_dashboard.page.locator("#runway-body")).to_contain_text(
        "Token required: missing bearer token"
    )
    expect(shared_dashboard.page.locator("#runway-chart-box")).to_be_hidden()


def test_runway_rejects_wrong_token(dashboard: Dashboard) -> None:
    dashboard.open()

    enter_token(dashboard, "not-the-right-token-at-all")

    expect(dashboard.page.locator("#runway-body")).to_contain_text(
        "Token rejected: invalid bearer token"
    )
    expect(dashboard.page.locator("#runway-token-form")).to_be_visible()
    stored = dashboard.page.evaluate("sessionStorage.getItem('beamwatch.apiToken')")
    assert stored is None


def test_runway_shows_days_and_turns_red(dashboard: Dashboard) -> None:
    dashboard.open()

    enter_token(dashboard, API_TOKEN)

    # 5 USDFC free at 2 USDFC a day, read a minute ago: 2.5 days left.
    account = dashboard.page.locator("#runway-body .account")
    expect(account.locator(".days-value")).to_have_text("2.5")
    expect(account.locator(".days-unit")).to_have_text("days left")
    expect(dashboard.page.locator("#runway-panel")).to_have_class(
        "panel panel-runway runway-low"
    )
    assert "is-low" in (account.get_attribute("class") or "")
    expect(account).to_contain_text("2.00 USDFC / day")
    expect(dashboard.page.locator("#runway-token-form")).to_be_hidden()
    assert dashboard.errors == []
    assert dashboard.csp_violations() == []


def test_runway_charts_daily_spend(dashboard: Dashboard) -> None:
    dashboard.open()

    enter_token(dashboard, API_TOKEN)

    expect(dashboard.page.locator("#runway-chart-box")).to_be_visible()
    spend = dashboard.page.evaluate(
        "() => Chart.getChart('runway-chart').data.datasets[0].data"
    )
    # Three daily snapshots give two days of accrued spend, 2 USDFC each.
    assert [round(value, 6) for value in spend] == [2.0, 2.0]


def test_runway_token_stays_in_session_storage(dashboard: Dashboard) -> None:
    dashboard.open()

    enter_token(dashboard, API_TOKEN)
    expect(dashboard.page.locator("#runway-body .account")).to_have_count(1)

    session = dashboard.page.evaluate("sessionStorage.getItem('beamwatch.apiToken')")
    local = dashboard.page.evaluate("localStorage.length")
    assert session == API_TOKEN
    assert local == 0


def test_runway_shows_disabled_costs_error(
    dashboard: Dashboard, tmp_path: Path
) -> None:
    with seeded_collector(tmp_path / "beamwatch.db", token=None) as collector:
        dashboard.open(collector)

        error = dashboard.page.locator("#runway-panel .panel-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text(
            "no data: /api/costs is disabled because no API token is set"
        )
        expect(dashboard.page.locator("#runway-token-form")).to_be_hidden()
