// Number, time and threshold formatting shared by every view.

// TTFB thresholds in milliseconds: below GOOD is green, below WARN is amber.
export const TTFB_GOOD_MS = 500;
export const TTFB_WARN_MS = 2000;
// Success-rate thresholds as fractions: at or above GOOD is green, at or above WARN amber.
export const RATE_GOOD = 0.95;
export const RATE_WARN = 0.9;

const integerFormat = new Intl.NumberFormat(undefined, {
  maximumFractionDigits: 0,
});
const decimalFormat = new Intl.NumberFormat(undefined, {
  maximumFractionDigits: 1,
});
const clockFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});
const shortClockFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});
const dayFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
});
const dayHourFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

export function formatMs(ms) {
  if (!isNumber(ms)) return "–";
  return `${ms < 10 ? decimalFormat.format(ms) : integerFormat.format(ms)} ms`;
}

export function formatRate(rate) {
  if (!isNumber(rate)) return "–";
  return `${decimalFormat.format(rate * 100)} %`;
}

export function formatCount(count) {
  return isNumber(count) ? integerFormat.format(count) : "–";
}

// Formats a token amount given as a number or a decimal string.
export function formatAmount(amount, unit = "") {
  const value = typeof amount === "string" ? Number.parseFloat(amount) : amount;
  if (!isNumber(value)) return "–";
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : 4;
  const text = new Intl.NumberFormat(undefined, {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  }).format(value);
  return unit ? `${text} ${unit}` : text;
}

export function formatClock(timeMs) {
  return isNumber(timeMs) ? clockFormat.format(new Date(timeMs)) : "–";
}

export function formatShortClock(timeMs) {
  return isNumber(timeMs) ? shortClockFormat.format(new Date(timeMs)) : "–";
}

export function formatDay(timeMs) {
  return isNumber(timeMs) ? dayFormat.format(new Date(timeMs)) : "–";
}

export function formatDayHour(timeMs) {
  return isNumber(timeMs) ? dayHourFormat.format(new Date(timeMs)) : "–";
}

export function formatDateTime(timeMs) {
  return isNumber(timeMs) ? dateTimeFormat.format(new Date(timeMs)) : "–";
}

// Formats an age in seconds as "12 s ago", "4 min ago", "3 h ago" or "2 d ago".
export function formatAge(ageSeconds) {
  if (!isNumber(ageSeconds)) return "never";
  const seconds = Math.max(0, Math.round(ageSeconds));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

// Formats a duration such as a bucket width: "30 s", "5 min", "6 h", "1 d".
export function formatDuration(durationMs) {
  if (!isNumber(durationMs)) return "–";
  const seconds = durationMs / 1000;
  if (seconds < 60) return `${decimalFormat.format(seconds)} s`;
  if (seconds < 3600) return `${decimalFormat.format(seconds / 60)} min`;
  if (seconds < 86400) return `${decimalFormat.format(seconds / 3600)} h`;
  return `${decimalFormat.format(seconds / 86400)} d`;
}

export function ageSince(timeMs, nowMs = Date.now()) {
  return isNumber(timeMs) ? (nowMs - timeMs) / 1000 : null;
}

// Returns "good", "warn" or "bad" for a TTFB in milliseconds, "none" without one.
export function ttfbLevel(ms) {
  if (!isNumber(ms)) return "none";
  if (ms < TTFB_GOOD_MS) return "good";
  return ms < TTFB_WARN_MS ? "warn" : "bad";
}

// Returns "good", "warn" or "bad" for a success rate between 0 and 1.
export function rateLevel(rate) {
  if (!isNumber(rate)) return "none";
  if (rate >= RATE_GOOD) return "good";
  return rate >= RATE_WARN ? "warn" : "bad";
}

// Shortens a long hex address to its first 6 and last 4 characters.
export function shortAddress(address) {
  if (typeof address !== "string" || address.length <= 14)
    return String(address ?? "–");
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}
