"""The `beamwatch` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError
from yarl import URL

from collector.config import ConfigError, format_errors, load_config
from collector.influx_cli import influx_app
from collector.service import ServiceStartError, run_service
from collector.settings import load_api_settings
from collector.spool_cli import spool_app
from probe.http import ProbeClient
from probe.models import Measurement, Target

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "beamwatch.example.toml"
PHASE_FIELDS = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "download_ms", "total_ms")

app = typer.Typer(
    help="Measure HTTP and FilBeam retrievals, store the points, serve the dashboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Work with configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(influx_app, name="influx")
app.add_typer(spool_app, name="spool")


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def one_line(message: str) -> str:
    """Join aiohttp's multi-line parser message and drop its caret line."""
    lines = (line.strip() for line in message.splitlines())
    return " | ".join(line for line in lines if line.strip("^ "))


class BadRequestLineFilter(logging.Filter):
    """Log aiohttp's rejection of a malformed request as one WARNING line.

    aiohttp rejects an over-long or malformed request line itself and logs it
    at ERROR with a traceback, so any client could fill the log with them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "rejected a malformed HTTP request: %s"
            record.args = (one_line(error.message),)
            record.exc_info = None
        return True


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiohttp.server").addFilter(BadRequestLineFilter())


@config_app.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(help="TOML config file to validate.")],
) -> None:
    """Validate a config file and the BEAMWATCH_API_* environment.

    Prints each problem with its field path and exits 2, or prints a summary.
    """
    try:
        config = load_config(file)
        load_api_settings(config.api, config.store)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    regions = sorted({target.region for target in config.targets})
    count = len(config.targets)
    typer.echo(
        f"{file}: ok, {count} target{'s' if count != 1 else ''} in"
        f" {'regions' if len(regions) != 1 else 'region'} {', '.join(regions)},"
        f" store {config.store.kind}"
    )


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML config file. Default: the example."),
    ] = None,
    log_level: Annotated[
        LogLevel, typer.Option(help="Minimum level of the log lines to print.")
    ] = LogLevel.INFO,
) -> None:
    """Probe the configured targets, store the points and serve the dashboard."""
    setup_logging(log_level.value)
    path = config or EXAMPLE_CONFIG
    try:
        settings = load_config(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if config is None:
        typer.echo(f"no --config given; using the example config {path}", err=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        service = asyncio.current_task()

        def on_signal(number: int) -> None:
            if not stop.is_set():
                stop.set()
                return
            # A second signal means the operator will not wait for the round.
            logging.getLogger(__name__).warning(
                "second %s: exiting without finishing the probe round",
                signal.Signals(number).name,
            )
            if service is not None:
                service.cancel()

        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, on_signal, number)
        await run_service(settings, stop, announce=lambda text: typer.echo(text))

    try:
        asyncio.run(main())
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except ServiceStartError as exc:
        raise fail(str(exc), 1) from None
    except asyncio.CancelledError:
        raise typer.Exit(130) from None


@app.command()
def probe(
    url: Annotated[str, typer.Argument(help="http:// or https:// URL to measure.")],
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, help="Probes to run.")
    ] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per probe.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(min=0.001, max=600, help="Deadline per probe, in seconds."),
    ] = 10.0,
    connect_timeout: Annotated[
        float | None,
        typer.Option(
            min=0.001, max=600, help="Limit on the TCP connect alone, in seconds."
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", "-k", help="Skip TLS certificate checks.")
    ] = False,
    max_bytes: Annotated[
        int, typer.Option(min=1, help="Stop reading the body past this many bytes.")
    ] = 64 * 1024 * 1024,
    max_redirects: Annotated[
        int, typer.Option(min=0, max=50, help="Redirects to follow; 0 follows none.")
    ] = 5,
    ipv4: Annotated[bool, typer.Option("-4", help="Connect over IPv4 only.")] = False,
    ipv6: Annotated[bool, typer.Option("-6", help="Connect over IPv6 only.")] = False,
) -> None:
    """Measure one URL and print its phases; exit 1 if any probe is not ok."""
    if ipv4 and ipv6:
        raise fail("choose at most one of -4 and -6")
    ip_version: Literal[4, 6] | None = None
    if ipv4:
        ip_version = 4
    elif ipv6:
        ip_version = 6
    try:
        target = Target(
            name="cli",
            provider="cli",
            url=url,
            timeout_s=timeout,
            connect_timeout_s=connect_timeout,
            max_bytes=max_bytes,
            max_redirects=max_redirects,
            verify_tls=not insecure,
            ip_version=ip_version,
        )
    except ValidationError as exc:
        raise fail(format_errors(exc)) from None

    async def measure() -> list[Measurement]:
        results = []
        async with ProbeClient() as client:
            for _ in range(count):
                measurement = await client.probe(target)
                typer.echo(render(measurement, url, as_json))
                results.append(measurement)
        return results

    results = asyncio.run(measure())
    if any(not m.ok for m in results):
        raise typer.Exit(1)


def render(measurement: Measurement, url: str, as_json: bool) -> str:
    """Format one measurement as curl-like text, or as a JSON object.

    The JSON object uses the storage schema's field names.
    """
    data = measurement.to_dict()
    if as_json:
        # Microseconds are more than the clock's accuracy on a busy machine.
        for name in PHASE_FIELDS:
            if data[name] is not None:
                data[name] = round(data[name], 3)
        return json.dumps(data, sort_keys=True)
    status = measurement.status_code if measurement.status_code is not None else "-"
    display_url = url
    if URL(url).password:
        display_url = str(URL(url).with_password("***"))
    lines = [
        f"GET {display_url} -> {status} {measurement.outcome.value}"
        f" ({measurement.bytes} bytes, HTTP/{measurement.http_version or '-'},"
        f" {measurement.remote_ip or '-'})"
    ]
    for name in PHASE_FIELDS:
        value = data[name]
        cell = f"{value:10.2f} ms" if value is not None else f"{'-':>10}"
        lines.append(f"  {name.removesuffix('_ms'):<9}{cell}")
    if measurement.redirects:
        lines.append(f"  redirects {measurement.redirects}")
    if measurement.connection_reused:
        lines.append("  connection reused: connect and TLS not measured")
    if measurement.tls_cert_expiry_days is not None:
        lines.append(
            f"  certificate expires in {measurement.tls_cert_expiry_days:.1f} days"
        )
    for header, value in (
        ("X-Data-Set-ID", measurement.data_set_id),
        ("cf-ray", measurement.cf_ray),
    ):
        if value is not None:
            lines.append(f"  {header}: {value}")
    if measurement.error:
        lines.append(f"  error    {measurement.error}")
    return "\n".join(lines)


def main() -> None:
    app()
