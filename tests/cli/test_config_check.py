"""`beamwatch config check`: valid files pass, each problem is named by field path."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import EXAMPLE_CONFIG, app

runner = CliRunner()

VALID = """
[probe]
region = "eu-central-1"
interval_s = 30

[[targets]]
name = "origin"
provider = "nginx"
url = "http://127.0.0.1:8000/small.bin"
"""


def check(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "beamwatch.toml"
    path.write_text(text)
    result = runner.invoke(app, ["config", "check", str(path)])
    return result.exit_code, result.output


def test_example_config_is_valid() -> None:
    result = runner.invoke(app, ["config", "check", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_valid_config_reports_summary(tmp_path: Path) -> None:
    code, output = check(tmp_path, VALID)
    assert code == 0, output
    assert "1 targets in regions eu-central-1" in output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            VALID.replace('url = "http://127.0.0.1:8000/small.bin"', 'url = "ftp://x"'),
            "targets[0].url",
            id="url-scheme",
        ),
        pytest.param(
            VALID.replace("interval_s = 30", "interval_s = -1"),
            "probe.interval_s",
            id="negative-interval",
        ),
        pytest.param(VALID + "\n[store]\nkind = 'mysql'\n", "store", id="store-kind"),
        pytest.param(
            VALID.replace('provider = "nginx"', 'provider = "has space"'),
            "targets[0].provider",
            id="tag-with-space",
        ),
        pytest.param(
            VALID.replace('name = "origin"', 'name = "origin"\ncolour = "red"'),
            "targets[0].colour: unknown field",
            id="unknown-field",
        ),
        pytest.param(
            VALID.replace('url = "http://127.0.0.1:8000/small.bin"', ""),
            "set exactly one of 'url' or 'filbeam'",
            id="no-url",
        ),
        pytest.param(
            VALID
            + '\n[[targets]]\nname = "origin"\nprovider = "b"\nurl = "http://127.0.0.1/"\n',
            "target name 'origin' is used twice",
            id="duplicate-name",
        ),
        pytest.param("[[targets]\n", "invalid TOML", id="toml-syntax"),
        pytest.param(
            "[probe]\n", "targets: required field is missing", id="no-targets"
        ),
    ],
)
def test_bad_config_names_field(tmp_path: Path, text: str, expected: str) -> None:
    code, output = check(tmp_path, text)
    assert code == 2
    assert expected in output


PIECE_CID = "bafkzcibcaapao7s5pz5hbvp2q3tcqm5hxtzyhybn4oujhpdkj7ssnyc3c5jlvrq"


def test_filbeam_bad_checksum_suggests_fix(tmp_path: Path) -> None:
    payer = "0x52908400098527886E0F7030069857D2E4169EE7"  # EIP-55 test vector
    wrong = payer.replace("E0F", "e0F")
    text = f"""
[[targets]]
name = "piece"
provider = "filbeam"
filbeam = {{ payer = "{wrong}", piece_cid = "{PIECE_CID}" }}
"""
    code, output = check(tmp_path, text)
    assert code == 2
    assert "targets[0].filbeam.payer" in output
    assert f"did you mean {payer}" in output


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2
    assert "file not found" in result.output
