// Live updates: server-sent events from /api/stream, with polling as the
// fallback whenever the stream is missing (404) or broken.

// After the server rejects the stream, try it again this often.
const STREAM_RETRY_MS = 60_000;
// Re-fetches after a `points` event start within this many milliseconds.
const REFETCH_SPREAD_MS = 500;

function parseData(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

// Opens the stream and calls `onPoints(data)`, `onAlert(alert)` and
// `onStore(data)` for its events. While the stream is down, calls `onPoll()`
// every `pollMs`. `onModeChange(mode, reason)` receives "stream" or "polling".
export function startLive({
  onPoints,
  onAlert,
  onStore,
  onPoll,
  onModeChange,
  pollMs,
}) {
  let pollTimer = null;

  function startPolling(reason) {
    if (pollTimer === null) pollTimer = setInterval(onPoll, pollMs);
    onModeChange("polling", reason);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    const source = new EventSource("/api/stream");
    source.addEventListener("open", () => {
      stopPolling();
      onModeChange("stream", "");
      // Catch up on whatever happened while the stream was down.
      onPoll();
    });
    // Every open dashboard receives the same event at once. A random delay of
    // up to 0.5 s spreads their re-fetches, so they do not queue at the API.
    source.addEventListener("points", (event) => {
      const data = parseData(event);
      setTimeout(() => onPoints(data), Math.random() * REFETCH_SPREAD_MS);
    });
    source.addEventListener("alert", (event) => {
      const alert = parseData(event);
      if (alert) onAlert(alert);
    });
    // The store went down or came back.
    source.addEventListener("store", (event) => onStore(parseData(event)));
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED) {
        // The browser reconnects by itself; poll until it has.
        startPolling("stream reconnecting");
        return;
      }
      // The server rejected the stream, e.g. 404 on a collector without one.
      source.close();
      startPolling("no live stream");
      setTimeout(connect, STREAM_RETRY_MS);
    });
  }

  if (typeof EventSource === "undefined")
    startPolling("browser has no EventSource");
  else connect();
}

// Wraps an async `task` so overlapping calls collapse: a call made while it
// runs queues exactly one more run.
export function coalesce(task) {
  let running = null;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await task();
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  };
}
