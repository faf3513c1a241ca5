// Entry point: builds the views, wires them to the live stream or polling,
// and keeps every "updated N s ago" current.

import { applyTheme } from "./charts.js";
import { refreshAges } from "./dom.js";
import { formatAge } from "./format.js";
import { createHealth } from "./health.js";
import { createHeatmap } from "./heatmap.js";
import { coalesce, startLive } from "./live.js";
import { createPulse } from "./pulse.js";
import { createRouting } from "./routing.js";
import { createRunway } from "./runway.js";
import { createTicker } from "./ticker.js";

const DEFAULT_POLL_S = 5;
const ROUTING_EVERY_MS = 30_000;
// With the stream open, views reload on events only. This reload moves their
// window forward even when no probe reports.
const STREAM_RELOAD_EVERY_MS = 30_000;
// The API caches /api/costs for 60 s by default, so asking more often shows
// nothing new.
const COSTS_EVERY_MS = 60_000;

// Reads the polling interval from `?poll=SECONDS` (1 to 60), default 5 s.
function pollIntervalMs() {
  const seconds = Number(
    new URLSearchParams(window.location.search).get("poll"),
  );
  return Number.isInteger(seconds) && seconds >= 1 && seconds <= 60
    ? seconds * 1000
    : DEFAULT_POLL_S * 1000;
}

function main() {
  applyTheme();
  const pollMs = pollIntervalMs();
  const pulse = createPulse();
  const heatmap = createHeatmap({ onLayout: pulse.setFilters });
  const runway = createRunway();
  const ticker = createTicker();
  const routing = createRouting();
  const panels = [
    heatmap.panel,
    pulse.panel,
    runway.panel,
    ticker.panel,
    routing.panel,
  ];
  const refreshData = coalesce(() =>
    Promise.all([heatmap.refresh(), pulse.refresh()]),
  );
  const refreshRouting = coalesce(routing.refresh);
  const refreshAll = coalesce(() =>
    Promise.all([refreshData(), ticker.refresh(), refreshRouting()]),
  );

  let storeDown = false;
  const health = createHealth({
    onOutage: (isDown) => {
      panels.forEach((panel) => panel.markStale(isDown));
      // Reload at once when the store comes back instead of waiting for a poll.
      if (storeDown && !isDown) refreshAll();
      storeDown = isDown;
    },
  });

  const modeLine = document.getElementById("live-mode");
  const updatedLine = document.getElementById("updated-age");
  let liveMode = "polling";
  startLive({
    pollMs,
    onPoints: refreshData,
    onAlert: (alert) => {
      ticker.prepend(alert);
      // The stream has no routing event, and routing changes come with
      // alerts, so reload the table whenever an alert arrives.
      refreshRouting();
    },
    onStore: health.refresh,
    onPoll: refreshAll,
    onModeChange: (mode, reason) => {
      liveMode = mode;
      modeLine.textContent =
        mode === "stream"
          ? "live stream"
          : `polling every ${pollMs / 1000} s (${reason})`;
      modeLine.className = `live-mode mode-${mode}`;
    },
  });

  health.refresh();
  refreshAll();
  runway.refresh();
  setInterval(health.refresh, pollMs);
  setInterval(refreshRouting, ROUTING_EVERY_MS);
  setInterval(
    () => liveMode === "stream" && refreshAll(),
    STREAM_RELOAD_EVERY_MS,
  );
  setInterval(runway.refresh, COSTS_EVERY_MS);
  setInterval(() => {
    const nowMs = Date.now();
    panels.forEach((panel) => panel.tick(nowMs));
    refreshAges(document, nowMs);
    const reloadEveryMs =
      liveMode === "stream" ? STREAM_RELOAD_EVERY_MS : pollMs;
    showUpdatedAge(updatedLine, heatmap.panel.updatedMs, reloadEveryMs, nowMs);
  }, 1000);
}

// Writes "updated N s ago" into the header, marked late once two scheduled
// reloads were missed.
function showUpdatedAge(line, updatedMs, reloadEveryMs, nowMs) {
  if (updatedMs === null) {
    line.textContent = "not updated yet";
    return;
  }
  const ageMs = nowMs - updatedMs;
  line.textContent = `updated ${formatAge(ageMs / 1000)}`;
  line.classList.toggle("is-late", ageMs > 2 * reloadEveryMs + 5000);
}

main();
