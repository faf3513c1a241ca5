// Chart.js theme, series colours and the TTFB threshold lines. Chart.js is the
// vendored UMD build (vendor/chart.js), loaded before the modules as window.Chart.

import { TTFB_GOOD_MS, TTFB_WARN_MS } from "./format.js";

export const Chart = window.Chart;

// Distinct on a dark background, and free of the green, amber and red that
// mean good, slow and bad elsewhere. The nth region in sorted order keeps the nth colour.
const SERIES_COLOURS = [
  "#4cc9f0",
  "#f72585",
  "#b388ff",
  "#e2e8f0",
  "#4361ee",
  "#ffafcc",
  "#8ecae6",
  "#d4a373",
];

export function seriesColour(index) {
  return SERIES_COLOURS[index % SERIES_COLOURS.length];
}

export function applyTheme() {
  Chart.defaults.color = "#9fb0c2";
  Chart.defaults.borderColor = "rgba(148, 163, 184, 0.14)";
  Chart.defaults.font.family =
    "ui-monospace, 'DejaVu Sans Mono', 'Liberation Mono', monospace";
  Chart.defaults.font.size = 11;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.legend.labels.boxWidth = 14;
  Chart.defaults.plugins.legend.labels.boxHeight = 2;
}

function drawLevel(chart, valueMs, colour, label) {
  const scale = chart.scales.y;
  if (!scale || valueMs < scale.min || valueMs > scale.max) return;
  const y = scale.getPixelForValue(valueMs);
  const { left, right } = chart.chartArea;
  const context = chart.ctx;
  context.save();
  context.strokeStyle = colour;
  context.setLineDash([2, 4]);
  context.lineWidth = 1;
  context.beginPath();
  context.moveTo(left, y);
  context.lineTo(right, y);
  context.stroke();
  context.fillStyle = colour;
  context.textAlign = "right";
  context.fillText(label, right - 4, y - 4);
  context.restore();
}

// Draws the amber and red TTFB thresholds as dashed lines behind the series.
export const thresholdLines = {
  id: "beamwatchThresholds",
  beforeDatasetsDraw(chart) {
    drawLevel(
      chart,
      TTFB_GOOD_MS,
      "rgba(245, 158, 11, 0.7)",
      `${TTFB_GOOD_MS} ms`,
    );
    drawLevel(
      chart,
      TTFB_WARN_MS,
      "rgba(239, 68, 68, 0.8)",
      `${TTFB_WARN_MS} ms`,
    );
  },
};
