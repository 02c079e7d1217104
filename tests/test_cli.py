from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from redline import __version__
from redline.cli.main import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_help_shows_yes_no_flags_as_flags() -> None:
    """A flag takes no value: ``--yes``, not ``--yes <bool>`` (the reader would type ``--yes true``)."""
    runner = CliRunner()
    for command, flags in (
        (["protect", "--help"], ["--yes", "--on-behalf"]),
        (["eval", "--help"], ["--hard-negatives"]),
        (["bank", "set", "--help"], ["--enable"]),
    ):
        result = runner.invoke(app, command, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output, command
        for flag in flags:
            assert flag in result.output, (command, flag)
    assert "--no-hard-negatives" in runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "200"}).output
    # Options that do take a value still say which kind.
    assert "<float>" in runner.invoke(app, ["protect", "--help"], env={"COLUMNS": "200"}).output


def test_index_list_says_when_there_are_no_snapshots(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["index", "list"], env={"REDLINE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "no snapshots" in result.output and "redline index snapshot" in result.output


def test_readme_lists_every_command() -> None:
    """Each top-level command and command group has a row in the README's command table."""
    import typer.main

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `redline ")]
    names = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert len(names) > 10
    missing = sorted(n for n in names if not any(line.startswith(f"| `redline {n}") for line in table))
    assert not missing, f"commands missing from the README's table: {missing}"
