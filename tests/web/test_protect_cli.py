"""``redline protect``: hashes files locally, sends only hashes to a real server, prints case and secret."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from redline.cli.main import app
from redline.signals import hash_file, robust
from redline.signals.types import signal_type

pytestmark = [pytest.mark.shared, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_protect_sends_hashes_and_prints_credentials(
    corpus: Path, portal: tuple[str, str], tmp_path: Path
) -> None:
    base, db_url = portal
    photo = corpus / "pdq-fixtures" / "bridge-mods" / "aaa-orig.jpg"
    video = corpus / "videos" / "clips" / "doc_medias" / "example.mp4"
    junk = tmp_path / "notes.txt"
    junk.write_text("not a picture")
    args = ["protect", str(photo), str(video), str(junk), "--server", base, "--yes"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "notes.txt: skipped" in result.output
    case_id = re.search(r"Case number: (\S+)", result.output)
    secret = re.search(r"Secret: (\S+)", result.output)
    assert case_id and secret
    case = httpx.get(f"{base}/v1/cases/{case_id[1]}", headers={"X-Case-Secret": secret[1]}).json()
    types = sorted(h["type"] for h in case["hashes"])  # the photo: pdq + 35 pdq_region; both: md5, sha256
    regions = ["pdq_region"] * (1 + len(robust.STORED_REGIONS))
    # The video: its kept frames' hashes too (vpdq: whole frame and centred 90 %, signals/video.py).
    frames = ["vpdq"] * sum(h.type == "vpdq" for h in signal_type("vpdq").stored_hashes(hash_file(video)))
    assert len(frames) >= 2
    assert types == ["md5", "md5", "pdq", *regions, "sha256", "sha256", *frames]
    assert all(h["status"] == "active" for h in case["hashes"])
    # Each hash says which file it came from (review verdicts then cover a whole picture).
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT item, signal_type FROM entries WHERE case_id = :c"), {"c": case_id[1]}
            ).all()
    finally:
        engine.dispose()
    photo_hashes = len(types) - 2 - len(frames)
    assert sorted(item for item, _ in rows) == [0] * photo_hashes + [1] * (2 + len(frames))  # photo, video
    assert f"Sent {len(types)} hashes" in result.output
    assert hashlib.md5(video.read_bytes()).hexdigest() not in result.output  # hashes are not echoed


def test_protect_refuses_without_confirmation(corpus: Path, portal: tuple[str, str]) -> None:
    base, _ = portal
    photo = corpus / "pdq-fixtures" / "bridge-mods" / "aaa-orig.jpg"
    result = CliRunner().invoke(app, ["protect", str(photo), "--server", base], input="n\n")
    assert result.exit_code == 1
    assert "Nothing was sent." in result.output


def test_protect_with_nothing_hashable_sends_nothing(portal: tuple[str, str], tmp_path: Path) -> None:
    base, _ = portal
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    result = CliRunner().invoke(app, ["protect", str(empty), "--server", base, "--yes"])
    assert result.exit_code == 1
    assert "nothing was sent" in result.output
