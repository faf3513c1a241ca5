"""`beamwatch influx setup|check` and `beamwatch spool status|retry|drop`.

`setup` creates the database and retention policy on InfluxDB 1.x. For 2.x
it prints the `influx` commands that create the bucket and its DBRP mapping,
because creating a bucket needs an operator token that beamwatch should not
hold. `check` writes one point of measurement `beamwatch_check` through the
configured write path and reads it back with InfluxQL, which proves both
paths and the credentials. The spool commands list the batches the sink could
not write, requeue failed ones after the cause is fixed, and delete the ones
that can never be written.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from collector.config import ConfigError, InfluxStoreSettings, load_config
from collector.store.base import StoreUnavailable
from collector.store.influx import open_influx_store
from probe.lineprotocol import encode_line
from probe.spool import (
    FAILED,
    PENDING,
    BatchSummary,
    Spool,
    SpoolBatchError,
    SpoolFileError,
    read_status,
)
from probe.writers import WriteError

influx_app = typer.Typer(
    help="Set up and check the InfluxDB store.", no_args_is_help=True
)
spool_app = typer.Typer(
    help="Inspect, requeue or drop the spooled batches of unwritten points.",
    no_args_is_help=True,
)

# Typer renders help with Rich markup, which would drop an unescaped "[store]".
CONFIG_HELP = r'TOML config file whose \[store] table sets kind = "influxdb".'
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help=CONFIG_HELP)]
SpoolConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help=CONFIG_HELP + " Its spool_path names the spool."
    ),
]
SpoolPathOption = Annotated[
    Path | None, typer.Option("--spool", help="Spool file; overrides the config.")
]
CHECK_MEASUREMENT = "beamwatch_check"
# `check` polls this long for its point, in case a server makes a write
# visible to queries only after a delay.
CHECK_READ_TIMEOUT_S = 10.0


@spool_app.callback()
def spool_group() -> None:
    """Inspect, requeue or drop the spooled batches of unwritten points."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def load_influx_settings(path: Path) -> InfluxStoreSettings:
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if not isinstance(config.store, InfluxStoreSettings):
        raise _fail(
            f'{path}: [store] kind is "{config.store.kind}"; set kind = "influxdb"'
            " and its url and database to use this command"
        )
    return config.store


def v2_setup_commands(settings: InfluxStoreSettings) -> list[str]:
    """Return the `influx` CLI commands that prepare InfluxDB 2.x for beamwatch."""
    org = settings.org or "ORG"
    bucket = settings.bucket or settings.database
    retention = "0" if settings.retention == "INF" else settings.retention
    rp = settings.retention_policy or "autogen"
    return [
        f"influx bucket create --name {bucket} --org {org} --retention {retention}",
        f"influx v1 dbrp create --org {org} --db {settings.database} --rp {rp}"
        " --bucket-id BUCKET_ID --default",
    ]


async def create_database(settings: InfluxStoreSettings) -> list[str]:
    """Create the database, make the retention policy its default, return the steps."""
    store = open_influx_store(settings)
    database = settings.database
    policy = settings.retention_policy or "beamwatch"
    duration = settings.retention
    steps = [f'CREATE DATABASE "{database}"']
    create_policy = (
        f'CREATE RETENTION POLICY "{policy}" ON "{database}"'
        f" DURATION {duration} REPLICATION 1 DEFAULT"
    )
    try:
        await store.query(steps[:1], {})
        try:
            await store.query([create_policy], {})
            steps.append(create_policy)
        except StoreUnavailable as exc:
            if "already exists" not in str(exc):
                raise
            alter = (
                f'ALTER RETENTION POLICY "{policy}" ON "{database}"'
                f" DURATION {duration} DEFAULT"
            )
            await store.query([alter], {})
            steps.append(alter)
    finally:
        await store.close()
    return steps


