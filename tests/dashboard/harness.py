"""The real collector app on a loopback port, and chromium to look at it.

The app runs on its own event loop in a background thread, so the synchronous
Playwright API can drive the browser from the test thread.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from pydantic import SecretStr

from collector.api import create_app
from collector.settings import ApiServerSettings
from collector.store.base import StoreUnavailable
from collector.store.sqlite import SQLiteStore
from tests.support.servers import free_port

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
API_TOKEN = "dashboard-test-token-0123456789"


class SwitchableStore:
    """A real SQLiteStore with an outage switch, the one fake part of these tests.

    While `down` is set every store call raises StoreUnavailable, as a dead
    InfluxDB would; a local SQLite file cannot be made to fail on demand.
    """

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner
        self.name = inner.name
        self.down = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailable("database is locked (test outage switch)")
            return await attribute(*args, **kwargs)

        return call


class LiveCollector:
    """`collector.api.create_app` served on 127.0.0.1 from a background thread."""

    def __init__(
        self,
        db_path: Path,
        layout: dict[str, set[str]],
        *,
        token: str | None = API_TOKEN,
        stream_poll_s: float = 0.2,
    ) -> None:
        self.store = SwitchableStore(SQLiteStore(db_path))
        self.port = free_port()
        self._layout = layout
        self._settings = ApiServerSettings(
            token=None if token is None else SecretStr(token),
            stream_poll_s=stream_poll_s,
            cache_ttl_s=0.1,
            costs_cache_ttl_s=0.1,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="collector", daemon=True
        )
        self._runner: web.AppRunner | None = None
        self._stopped = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the server's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result(timeout=30)

    def start(self) -> None:
        self._thread.start()
        app = create_app(self.store, layout=self._layout, settings=self._settings)
        self._runner = web.AppRunner(app, shutdown_timeout=1)

        async def serve() -> None:
            assert self._runner is not None
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        self.run(serve())

    def stop(self) -> None:
        """Stop serving and close the store; a second call does nothing."""
        if self._stopped:
            return
        self._stopped = True

        async def shut() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            await self.store.inner.close()

        try:
            self.run(shut())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
