"""`beamwatch influx setup|check`.

`setup` creates the database and retention policy on InfluxDB 1.x. For 2.x
it prints the `influx` commands that create the bucket and its DBRP mapping,
because creating a bucket needs an operator token that beamwatch should not
hold. `check` writes one point of measurement `beamwatch_check` through the
configured write path and reads it back with InfluxQL, which proves both
paths and the credentials.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Annotated

import typer

from collector.config import ConfigError, InfluxStoreSettings, load_config
from collector.store.base import StoreUnavailable
from collector.store.influx import InfluxStore, open_influx_store
from probe.lineprotocol import encode_line
from probe.writers import WriteError

influx_app = typer.Typer(
    help="Set up and check the InfluxDB store.", no_args_is_help=True
)

# Typer renders help with Rich markup, which would drop an unescaped "[store]".
CONFIG_HELP = r'TOML config file whose \[store] table sets kind = "influxdb".'
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help=CONFIG_HELP)]
CHECK_MEASUREMENT = "beamwatch_check"
# `check` polls this long for its point, in case a server makes a write
# visible to queries only after a delay.
CHECK_READ_TIMEOUT_S = 10.0
# Hours in each unit of the `retention` setting.
HOURS_PER_UNIT = {"h": 1, "d": 24, "w": 168}


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def load_influx_settings(path: Path) -> InfluxStoreSettings:
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if not isinstance(config.store, InfluxStoreSettings):
        raise fail(
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


def shard_duration(retention: str) -> str:
    """Return the shard group duration InfluxDB 1.x picks for a `retention`.

    The rule is shardGroupDuration in InfluxDB 1.x services/meta/data.go: a
    retention under 2 days gets 1 h shards, one under 180 days gets 1 d shards,
    and a longer or infinite one gets 7 d shards.
    """
    if retention == "INF":
        return "7d"
    hours = int(retention[:-1]) * HOURS_PER_UNIT[retention[-1]]
    if hours >= 180 * 24:
        return "7d"
    if hours >= 2 * 24:
        return "1d"
    return "1h"


async def create_database(settings: InfluxStoreSettings) -> tuple[list[str], str]:
    """Create the database, make the retention policy its default.

    Return the statements run and a warning, empty unless points are left
    behind in the previous default policy.

    Both statements name the shard duration: ALTER would otherwise keep the
    policy's old one, and InfluxDB rejects a retention shorter than its shard
    duration, e.g. 1h after 90d had given the policy 1 d shards.
    """
    store = open_influx_store(settings)
    database = settings.database
    policy = settings.retention_policy or "beamwatch"
    duration = settings.retention
    shard = shard_duration(duration)
    steps = [f'CREATE DATABASE "{database}"']
    create_policy = (
        f'CREATE RETENTION POLICY "{policy}" ON "{database}"'
        f" DURATION {duration} REPLICATION 1 SHARD DURATION {shard} DEFAULT"
    )
    try:
        await store.query(steps[:1], {})
        warning = await moved_default_warning(store, database, policy)
        try:
            await store.query([create_policy], {})
            steps.append(create_policy)
        except StoreUnavailable as exc:
            if "already exists" not in str(exc):
                raise
            alter = (
                f'ALTER RETENTION POLICY "{policy}" ON "{database}"'
                f" DURATION {duration} SHARD DURATION {shard} DEFAULT"
            )
            await store.query([alter], {})
            steps.append(alter)
    finally:
        await store.close()
    return steps, warning


def quoted(identifier: str) -> str:
    """Quote an InfluxQL identifier read from the server."""
    escaped = identifier.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


async def moved_default_warning(store: InfluxStore, database: str, policy: str) -> str:
    """Warn when making `policy` the default hides probe points of the old default.

    Queries that name no retention policy, the dashboard's and the README's
    among them, read the default policy only.
    """
    (series,) = await store.query(
        [f"SHOW RETENTION POLICIES ON {quoted(database)}"], {}
    )
    rows = series[0][1] if series else []
    previous = next((row["name"] for row in rows if row.get("default")), None)
    if previous is None or previous == policy:
        return ""
    source = f"{quoted(database)}.{quoted(previous)}.probe"
    (counted,) = await store.query([f'SELECT count("ok") FROM {source}'], {})
    points = counted[0][1][0]["count"] if counted else 0
    if not points:
        return ""
    target = f"{quoted(database)}.{quoted(policy)}.probe"
    return (
        f"warning: {points} probe points stay in the old default policy"
        f" {quoted(previous)}, which queries without a policy name no longer"
        f" read. Copy them with: SELECT * INTO {target} FROM {source} GROUP BY *"
    )


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
        steps, warning = asyncio.run(create_database(settings))
    except StoreUnavailable as exc:
        raise fail(f"setup failed: {exc}", 1) from None
    for step in steps:
        typer.echo(f"ok: {step}")
    if warning:
        typer.echo(warning, err=True)


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
        raise fail(f"check failed: {exc}", 1) from None
    typer.echo(
        f"ok: wrote and read back one {CHECK_MEASUREMENT} point at {settings.url}"
        f" (database {settings.database}, write API {settings.write_api})"
        f" in {elapsed_s * 1000:.0f} ms"
    )