@influx_app.command("setup")
def setup(config: ConfigOption) -> None:
    """Create the database and retention policy (1.x), or print the 2.x commands."""
    settings = load_influx_settings(config)
    if settings.write_api == "v2":
        typer.echo("InfluxDB 2.x: run these with an operator token, replacing")
        typer.echo("BUCKET_ID with the id the first command prints:\n")
        for command in v2_setup_commands(settings):
            typer.echo(f"  {command}")
        return
    try:
        steps = asyncio.run(create_database(settings))
    except StoreUnavailable as exc:
        raise _fail(f"setup failed: {exc}", 1) from None
    for step in steps:
        typer.echo(f"ok: {step}")


async def write_and_read_back(settings: InfluxStoreSettings) -> float:
    """Write one check point, poll until InfluxQL returns it, return the seconds."""
    store = open_influx_store(settings)
    nonce = secrets.token_hex(8)
    now_ms = int(time.time() * 1000)
    started = time.monotonic()
    line = encode_line(
        CHECK_MEASUREMENT, {"source": "beamwatch"}, {"nonce": nonce}, now_ms
    )
    try:
        await store.write_lines([line])
        while True:
            (series,) = await store.query(
                [f'SELECT "nonce" FROM {CHECK_MEASUREMENT} WHERE time = $time'],
                {"time": now_ms * 1_000_000},
            )
            rows = series[0][1] if series else []
            if any(row["nonce"] == nonce for row in rows):
                return time.monotonic() - started
            if time.monotonic() - started > CHECK_READ_TIMEOUT_S:
                raise StoreUnavailable(
                    f"wrote a point at {now_ms} but InfluxQL did not return it within"
                    f" {CHECK_READ_TIMEOUT_S:g} s; check that database"
                    f" {settings.database!r} maps to the bucket written to"
                )
            await asyncio.sleep(0.2)
    finally:
        await store.close()


@influx_app.command("check")
def check(config: ConfigOption) -> None:
    """Write one point and read it back; exit 1 if either fails."""
    settings = load_influx_settings(config)
    try:
        elapsed_s = asyncio.run(write_and_read_back(settings))
    except (StoreUnavailable, WriteError) as exc:
        raise _fail(f"check failed: {exc}", 1) from None
    typer.echo(
        f"ok: wrote and read back one {CHECK_MEASUREMENT} point at {settings.url}"
        f" (database {settings.database}, write API {settings.write_api})"
        f" in {elapsed_s * 1000:.0f} ms"
    )


def resolve_spool_path(config: Path | None, spool_path: Path | None) -> Path:
    if spool_path is not None:
        return spool_path
    if config is None:
        raise _fail("pass --config with an influxdb store, or --spool PATH")
    return load_influx_settings(config).spool_path


@spool_app.command("status")
def spool_status(
    config: SpoolConfigOption = None, spool_path: SpoolPathOption = None
) -> None:
    """Print spooled batches, read-only; exit 1 when any batch failed for good."""
    spool_path = resolve_spool_path(config, spool_path)
    if not spool_path.exists():
        typer.echo(f"{spool_path}: no spool file; nothing is waiting")
        return
    try:
        status = read_status(spool_path)
    except SpoolFileError as exc:
        raise _fail(str(exc)) from None

    typer.echo(
        f"{spool_path}: {status.pending_batches} pending batches"
        f" ({status.pending_points} points),"
        f" {status.failed_batches} failed ({status.failed_points} points)"
    )
    if status.oldest_pending_ms is not None:
        typer.echo(f"oldest pending batch spooled at {_iso(status.oldest_pending_ms)}")
    for batch_id, created_ms, points, error in status.failures:
        typer.echo(
            f"failed batch {batch_id} ({points} points, {_iso(created_ms)}): {error}"
        )
    if status.failed_batches:
        raise typer.Exit(1)


@contextmanager
def open_spool(path: Path) -> Iterator[Spool]:
    """Open an existing spool for changes; exit 2 on a bad file, 1 on SQLite errors.

    A running `beamwatch run` may hold the same file open. Each change waits
    for its write lock (see probe.spool.BUSY_TIMEOUT_MS) instead of failing.
    """
    try:
        spool = Spool(path, create=False)
    except SpoolFileError as exc:
        raise _fail(str(exc)) from None
    try:
        yield spool
    except SpoolBatchError as exc:
        raise _fail(f"{path}: {exc}") from None
    except sqlite3.Error as exc:
        raise _fail(
            f"{path}: {exc}; nothing changed, run the command again", 1
        ) from None
    finally:
        spool.close()


