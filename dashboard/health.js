// Header view: collector health from GET /api/health, the age of the newest
// point per region, and the outage banner when the store is down.

import { getJson } from "./api.js";
import { clear, el } from "./dom.js";
import { formatAge, formatClock } from "./format.js";

// A region whose newest point is older than this is shown amber. Probes run
// every 60 s by default, so this allows a few missed rounds.
const REGION_STALE_S = 300;

function renderRegionAges(list, agesS) {
  clear(list);
  const nowMs = Date.now();
  for (const [region, ageS] of Object.entries(agesS || {})) {
    const item = el(
      "li",
      ageS > REGION_STALE_S ? "region-age is-late" : "region-age",
    );
    item.dataset.region = region;
    const age = el("span", "age", formatAge(ageS));
    age.dataset.timeMs = String(nowMs - ageS * 1000);
    item.append(el("span", "region-name", region), age);
    item.title = `newest point from ${region} at ${formatClock(nowMs - ageS * 1000)}`;
    list.append(item);
  }
  if (list.children.length === 0)
    list.append(el("li", "region-age is-late", "no points stored yet"));
}

// Creates the header view. `onOutage(isDown)` is called on every check, so
// panels can mark their data stale while the store is down.
export function createHealth({ onOutage = () => {} } = {}) {
  const pill = document.getElementById("health-pill");
  const meta = document.getElementById("health-meta");
  const regions = document.getElementById("region-ages");
  const banner = document.getElementById("outage-banner");
  const bannerTitle = document.getElementById("outage-title");
  const bannerText = document.getElementById("outage-text");
  let lastGoodMs = null;

  function setPill(text, level) {
    pill.textContent = text;
    pill.className = `pill pill-${level}`;
  }

  // Shows the banner for a failed health check. Status 503 means the store is
  // down, 0 that the collector could not be reached, anything else a collector error.
  function showOutage(status, message) {
    const [pillText, title] =
      status === 503
        ? ["store down", "Store down:"]
        : status === 0
          ? ["unreachable", "Collector unreachable:"]
          : [`error ${status}`, "Collector error:"];
    setPill(pillText, "bad");
    bannerTitle.textContent = title;
    regions.classList.add("is-stale");
    const since =
      lastGoodMs === null
        ? "No data loaded yet."
        : `Panels keep the data from ${formatClock(lastGoodMs)} and are marked stale.`;
    bannerText.textContent = `${message} ${since}`;
    banner.hidden = false;
    onOutage(true);
  }

  async function refresh() {
    let data;
    try {
      data = await getJson("/api/health");
    } catch (error) {
      showOutage(error.status ?? 0, error.message);
      return false;
    }
    lastGoodMs = Date.now();
    banner.hidden = true;
    regions.classList.remove("is-stale");
    setPill(data.status, data.status === "ok" ? "good" : "warn");
    meta.textContent = `v${data.version} · store ${data.store}`;
    renderRegionAges(regions, data.last_point_age_s);
    onOutage(false);
    return true;
  }

  return { refresh };
}
