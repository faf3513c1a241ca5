// Routing table view: the current state of every provider from GET /api/routing.

import { getJson } from "./api.js";
import { clear, el, timeStamp } from "./dom.js";
import { Panel, refreshPanel } from "./panel.js";

function renderRoute(route) {
  const banned = route.state === "banned";
  const row = el("tr", banned ? "route is-banned" : "route");
  row.dataset.provider = route.provider;
  row.dataset.state = route.state;
  const since = el("td");
  since.append(timeStamp(route.since_ms, { withDate: true }));
  row.append(
    el("td", "route-provider", route.provider),
    el("td", "route-state", route.state),
    since,
    el("td", "route-reason", route.reason),
  );
  return row;
}

function renderTable(routes) {
  const table = el("table", "routing");
  const head = el("tr");
  for (const title of ["provider", "state", "since", "reason"])
    head.append(el("th", "", title));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  for (const route of routes) table.tBodies[0].append(renderRoute(route));
  return table;
}

export function createRouting() {
  const panel = new Panel(document.getElementById("routing-panel"));
  const body = document.getElementById("routing-body");
  const note = document.getElementById("routing-note");

  async function load() {
    const data = await getJson("/api/routing");
    clear(body);
    const banned = data.routes.filter(
      (route) => route.state === "banned",
    ).length;
    note.textContent = `${banned} banned of ${data.routes.length}`;
    if (data.routes.length === 0) {
      body.append(
        el(
          "p",
          "empty-note",
          "No routing changes yet: every provider is in rotation.",
        ),
      );
      return;
    }
    body.append(renderTable(data.routes));
  }

  return { panel, refresh: () => refreshPanel(panel, load) };
}
