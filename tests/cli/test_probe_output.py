"""`beamwatch probe` output: rounded JSON phases and no password in the text."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from collector.cli import app
from tests.support.servers import free_port

runner = CliRunner()


def test_json_phases_rounded_to_microseconds() -> None:
    result = runner.invoke(app, ["probe", "--json", f"http://127.0.0.1:{free_port()}/"])

    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["outcome"] == "connect_error"
    assert data["total_ms"] == round(data["total_ms"], 3)


def test_text_output_masks_password() -> None:
    url = f"http://user:hunter2@127.0.0.1:{free_port()}/"
    result = runner.invoke(app, ["probe", url])

    assert result.exit_code == 1
    assert "hunter2" not in result.output
    assert "user:***@127.0.0.1" in result.output
