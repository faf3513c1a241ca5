// The state every view panel shares: its last good update, its error line and
// whether what it shows is stale.

import { formatAge } from "./format.js";

export class Panel {
  constructor(section) {
    this.section = section;
    this.errorLine = section.querySelector(".panel-error");
    this.ageLine = section.querySelector(".panel-age");
    this.updatedMs = null;
    this.hasData = false;
  }

  // Records a successful refresh: clears the error and the stale mark.
  succeed() {
    this.updatedMs = Date.now();
    this.hasData = true;
    this.errorLine.hidden = true;
    this.errorLine.textContent = "";
    this.section.classList.remove("is-stale", "is-failed");
    this.tick();
  }

  // Shows `message` in the panel. Data already on screen stays, marked stale.
  // A panel that never loaded shows "no data:" and the message instead of an empty chart.
  fail(message) {
    const prefix = this.hasData ? "showing older data: " : "no data: ";
    this.errorLine.textContent = prefix + message;
    this.errorLine.hidden = false;
    this.section.classList.toggle("is-stale", this.hasData);
    this.section.classList.toggle("is-failed", !this.hasData);
    this.tick();
  }

  // Marks the data stale without an error of its own (the store is down).
  // A panel whose own last refresh failed stays stale until one succeeds.
  markStale(isStale) {
    const ownError = !this.errorLine.hidden;
    this.section.classList.toggle(
      "is-stale",
      this.hasData && (isStale || ownError),
    );
  }

  tick(nowMs = Date.now()) {
    if (!this.ageLine) return;
    this.ageLine.textContent =
      this.updatedMs === null
        ? "not updated yet"
        : `updated ${formatAge((nowMs - this.updatedMs) / 1000)}`;
  }
}

// Runs `load` and reports its outcome to `panel`; returns whether it succeeded.
export async function refreshPanel(panel, load) {
  try {
    await load();
    panel.succeed();
    return true;
  } catch (error) {
    panel.fail(error instanceof Error ? error.message : String(error));
    return false;
  }
}
