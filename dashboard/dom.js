// DOM helpers. Data goes in through textContent only, so no API value is parsed as HTML.

import { ageSince, formatAge, formatClock, formatDateTime } from "./format.js";

// Creates an element with an optional class list and text.
export function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null && text !== undefined) node.textContent = String(text);
  return node;
}

export function clear(node) {
  node.replaceChildren();
}

// Creates "15:42:10 · 12 s ago" for a Unix time in milliseconds. The age part
// carries data-time-ms so refreshAges() can keep it current.
export function timeStamp(timeMs, { withDate = false } = {}) {
  const wrapper = el("span", "stamp");
  const clock = el(
    "time",
    "clock",
    withDate ? formatDateTime(timeMs) : formatClock(timeMs),
  );
  if (Number.isFinite(timeMs)) {
    clock.dateTime = new Date(timeMs).toISOString();
    wrapper.title = new Date(timeMs).toString();
  }
  const age = el("span", "age", formatAge(ageSince(timeMs)));
  age.dataset.timeMs = String(timeMs);
  wrapper.append(clock, el("span", "sep", " · "), age);
  return wrapper;
}

// Rewrites every relative age under `root` from its data-time-ms.
export function refreshAges(root = document, nowMs = Date.now()) {
  for (const node of root.querySelectorAll(".age[data-time-ms]")) {
    const timeMs = Number(node.dataset.timeMs);
    node.textContent = formatAge(
      ageSince(Number.isFinite(timeMs) ? timeMs : null, nowMs),
    );
  }
}

// Fills a <select> with `values`, keeping the current choice when it still
// exists. An unchanged list is left alone, so an open dropdown stays open.
export function fillSelect(select, values, allLabel = "all") {
  const existing = [...select.options].slice(1).map((option) => option.value);
  if (
    existing.length === values.length &&
    existing.every((value, i) => value === values[i])
  )
    return;
  const current = select.value;
  const options = [el("option", "", allLabel)];
  options[0].value = "";
  for (const value of values) {
    const option = el("option", "", value);
    option.value = value;
    options.push(option);
  }
  select.replaceChildren(...options);
  select.value = values.includes(current) ? current : "";
}
