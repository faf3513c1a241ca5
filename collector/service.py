"""`beamwatch run`: the probe runner, the store and the API in one process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from collector.api import create_app
from collector.config import Config, InfluxStoreSettings, SQLiteStoreSettings
from collector.demo import create_demo_app
from collector.retaining_sink import RetainingSink
from collector.settings import load_api_settings
from collector.store.base import Store, StoreUnavailable
from collector.store.influx import open_influx_sink, open_influx_store
from collector.store.sqlite import SQLiteStore
from probe.runner import MeasurementSink, Runner
from probe.sinks import BatchingSink
from probe.spool import SpoolFileError

log = logging.getLogger(__name__)


def open_store(config: Config) -> Store:
    """Build the configured store backend."""
    settings = config.store
    if isinstance(settings, SQLiteStoreSettings):
        return SQLiteStore(settings.path)
    return open_influx_store(settings)


def layout_of(config: Config) -> dict[str, set[str]]:
    layout: dict[str, set[str]] = {}
    for target in config.targets:
        layout.setdefault(target.region, set()).add(target.provider)
    return layout


class ServiceStartError(Exception):
    """A listening socket could not be opened; the message names the setting."""


async def start_site(
    app: web.Application, host: str, port: int, *, setting: str
) -> web.AppRunner:
    """Serve `app` on host:port; `setting` names the config key to change on error."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        raise ServiceStartError(
            f"cannot listen on {host}:{port}: {reason}. Is another beamwatch"
            f" running? Stop it, or choose another port with {setting}."
        ) from None
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """Return the port a site listens on, which matters when port 0 was asked."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the web runner has no listening socket")


async def run_service(
    config: Config,
    stop: asyncio.Event,
    *,
    announce: Callable[[str], None] = print,
) -> None:
    """Run until `stop` is set, then finish the current round and shut down."""
    api_settings = load_api_settings(config.api, config.store)
    config = config.model_copy(update={"store": api_settings.store})
    store = open_store(config)
    influx_sink: BatchingSink | None = None
    store_sink: RetainingSink | None = None
    web_runners: list[web.AppRunner] = []
    try:
        try:
            await store.ping()
        except StoreUnavailable as exc:
            if isinstance(config.store, SQLiteStoreSettings):
                # A local file that cannot be opened would lose every point.
                raise ServiceStartError(f"cannot open the store: {exc}") from None
            # InfluxDB may come back, because points wait in the sink's retries
            # and spool, and the API returns 503 until then.
            log.warning("store not reachable at start: %s", exc)

        if config.demo.enabled:
            demo = await start_site(
                create_demo_app(),
                config.demo.host,
                config.demo.port,
                setting="[demo] port",
            )
            web_runners.append(demo)
            log.info(
                "demo origin listening on %s:%d", config.demo.host, bound_port(demo)
            )

        app = create_app(store, layout=layout_of(config), settings=api_settings)
        api = await start_site(
            app,
            api_settings.host,
            api_settings.port,
            setting="[api] port or BEAMWATCH_API_PORT",
        )
        web_runners.append(api)
        host = api_settings.host
        if ":" in host:
            host = f"[{host}]"
        announce(f"dashboard: http://{host}:{bound_port(api)}/")
        log.info("probing %d targets, storing in %s", len(config.targets), store.name)

        sink: MeasurementSink
        if isinstance(config.store, InfluxStoreSettings):
            # Probe points take the batching path with retries and the spool;
            # the store only queries, and writes alert and routing events.
            try:
                influx_sink = open_influx_sink(config.store)
            except SpoolFileError as exc:
                # Without the spool, points would be lost while InfluxDB is down.
                raise ServiceStartError(f"cannot open the spool: {exc}") from None
            await influx_sink.start()
            sink = influx_sink
        else:
            store_sink = RetainingSink(store.write)
            sink = store_sink

        runner = Runner(
            config.targets,
            sink,
            concurrency=config.probe.concurrency,
            kernel_stamps=config.probe.kernel_stamps,
        )
        probing = asyncio.create_task(runner.run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({probing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        runner.stop()
        log.info("stopping: finishing the current probe round")
        await probing
        stopping.cancel()
    finally:
        for web_runner in reversed(web_runners):
            await web_runner.cleanup()
        if influx_sink is not None:
            await influx_sink.close()
            influx_sink.spool.close()
        if store_sink is not None:
            await store_sink.close()
        await store.close()
        log.info("stopped")
