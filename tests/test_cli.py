from __future__ import annotations

from typer.testing import CliRunner

from redline import __version__
from redline.cli.main import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__
