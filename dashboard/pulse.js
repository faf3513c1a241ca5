// Pulse view: p95 (and optionally p50) TTFB per region over time from
// GET /api/metrics, with the window summary and failed attempts by outcome.

import { getJson, query } from "./api.js";
import { Chart, seriesColour, thresholdLines } from "./charts.js";
import { clear, el, fillSelect } from "./dom.js";
import {
  formatClock,
  formatCount,
  formatDay,
  formatDayHour,
  formatDuration,
  formatMs,
  formatRate,
  formatShortClock,
  rateLevel,
  ttfbLevel,
} from "./format.js";
import { Panel, refreshPanel } from "./panel.js";

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
const TICK_STEPS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];

// Picks a round tick step, in minutes of wall time, giving at most 8 ticks.
function tickStepMs(spanMs) {
  const step = TICK_STEPS_MIN.find(
    (minutes) => spanMs / (minutes * MINUTE_MS) <= 8,
  );
  return (step ?? 1440) * MINUTE_MS;
}

// Places ticks on round local times (10:00, 10:10, ...) rather than at
// multiples of the step counted from the window start.
function alignedTicks(minMs, maxMs, stepMs) {
  const offsetMs = -new Date(minMs).getTimezoneOffset() * MINUTE_MS;
  const ticks = [];
  let value = Math.ceil((minMs + offsetMs) / stepMs) * stepMs - offsetMs;
  for (; value <= maxMs; value += stepMs) ticks.push({ value });
  return ticks;
}

// Draws a dot only for a point with no drawn neighbour, which a line alone
// would leave invisible (a single bucket, or one between gaps).
function isolatedPointRadius(context) {
  const points = context.dataset.data;
  const index = context.dataIndex;
  const present = (i) => i >= 0 && i < points.length && points[i].y !== null;
  return present(index - 1) || present(index + 1) ? 0 : 3;
}

function tickFormatter(spanMs, stepMs) {
  if (stepMs >= DAY_MS) return formatDay;
  return spanMs > DAY_MS ? formatDayHour : formatShortClock;
}

function buildDatasets(series, showP50, colourFor) {
  const datasets = [];
  series.forEach((entry, index) => {
    const colour = colourFor(entry.region, index);
    datasets.push({
      label: `${entry.region} p95`,
      data: entry.points.map((point) => ({
        x: point.time_ms,
        y: point.p95_ms,
        count: point.count,
      })),
      borderColor: colour,
      backgroundColor: colour,
      borderWidth: 2,
      pointRadius: isolatedPointRadius,
      pointHitRadius: 6,
      spanGaps: false,
    });
    if (showP50) {
      datasets.push({
        label: `${entry.region} p50`,
        data: entry.points.map((point) => ({
          x: point.time_ms,
          y: point.p50_ms,
          count: point.count,
        })),
        borderColor: colour,
        backgroundColor: colour,
        borderDash: [5, 4],
        borderWidth: 1,
        pointRadius: isolatedPointRadius,
        pointHitRadius: 6,
        spanGaps: false,
      });
    }
  });
  return datasets;
}

function createChart(canvas) {
  return new Chart(canvas, {
    type: "line",
    data: { datasets: [] },
    plugins: [thresholdLines],
    options: {
      parsing: false,
      normalized: true,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: { type: "linear", ticks: { maxRotation: 0 } },
        y: {
          beginAtZero: true,
          title: { display: true, text: "TTFB (ms)" },
          ticks: { callback: (value) => `${value} ms` },
        },
      },
      plugins: {
        legend: { position: "top", align: "start" },
        tooltip: {
          callbacks: {
            title: (items) =>
              items.length ? formatClock(items[0].parsed.x) : "",
            label: (item) =>
              `${item.dataset.label}: ${formatMs(item.parsed.y)} (${formatCount(item.raw.count)} probes)`,
          },
        },
      },
    },
  });
}

function summaryRow(label, text, level = "") {
  const row = el("div", "summary-row");
  row.append(
    el("dt", "", label),
    el("dd", level ? `level-text-${level}` : "", text),
  );
  return row;
}

