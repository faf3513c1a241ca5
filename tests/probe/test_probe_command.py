"""`beamwatch probe URL` against nginx on loopback."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from collector.cli import app
from tests.support.servers import Nginx, free_port

runner = CliRunner()


def test_probe_prints_phases(nginx: Nginx) -> None:
    result = runner.invoke(app, ["probe", f"{nginx.base_url}/small.bin"])

    assert result.exit_code == 0, result.output
    first_line = result.output.splitlines()[0]
    assert first_line == (
        f"GET {nginx.base_url}/small.bin -> 200 ok (1024 bytes, HTTP/1.1, 127.0.0.1)"
    )
    for phase in ("dns", "connect", "tls", "ttfb", "download", "total"):
        assert f"\n  {phase} " in result.output


def test_probe_json_uses_schema_fields(nginx: Nginx) -> None:
    url = f"{nginx.base_url}/redirect-once"
    result = runner.invoke(app, ["probe", url, "--json", "--count", "2"])

    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert row["outcome"] == "ok"
        assert row["ok"] is True
        assert row["redirects"] == 1
        assert row["bytes"] == 1024
        assert row["remote_ip"] == "127.0.0.1"
        assert row["connection_reused"] is False
        assert row["tls_ms"] is None
        for field in ("connect_ms", "ttfb_ms", "download_ms", "total_ms"):
            assert isinstance(row[field], float)


def test_probe_failure_exits_one() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = runner.invoke(app, ["probe", url, "--connect-timeout", "1"])

    assert result.exit_code == 1
    assert "connect_error" in result.output
    assert "Connection refused" in result.output


def test_probe_caps_body_and_redirects(nginx: Nginx) -> None:
    large = runner.invoke(
        app, ["probe", f"{nginx.base_url}/large.bin", "--max-bytes", "1000"]
    )
    loop = runner.invoke(
        app, ["probe", f"{nginx.base_url}/redirect-loop", "--max-redirects", "2"]
    )

    assert large.exit_code == 1
    assert "body_too_large" in large.output
    assert loop.exit_code == 1
    assert "too_many_redirects" in loop.output


def test_probe_rejects_both_families() -> None:
    result = runner.invoke(app, ["probe", "http://127.0.0.1:1/", "-4", "-6"])

    assert result.exit_code == 2
    assert "choose at most one of -4 and -6" in result.output


def test_probe_rejects_non_http_url() -> None:
    result = runner.invoke(app, ["probe", "ftp://127.0.0.1/file"])

    assert result.exit_code == 2
    assert (
        "url: 'ftp://127.0.0.1/file' is not an http:// or https:// URL" in result.output
    )
