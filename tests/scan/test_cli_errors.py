"""``redline scan``'s refusals before any file is read: a SOURCE that is no folder or manifest, and a state
file that belongs to another scan (or is held by another driver)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli.main import app
from redline.scan.state import ScanState, StateError


def scan(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["scan", *args, "--server", "http://127.0.0.1:9", "--key", "rl_x"])
    return result.exit_code, result.output


def test_a_source_that_is_no_folder_or_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("a.png\n")
    code, output = scan(str(tmp_path / "list.txt"), "--report", str(tmp_path / "r.jsonl"))
    assert code == 2 and "JSON Lines manifest" in output


def test_a_state_file_of_another_scan_or_in_use_is_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    state = tmp_path / "scan.state"
    ScanState(state, str(first.resolve()), 32).close()
    code, output = scan(str(second), "--report", str(tmp_path / "r.jsonl"), "--state", str(state))
    assert code == 1 and "give another --state" in output
    held = ScanState(state, str(first.resolve()), 32)
    try:
        with pytest.raises(StateError, match="another redline scan"):
            ScanState(state, str(first.resolve()), 32)
    finally:
        held.close()
