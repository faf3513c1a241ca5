// Heatmap view: one cell per (region, provider) from GET /api/heatmap.

import { getJson, query } from "./api.js";
import { clear, el, timeStamp } from "./dom.js";
import {
  RATE_GOOD,
  RATE_WARN,
  TTFB_GOOD_MS,
  TTFB_WARN_MS,
  formatCount,
  formatMs,
  formatRate,
  rateLevel,
  ttfbLevel,
} from "./format.js";
import { Panel, refreshPanel } from "./panel.js";

const STAT_LABELS = {
  p50: "p50 TTFB",
  p95: "p95 TTFB",
  p99: "p99 TTFB",
  success_rate: "success rate",
};

function cellLevel(cell, stat) {
  if (!cell || cell.count === 0) return "empty";
  if (stat === "success_rate") return rateLevel(cell.value);
  // Attempts but no TTFB value: every attempt failed.
  if (cell.value === null) return "bad";
  return ttfbLevel(cell.value);
}

function cellValueText(cell, stat) {
  if (!cell || cell.count === 0) return "no data";
  if (stat === "success_rate") return formatRate(cell.value);
  return cell.value === null ? "all failed" : formatMs(cell.value);
}

function renderCell(cell, region, provider, stat) {
  const level = cellLevel(cell, stat);
  const td = el("td", `cell level-${level}`);
  td.dataset.region = region;
  td.dataset.provider = provider;
  td.dataset.level = level;
  td.append(el("span", "cell-value", cellValueText(cell, stat)));

  if (level === "empty") {
    td.append(el("span", "cell-meta", "0 probes in window"));
    return td;
  }
  const probes = `${formatCount(cell.count)} probe${cell.count === 1 ? "" : "s"}`;
  td.append(
    el("span", "cell-meta", `${probes} · ${formatRate(cell.success_rate)} ok`),
  );
  if (cell.latest_ms !== null && cell.latest_ms !== undefined) {
    const latest = el("span", "cell-meta cell-latest", "last ");
    latest.append(timeStamp(cell.latest_ms));
    td.append(latest);
  }
  return td;
}

function renderTable(data) {
  const cells = new Map(
    data.cells.map((cell) => [`${cell.region}\u0000${cell.provider}`, cell]),
  );
  const table = el("table", "heatmap");
  const headRow = el("tr");
  headRow.append(el("th", "corner", "region \\ provider"));
  for (const provider of data.providers)
    headRow.append(el("th", "col-head", provider));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(headRow);

  for (const region of data.regions) {
    const row = el("tr");
    const head = el("th", "row-head", region);
    head.scope = "row";
    row.append(head);
    for (const provider of data.providers) {
      const cell = cells.get(`${region}\u0000${provider}`);
      row.append(renderCell(cell, region, provider, data.stat));
    }
    table.tBodies[0].append(row);
  }
  return table;
}

function legendText(stat) {
  if (stat === "success_rate") {
    return `green ≥ ${formatRate(RATE_GOOD)} · amber ≥ ${formatRate(RATE_WARN)} · red below · hatched: no probes`;
  }
  return `green < ${formatMs(TTFB_GOOD_MS)} · amber < ${formatMs(TTFB_WARN_MS)} · red ≥ ${formatMs(TTFB_WARN_MS)} · TTFB of successful probes · hatched: no probes`;
}

// Creates the heatmap view. `onLayout(regions, providers)` receives the grid's
// axes after every load, so other views can offer them as filters.
export function createHeatmap({ onLayout = () => {} } = {}) {
  const panel = new Panel(document.getElementById("heatmap-panel"));
  const body = document.getElementById("heatmap-body");
  const statSelect = document.getElementById("heatmap-stat");
  const windowSelect = document.getElementById("heatmap-window");
  const note = document.getElementById("heatmap-note");
  const legend = document.getElementById("heatmap-legend");

  // Only the newest request may render, so a slow response for the previous
  // stat or window cannot replace the current one.
  let latestRequest = 0;

  async function load() {
    const request = ++latestRequest;
    const params = { window: windowSelect.value, stat: statSelect.value };
    const data = await getJson(`/api/heatmap${query(params)}`);
    if (request !== latestRequest) return;
    clear(body);
    if (data.regions.length === 0 || data.providers.length === 0) {
      body.append(
        el(
          "p",
          "empty-note",
          `No probes in the last ${data.window} and no configured targets.`,
        ),
      );
    } else {
      body.append(renderTable(data));
    }
    note.textContent = `${STAT_LABELS[data.stat] ?? data.stat} over ${data.window}`;
    legend.textContent = legendText(data.stat);
    onLayout(data.regions, data.providers);
  }

  const refresh = () => refreshPanel(panel, load);
  statSelect.addEventListener("change", refresh);
  windowSelect.addEventListener("change", refresh);
  return { panel, refresh };
}
