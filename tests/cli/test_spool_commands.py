"""`beamwatch spool retry` and `beamwatch spool drop` on spool files made by Spool."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from collector.cli import app
from probe.spool import FAILED, PENDING, Spool

runner = CliRunner()


def make_spool(path: Path) -> dict[str, int]:
    """Write one pending and three failed batches; return their ids by name."""
    spool = Spool(path)
    ids = {
        "pending": spool.put("probe ok=true 1\nprobe ok=true 2", 2),
        "no_database": spool.put(
            "probe ok=true 3\n" * 500,
            500,
            status=FAILED,
            error='database not found: "later"',
            attempts=1,
        ),
        "bad_line": spool.put(
            "probe ok= 4", 1, status=FAILED, error="unable to parse 'probe ok= 4'"
        ),
        "forbidden": spool.put(
            "probe ok=true 5\n" * 1000, 1000, status=FAILED, error="403 forbidden"
        ),
    }
    spool.close()
    return ids


def spool_command(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, ["spool", *args], input=stdin)


def statuses(path: Path) -> dict[int, tuple[str, int, str | None]]:
    """Map batch id to (status, attempts, last_error), read with plain sqlite3."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT id, status, attempts, last_error FROM batch ORDER BY id"
        ).fetchall()
    connection.close()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def test_retry_requeues_every_failed_batch(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    ids = make_spool(path)

    result = spool_command("retry", "--spool", str(path))

    assert result.exit_code == 0, result.output
    assert "requeued 3 failed batches, 1,501 points\n" in result.output
    assert statuses(path) == {
        ids["pending"]: (PENDING, 0, None),
        ids["no_database"]: (PENDING, 0, 'database not found: "later"'),
        ids["bad_line"]: (PENDING, 0, "unable to parse 'probe ok= 4'"),
        ids["forbidden"]: (PENDING, 0, "403 forbidden"),
    }


def test_retry_requeues_chosen_ids(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    ids = make_spool(path)

    result = spool_command(
        "retry",
        "--spool",
        str(path),
        "--id",
        str(ids["no_database"]),
        "--id",
        str(ids["forbidden"]),
    )

    assert result.exit_code == 0, result.output
    assert "requeued 2 failed batches, 1,500 points\n" in result.output
    after = statuses(path)
    assert after[ids["no_database"]][0] == PENDING
    assert after[ids["forbidden"]][0] == PENDING
    assert after[ids["bad_line"]][0] == FAILED


def test_retry_reads_spool_path_from_config(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    make_spool(path)
    config = tmp_path / "beamwatch.toml"
    config.write_text(
        '[store]\nkind = "influxdb"\nurl = "http://127.0.0.1:9"\n'
        f'database = "later"\nspool_path = "{path}"\n\n'
        '[[targets]]\nname = "t"\nprovider = "p"\nurl = "http://127.0.0.1:9/"\n'
    )

    result = spool_command("retry", "--config", str(config))

    assert result.exit_code == 0, result.output
    assert "requeued 3 failed batches" in result.output


def test_retry_unknown_id_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    ids = make_spool(path)
    before = statuses(path)

    result = spool_command(
        "retry", "--spool", str(path), "--id", str(ids["bad_line"]), "--id", "99"
    )

    assert result.exit_code == 2
    assert f"error: {path}: no batch with id 99 in the spool" in result.output
    assert statuses(path) == before


def test_retry_pending_id_is_error(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    ids = make_spool(path)
    before = statuses(path)

    result = spool_command("retry", "--spool", str(path), "--id", str(ids["pending"]))

    assert result.exit_code == 2
    assert f"batch {ids['pending']} is pending, not failed" in result.output
    assert statuses(path) == before


def test_retry_without_failed_batches(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    Spool(path).close()

    result = spool_command("retry", "--spool", str(path))

    assert result.exit_code == 0
    assert result.output == f"{path}: no failed batches; nothing to requeue\n"


def test_retry_missing_file_creates_none(tmp_path: Path) -> None:
    path = tmp_path / "none.db"

    result = spool_command("retry", "--spool", str(path))

    assert result.exit_code == 0
    assert result.output == f"{path}: no spool file; nothing to requeue\n"
    assert list(tmp_path.iterdir()) == []


def test_drop_failed_with_yes(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    ids = make_spool(path)

    result = spool_command("drop", "--spool", str(path), "--failed", "--yes")

    assert result.exit_code == 0, result.output
    assert "dropped 3 batches, 1,501 points\n" in result.output
    assert "keeping 1 pending batch, 2 points: --failed never drops" in result.output
    assert "name one with --id to drop it" in result.output
    assert statuses(path) == {ids["pending"]: (PENDING, 0, None)}


def test_drop_asks_before_deleting(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    ids = make_spool(path)
    before = statuses(path)

    declined = spool_command("drop", "--spool", str(path), "--failed", stdin="n\n")

    assert declined.exit_code == 1
    assert f"would drop failed batch {ids['bad_line']} (1 point," in declined.output
    assert "unable to parse 'probe ok= 4'" in declined.output
    assert "Drop 3 batches, 1,501 points for good? [y/N]" in declined.output
    assert declined.output.endswith("dropped nothing\n")
    assert statuses(path) == before

    accepted = spool_command(
        "drop", "--spool", str(path), "--id", str(ids["bad_line"]), stdin="y\n"
    )

    assert accepted.exit_code == 0, accepted.output
    assert accepted.output.endswith("dropped 1 batch, 1 point\n")
    assert ids["bad_line"] not in statuses(path)


def test_drop_pending_by_id(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    ids = make_spool(path)

    result = spool_command(
        "drop", "--spool", str(path), "--id", str(ids["pending"]), "--yes"
    )

    assert result.exit_code == 0, result.output
    assert f"dropping pending batch {ids['pending']} (2 points" in result.output
    assert "dropped 1 batch, 2 points\n" in result.output
    assert ids["pending"] not in statuses(path)
    assert len(statuses(path)) == 3


def test_drop_failed_keeps_pending(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    pending_id = spool.put("probe ok=true 1", 1)
    spool.close()

    result = spool_command("drop", "--spool", str(path), "--failed", "--yes")

    assert result.exit_code == 0
    assert "keeping 1 pending batch, 1 point: --failed never drops" in result.output
    assert f"{path}: no failed batches; nothing to drop" in result.output
    assert statuses(path) == {pending_id: (PENDING, 0, None)}


def test_drop_unknown_id_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    ids = make_spool(path)
    before = statuses(path)

    result = spool_command(
        "drop", "--spool", str(path), "--id", str(ids["bad_line"]), "--id", "42"
    )

    assert result.exit_code == 2
    assert f"error: {path}: no batch with id 42 in the spool" in result.output
    assert statuses(path) == before


def test_drop_needs_id_or_failed(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    make_spool(path)

    neither = spool_command("drop", "--spool", str(path), "--yes")
    both = spool_command("drop", "--spool", str(path), "--failed", "--id", "1")

    assert neither.exit_code == 2
    assert "error: pass --id N (repeatable) to drop chosen batches" in neither.output
    assert both.exit_code == 2
    assert "error: pass either --id or --failed, not both" in both.output
    assert len(statuses(path)) == 4


def test_commands_reject_directory(tmp_path: Path) -> None:
    for command in (["retry"], ["drop", "--failed", "--yes"]):
        result = spool_command(*command, "--spool", str(tmp_path))

        assert result.exit_code == 2, command
        assert result.output == (
            f"error: {tmp_path} is a directory, not a beamwatch spool file;"
            " pass the spool file\n"
        )
    assert list(tmp_path.iterdir()) == []


def test_commands_leave_other_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE reading (value REAL)")
    connection.close()
    before = path.read_bytes()

    for command in (["retry"], ["drop", "--failed", "--yes"]):
        result = spool_command(*command, "--spool", str(path))

        assert result.exit_code == 2, command
        assert result.output == (
            f"error: {path} is not a beamwatch spool file (it has no batch table)\n"
        )
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["other.db"]


def test_commands_reject_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "beamwatch.toml"
    path.write_text('[store]\nkind = "influxdb"\n')

    for command in (["retry"], ["drop", "--id", "1", "--yes"]):
        result = spool_command(*command, "--spool", str(path))

        assert result.exit_code == 2, command
        assert result.output == (
            f"error: {path} is not a beamwatch spool file (file is not a database)\n"
        )
    assert path.read_text() == '[store]\nkind = "influxdb"\n'


def test_status_prints_absolute_spool_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "beamwatch.toml"
    config.write_text(
        '[[targets]]\nname = "a"\nprovider = "p"\nurl = "http://127.0.0.1:9/"\n'
        '[store]\nkind = "influxdb"\nspool_path = "spool.db"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = spool_command("status", "--config", str(config))

    assert result.exit_code == 0, result.output
    assert f"{elsewhere / 'spool.db'}: no spool file" in result.output
