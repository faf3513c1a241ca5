"""The Pulse view: one p95 line per region and the window summary."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.dashboard.conftest import Dashboard

DATASET_LABELS = "() => Chart.getChart('pulse-chart').data.datasets.map((d) => d.label)"


def dataset_labels(dashboard: Dashboard) -> list[str]:
    labels: list[str] = dashboard.page.evaluate(DATASET_LABELS)
    return labels


def test_pulse_draws_dataset_per_region(shared_dashboard: Dashboard) -> None:
    shared_dashboard.page.wait_for_function(
        "() => Chart.getChart('pulse-chart').data.datasets.length > 0"
    )

    assert dataset_labels(shared_dashboard) == [
        "ap-northeast-1 p95",
        "eu-central-1 p95",
        "us-east-1 p95",
    ]


def test_pulse_plots_seeded_p95_values(shared_dashboard: Dashboard) -> None:
    shared_dashboard.page.wait_for_function(
        "() => Chart.getChart('pulse-chart').data.datasets.length === 3"
    )

    points: list[dict[str, Any]] = shared_dashboard.page.evaluate(
        "() => Chart.getChart('pulse-chart').data.datasets[1].data"
    )
    # eu-central-1 has only alpha, seeded at 800 ms once a minute.
    assert {point["y"] for point in points} == {800}
    assert len(points) == 12


def test_pulse_p50_toggle_adds_dashed_lines(dashboard: Dashboard) -> None:
    dashboard.open()
    dashboard.page.wait_for_function(
        "() => Chart.getChart('pulse-chart').data.datasets.length === 3"
    )

    dashboard.page.check("#pulse-p50")

    labels = dataset_labels(dashboard)
    assert len(labels) == 6
    assert "us-east-1 p50" in labels
    dashes = dashboard.page.evaluate(
        "() => Chart.getChart('pulse-chart').data.datasets"
        ".filter((d) => d.label.endsWith('p50')).map((d) => d.borderDash.length)"
    )
    assert all(length > 0 for length in dashes)
    assert dashboard.errors == []
    assert dashboard.csp_violations() == []


def test_pulse_region_filter_keeps_one_line(dashboard: Dashboard) -> None:
    dashboard.open()
    expect(dashboard.page.locator("#pulse-region option")).to_have_count(4)

    dashboard.page.select_option("#pulse-region", "us-east-1")

    dashboard.page.wait_for_function(
        "() => Chart.getChart('pulse-chart').data.datasets.length === 1"
    )
    assert dataset_labels(dashboard) == ["us-east-1 p95"]


def test_pulse_summary_lists_errors_by_outcome(shared_dashboard: Dashboard) -> None:
    summary = shared_dashboard.page.locator("#pulse-summary")
    expect(
        summary.locator(".outcome[data-outcome=timeout] .outcome-count")
    ).to_have_text("10")
    expect(summary).to_contain_text("56")
    expect(summary).to_contain_text("82.1 %")
    expect(summary).to_contain_text("2,600 ms")
