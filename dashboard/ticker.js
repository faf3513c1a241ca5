// Ticker view: alert events newest first from GET /api/alerts, with events
// from the live stream prepended as they arrive.

import { getJson } from "./api.js";
import { clear, el, timeStamp } from "./dom.js";
import { Panel, refreshPanel } from "./panel.js";

const LIMIT = 50;
const SEVERITIES = new Set(["critical", "warning", "info"]);

function alertKey(alert) {
  return [alert.time_ms, alert.rule, alert.subject, alert.state].join("\u0000");
}

function renderAlert(alert) {
  const severity = SEVERITIES.has(alert.severity) ? alert.severity : "other";
  const item = el(
    "li",
    `alert severity-${severity} state-${alert.state === "resolved" ? "resolved" : "open"}`,
  );
  item.dataset.key = alertKey(alert);
  item.dataset.severity = alert.severity;

  const head = el("div", "alert-head");
  head.append(
    el("span", "badge", alert.severity),
    el("span", "alert-state", alert.state),
    el("span", "alert-subject", alert.subject),
    el("span", "alert-rule", alert.rule),
  );
  item.append(
    head,
    el("p", "alert-message", alert.message),
    timeStamp(alert.time_ms),
  );
  return item;
}

export function createTicker() {
  const panel = new Panel(document.getElementById("ticker-panel"));
  const list = document.getElementById("ticker-list");
  const note = document.getElementById("ticker-note");

  function showEmpty() {
    if (list.children.length === 0)
      list.append(el("li", "empty-note", "No alerts in the last 7 days."));
  }

  async function load() {
    const data = await getJson(`/api/alerts?limit=${LIMIT}`);
    clear(list);
    for (const alert of data.alerts) list.append(renderAlert(alert));
    showEmpty();
    note.textContent = `newest first · last ${LIMIT}`;
  }

  // Adds one alert from the live stream at the top, unless it is already listed.
  function prepend(alert) {
    const key = alertKey(alert);
    if ([...list.children].some((item) => item.dataset.key === key)) return;
    list.querySelector(".empty-note")?.remove();
    list.prepend(renderAlert(alert));
    while (list.children.length > LIMIT) list.lastElementChild.remove();
  }

  return { panel, refresh: () => refreshPanel(panel, load), prepend };
}
