"""`beamwatch spool status|retry|drop`: the batches the sink could not write.

`status` lists them read-only. `retry` requeues failed batches once their
cause is fixed, and a running `beamwatch run` writes them within seconds.
`drop` deletes batches that can never be written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from collector.influx_cli import CONFIG_HELP, fail, load_influx_settings
from probe.spool import (
    FAILED,
    PENDING,
    BatchSummary,
    Spool,
    SpoolBatchError,
    SpoolFileError,
    read_status,
)

spool_app = typer.Typer(
    help="Inspect, requeue or drop the spooled batches of unwritten points.",
    no_args_is_help=True,
)

SpoolConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help=CONFIG_HELP + " Its spool_path names the spool."
    ),
]
SpoolPathOption = Annotated[
    Path | None, typer.Option("--spool", help="Spool file; overrides the config.")
]


@spool_app.callback()
def spool_group() -> None:
    """Inspect, requeue or drop the spooled batches of unwritten points."""


def resolve_spool_path(config: Path | None, spool_path: Path | None) -> Path:
    """Return the spool's absolute path, so messages show which file was read.

    A relative spool_path in the config is taken from the current directory,
    as `beamwatch run` takes it.
    """
    if spool_path is None:
        if config is None:
            raise fail("pass --config with an influxdb store, or --spool PATH")
        spool_path = load_influx_settings(config).spool_path
    return spool_path.absolute()


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
        raise fail(str(exc)) from None

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
        raise fail(str(exc)) from None
    try:
        yield spool
    except SpoolBatchError as exc:
        raise fail(f"{path}: {exc}") from None
    except sqlite3.Error as exc:
        raise fail(
            f"{path}: {exc}; nothing changed, run the command again", 1
        ) from None
    finally:
        spool.close()


def batch_id_option(help_text: str) -> Any:
    """Build the repeatable `--id N` option of retry and drop."""
    return typer.Option("--id", metavar="N", help=help_text)


@spool_app.command("retry")
def spool_retry(
    config: SpoolConfigOption = None,
    spool_path: SpoolPathOption = None,
    batch_ids: Annotated[
        list[int] | None,
        batch_id_option(
            "Failed batch to requeue; repeat for more. Default: all failed."
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
        batch_id_option("Batch to delete, failed or pending; repeat for more."),
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
        raise fail("pass either --id or --failed, not both")
    if not batch_ids and not failed:
        raise fail(
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
