"""Live updates for the dashboard as server-sent events, from one shared store poll.

Probes in production write to InfluxDB directly, so the collector does not
receive the writes. Instead one background task queries the store for the
newest point per region and for new alerts every `poll_s` seconds, however
many clients are connected, and fans the changes out:

    event: points   data: {"latest_ms": int, "regions": {"region": latest_ms}}
    event: alert    data: one alert event, as in /api/alerts
    event: store    data: {"status": "unavailable", "error": "..."} or {"status": "ok"}

A comment line (`: keep-alive`) goes out when nothing else was sent for
`keepalive_s` seconds, so proxies do not close an idle stream. A client too
slow to read its events is disconnected, and EventSource reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from collector.store.base import AlertEvent, Store, StoreUnavailable

log = logging.getLogger(__name__)

# Events queued for one client before it counts as too slow and is dropped.
CLIENT_QUEUE_SIZE = 64
# How far back the first poll looks for alerts, only to learn what is old.
ALERT_LOOKBACK_MS = 7 * 86_400_000
ALERT_BATCH = 100
# How long a change waits for the cache to refresh before it is announced.
HOOK_TIMEOUT_S = 5.0


def format_event(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class StreamHub:
    """One store poll for many subscribers, each a queue of encoded events.

    The poll runs only while at least one client is connected.
    """

    def __init__(
        self,
        store: Store,
        *,
        poll_s: float,
        now_ms: Callable[[], int],
        on_new_points: Callable[[], Awaitable[None]] | None = None,
        on_new_alerts: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._poll_s = poll_s
        self._now_ms = now_ms
        self._on_new_points = on_new_points
        self._on_new_alerts = on_new_alerts
        self._clients: set[asyncio.Queue[bytes | None]] = set()
        self._latest: dict[str, int] | None = None
        self._last_alert_ms: int | None = None
        self._seen_alerts: set[tuple[Any, ...]] = set()
        # The `store` event sent when the store went down; None while it is up.
        self._outage: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self.polls = 0

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stream-poll")

    async def stop(self) -> None:
        """Cancel the poll and end every open stream."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for queue in list(self._clients):
            self._close(queue)

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(CLIENT_QUEUE_SIZE)
        self._clients.add(queue)
        # During an outage the last points are stale, so send the outage alone;
        # the dashboard catches up when `store: ok` follows.
        if self._outage is not None:
            queue.put_nowait(self._outage)
        elif self._latest is not None:
            queue.put_nowait(self._points_event(self._latest))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._clients.discard(queue)

    async def _run(self) -> None:
        while True:
            if self._clients:
                try:
                    await self.poll_once()
                except Exception:
                    # A bug here must not end live updates for every client.
                    log.exception("stream poll failed")
            else:
                # No store queries without listeners. The next poll starts from
                # scratch, so alerts raised while idle are not replayed as new.
                self._latest = None
                self._last_alert_ms = None
                self._outage = None
            await asyncio.sleep(self._poll_s)

    async def poll_once(self) -> None:
        """Query the store once and publish what changed since the last poll."""
        self.polls += 1
        try:
            latest = await self._store.latest_by_region()
            alerts = await self._new_alerts()
        except StoreUnavailable as exc:
            if self._outage is None:
                log.warning("stream poll: store unavailable: %s", exc)
                self._outage = format_event(
                    "store", {"status": "unavailable", "error": str(exc)}
                )
                self._publish(self._outage)
            return
        if self._outage is not None:
            log.info("stream poll: store available again")
            self._outage = None
            self._publish(format_event("store", {"status": "ok"}))

        if latest != self._latest:
            if self._latest is not None:
                await self._run_hook(self._on_new_points)
            self._latest = latest
            # Also on the first poll, for clients that connected before it.
            self._publish(self._points_event(latest))
        if alerts:
            await self._run_hook(self._on_new_alerts)
        for event in alerts:
            self._publish(format_event("alert", asdict(event)))

    async def _run_hook(self, hook: Callable[[], Awaitable[None]] | None) -> None:
        """Run a change hook (a cache refresh) before clients hear of the change."""
        if hook is None:
            return
        try:
            async with asyncio.timeout(HOOK_TIMEOUT_S):
                await hook()
        except TimeoutError:
            log.warning("stream poll: cache refresh took over %s s", HOOK_TIMEOUT_S)

    async def _new_alerts(self) -> list[AlertEvent]:
        """Return alerts not seen by earlier polls, oldest first.

        NOTE: an alert stamped earlier than the newest one already seen (a
        replica with a lagging clock) is not sent, and of more than
        ALERT_BATCH new alerts in one poll only the newest ALERT_BATCH are.
        /api/alerts still lists them.
        """
        first_poll = self._last_alert_ms is None
        since_ms = self._last_alert_ms
        if since_ms is None:
            since_ms = self._now_ms() - ALERT_LOOKBACK_MS
        events = await self._store.alerts(since_ms, ALERT_BATCH)
        fresh = []
        for event in reversed(events):
            identity = tuple(asdict(event).values())
            if identity in self._seen_alerts:
                continue
            fresh.append(event)
        if events:
            newest_ms = events[0].time_ms
            if newest_ms != self._last_alert_ms:
                self._seen_alerts.clear()
            self._last_alert_ms = newest_ms
            self._seen_alerts.update(
                tuple(asdict(e).values()) for e in events if e.time_ms == newest_ms
            )
        elif first_poll:
            self._last_alert_ms = since_ms
        return [] if first_poll else fresh

    def _points_event(self, latest: dict[str, int]) -> bytes:
        newest = max(latest.values(), default=None)
        return format_event("points", {"latest_ms": newest, "regions": latest})

    def _publish(self, message: bytes) -> None:
        for queue in list(self._clients):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("dropping a live stream client that is too slow")
                self._close(queue)

    def _close(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._clients.discard(queue)
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                queue.get_nowait()
        queue.put_nowait(None)


async def serve_stream(
    request: web.Request, hub: StreamHub, keepalive_s: float
) -> web.StreamResponse:
    """Hold one event stream open until the client leaves or the app stops."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = hub.subscribe()
    try:
        await response.write(b"retry: 3000\n\n")
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), keepalive_s)
            except TimeoutError:
                message = b": keep-alive\n\n"
            if message is None:
                break
            await response.write(message)
    except ConnectionResetError:
        log.debug("live stream client disconnected")
    finally:
        hub.unsubscribe(queue)
    return response