@spool_app.command("retry")
def spool_retry(
    config: SpoolConfigOption = None,
    spool_path: SpoolPathOption = None,
    batch_ids: Annotated[
        list[int] | None,
        typer.Option(
            "--id",
            metavar="N",
            help="Failed batch to requeue; repeat for more. Default: all failed.",
        ),
    ] = None,
) -> None:
    """Mark failed batches pending again, so the sink writes them once more.

    Run it after fixing the cause (create the database, fix the token). A
    running `beamwatch run` notices the batches within seconds.
    """
    spool_path = resolve_spool_path(config, spool_path)
    if not spool_path.exists():
        typer.echo(f"{spool_path}: no spool file; nothing to requeue")
        return
    with open_spool(spool_path) as spool:
        requeued = spool.requeue_failed(batch_ids)

    if not requeued:
        typer.echo(f"{spool_path}: no failed batches; nothing to requeue")
        return
    typer.echo(f"requeued {_count(requeued, FAILED)}")
    typer.echo(
        "a running beamwatch writes them within seconds, oldest first;"
        " otherwise the next start does"
    )


@spool_app.command("drop")
def spool_drop(
    config: SpoolConfigOption = None,
    spool_path: SpoolPathOption = None,
    batch_ids: Annotated[
        list[int] | None,
        typer.Option(
            "--id",
            metavar="N",
            help="Batch to delete, failed or pending; repeat for more.",
        ),
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Delete every failed batch.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete without asking.")
    ] = False,
) -> None:
    """Delete spooled batches for good; their points are never written."""
    if batch_ids and failed:
        raise _fail("pass either --id or --failed, not both")
    if not batch_ids and not failed:
        raise _fail(
            "pass --id N (repeatable) to drop chosen batches, or --failed to drop"
            " every failed batch"
        )
    spool_path = resolve_spool_path(config, spool_path)
    if not spool_path.exists():
        typer.echo(f"{spool_path}: no spool file; nothing to drop")
        return

    with open_spool(spool_path) as spool:
        if batch_ids:
            chosen = spool.batches(batch_ids)
        else:
            chosen = spool.batches(status=FAILED)
            pending = spool.batches(status=PENDING)
            if pending:
                typer.echo(
                    f"keeping {_count(pending, PENDING)}: --failed never drops"
                    " pending batches, because the sink still writes them;"
                    " name one with --id to drop it"
                )
        if not chosen:
            typer.echo(f"{spool_path}: no failed batches; nothing to drop")
            return

        verb = "dropping" if yes else "would drop"
        for batch in chosen:
            typer.echo(f"{verb} {_describe(batch)}")
        if not yes and not typer.confirm(
            f"Drop {_count(chosen)} for good?", default=False
        ):
            typer.echo("dropped nothing")
            raise typer.Exit(1)
        # NOTE: a pending batch that the running sink is replaying right now
        # may still reach the database after it is dropped here.
        dropped = spool.delete_batches(
            [batch.id for batch in chosen], status=None if batch_ids else FAILED
        )
    typer.echo(f"dropped {_count(dropped)}")


def _count(batches: list[BatchSummary], status: str = "") -> str:
    """Return "3 failed batches, 1,500 points" for `batches`."""
    points = sum(batch.points for batch in batches)
    status_word = f"{status} " if status else ""
    return (
        f"{len(batches)} {status_word}{_plural(len(batches), 'batch', 'batches')},"
        f" {points:,} {_plural(points, 'point', 'points')}"
    )


def _plural(count: int, singular: str, plural: str) -> str:
    return singular if count == 1 else plural


def _describe(batch: BatchSummary) -> str:
    return (
        f"{batch.status} batch {batch.id}"
        f" ({batch.points:,} {_plural(batch.points, 'point', 'points')},"
        f" spooled {_iso(batch.created_ms)}): {batch.last_error}"
    )


def _iso(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).isoformat(timespec="seconds")