function renderSummary(container, summary, window) {
  clear(container);
  const list = el("dl", "summary-list");
  list.append(
    summaryRow("probes", formatCount(summary.count)),
    summaryRow(
      "success",
      formatRate(summary.success_rate),
      rateLevel(summary.success_rate),
    ),
    summaryRow("p50", formatMs(summary.p50_ms), ttfbLevel(summary.p50_ms)),
    summaryRow("p95", formatMs(summary.p95_ms), ttfbLevel(summary.p95_ms)),
    summaryRow("p99", formatMs(summary.p99_ms), ttfbLevel(summary.p99_ms)),
  );
  container.append(el("h3", "", `last ${window}`), list);

  const failures = Object.entries(summary.by_outcome || {})
    .filter(([outcome]) => outcome !== "ok")
    .sort((a, b) => b[1] - a[1]);
  container.append(el("h3", "", "errors by outcome"));
  if (failures.length === 0) {
    container.append(
      el("p", "meta", summary.count ? "no failed probes" : "no probes"),
    );
    return;
  }
  const errors = el("ul", "outcomes");
  for (const [outcome, count] of failures) {
    const item = el("li", "outcome");
    item.dataset.outcome = outcome;
    item.append(
      el("span", "outcome-name", outcome),
      el("span", "outcome-count", formatCount(count)),
    );
    errors.append(item);
  }
  container.append(errors);
}

// Creates the Pulse view; `setFilters(regions, providers)` refreshes the filter choices.
export function createPulse() {
  const panel = new Panel(document.getElementById("pulse-panel"));
  const canvas = document.getElementById("pulse-chart");
  const summary = document.getElementById("pulse-summary");
  const note = document.getElementById("pulse-note");
  const regionSelect = document.getElementById("pulse-region");
  const providerSelect = document.getElementById("pulse-provider");
  const windowSelect = document.getElementById("pulse-window");
  const p50Toggle = document.getElementById("pulse-p50");
  const chart = createChart(canvas);
  let lastData = null;
  // A region keeps its colour when a filter hides the others.
  let knownRegions = [];
  const colourFor = (region, index) => {
    const known = knownRegions.indexOf(region);
    return seriesColour(known >= 0 ? known : index);
  };

  function draw() {
    const spanMs = lastData.until_ms - lastData.since_ms;
    const ticks = chart.options.scales.x.ticks;
    chart.data.datasets = buildDatasets(
      lastData.series,
      p50Toggle.checked,
      colourFor,
    );
    chart.options.scales.x.min = lastData.since_ms;
    chart.options.scales.x.max = lastData.until_ms;
    const stepMs = tickStepMs(spanMs);
    chart.options.scales.x.afterBuildTicks = (scale) => {
      scale.ticks = alignedTicks(scale.min, scale.max, stepMs);
    };
    ticks.callback = tickFormatter(spanMs, stepMs);
    chart.update();
  }

  // Only the newest request may render, as in the heatmap.
  let latestRequest = 0;

  async function load() {
    const request = ++latestRequest;
    const params = {
      window: windowSelect.value,
      region: regionSelect.value,
      provider: providerSelect.value,
    };
    const data = await getJson(`/api/metrics${query(params)}`);
    if (request !== latestRequest) return;
    lastData = data;
    draw();
    const bucket = formatDuration(lastData.bucket_ms);
    const empty =
      lastData.series.length === 0 ? " · no successful probes in window" : "";
    note.textContent = `TTFB per ${bucket} bucket over ${lastData.window}${empty}`;
    renderSummary(summary, lastData.summary, lastData.window);
  }

  const refresh = () => refreshPanel(panel, load);
  for (const select of [regionSelect, providerSelect, windowSelect])
    select.addEventListener("change", refresh);
  p50Toggle.addEventListener("change", () => lastData && draw());

  function setFilters(regions, providers) {
    knownRegions = [...regions];
    fillSelect(regionSelect, regions);
    fillSelect(providerSelect, providers);
  }
  return { panel, refresh, setFilters, chart };
}
