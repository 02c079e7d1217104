"""``redline hash`` and ``redline compare`` through Typer's test runner."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from redline.cli.main import app
from redline.signals import hash_image
from tests.support.media import encode

pytestmark = pytest.mark.shared

runner = CliRunner()


@pytest.fixture()
def folder(tmp_path: Path, photo: Image.Image, corpus: Path) -> Path:
    """photos/a.png, photos/sub/b.jpg, photos/sub/clip.mp4, photos/notes.txt, photos/.hidden.png."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    (root / "a.png").write_bytes(encode(photo.resize((200, 133)), "PNG"))
    (root / "sub" / "b.jpg").write_bytes(encode(photo.rotate(90, expand=True).resize((133, 200)), "JPEG"))
    shutil.copy(corpus / "videos/clips/doc_medias/example2.mp4", root / "sub" / "clip.mp4")
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(encode(photo.resize((20, 20)), "PNG"))
    return root


def _jsonl(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_hash_folder_as_json_lines(folder: Path) -> None:
    result = runner.invoke(app, ["hash", str(folder), "--fps", "2"])
    assert result.exit_code == 0, result.stderr
    records = _jsonl(result.stdout)
    assert [Path(str(r["path"])).name for r in records] == ["a.png", "b.jpg", "clip.mp4"]
    image, _, video = records
    assert image["media_type"] == "image" and image == {
        "path": str(folder / "a.png"),
        **hash_image(folder / "a.png").to_dict(),
    }
    assert video["media_type"] == "video" and video["fps"] == 2.0 and len(video["frames"]) >= 3
    assert "skipped 1 file" in result.stderr  # notes.txt; the hidden file is not counted


def test_bad_files_get_an_error_record_and_exit_status_1(folder: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    result = runner.invoke(
        app,
        ["hash", str(folder / "a.png"), str(empty), str(folder / "notes.txt"), str(tmp_path / "missing.png")],
    )
    assert result.exit_code == 1
    records = _jsonl(result.stdout)
    assert "pdq" in records[0]
    assert [r["error"]["code"] for r in records[1:]] == ["empty_file", "unsupported_format", "unreadable"]
    assert "3 of 4 file(s) could not be hashed" in result.stderr


def test_csv_output_with_parallel_jobs(folder: Path) -> None:
    result = runner.invoke(app, ["hash", str(folder), "--format", "csv", "--jobs", "2", "--fps", "1"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [Path(r["path"]).name for r in rows] == ["a.png", "b.jpg", "clip.mp4"]
    assert rows[0]["pdq"] == hash_image(folder / "a.png").pdq and rows[0]["pdq_rot90"]
    assert rows[2]["media_type"] == "video" and rows[2]["format"] == "MP4"
    frames = rows[2]["frames"].split(" ")
    assert int(rows[2]["frame_count"]) == len(frames) >= 2
    timestamp, quality, pdq = frames[0].split(":")
    assert float(timestamp) == 0.0 and 0 <= int(quality) <= 100 and len(pdq) == 64


def test_no_progress_bar_when_stderr_is_not_a_terminal(folder: Path) -> None:
    result = runner.invoke(app, ["hash", str(folder / "a.png")])
    assert result.stderr == ""


def test_compare_two_images(folder: Path, photo: Image.Image, tmp_path: Path) -> None:
    copy = tmp_path / "copy.webp"
    copy.write_bytes(encode(photo.resize((200, 133)), "WEBP", quality=80))
    result = runner.invoke(app, ["compare", str(folder / "a.png"), str(copy)])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["verdict"] == "match" and out["distance"] <= 31

    same = runner.invoke(app, ["compare", str(folder / "a.png"), str(folder / "a.png")])
    assert json.loads(same.stdout)["verdict"] == "identical"

    rotated = tmp_path / "rotated.png"
    rotated.write_bytes(encode(photo.resize((200, 133)).transpose(Image.Transpose.ROTATE_90), "PNG"))
    turned = json.loads(runner.invoke(app, ["compare", str(folder / "a.png"), str(rotated)]).stdout)
    assert turned["verdict"] == "match_rotated" and turned["distance"] > 31


def test_compare_a_file_with_a_hash_and_two_hashes(folder: Path, corpus: Path) -> None:
    pdq = hash_image(folder / "a.png").pdq
    out = json.loads(runner.invoke(app, ["compare", str(folder / "a.png"), pdq.upper()]).stdout)
    assert out["verdict"] == "match" and out["distance"] == 0
    other = hash_image(corpus / "pdq-fixtures/bridge-mods/aaa-orig.jpg").pdq
    far = json.loads(runner.invoke(app, ["compare", pdq, other, "--threshold", "20"]).stdout)
    assert far["verdict"] == "no_match" and far["threshold"] == 20


def test_compare_low_quality(tmp_path: Path) -> None:
    flat = tmp_path / "flat.png"
    flat.write_bytes(encode(Image.new("RGB", (64, 64), (90, 90, 90)), "PNG"))
    other = tmp_path / "flat2.png"
    other.write_bytes(encode(Image.new("RGB", (64, 64), (91, 90, 90)), "PNG"))
    assert (
        json.loads(runner.invoke(app, ["compare", str(flat), str(other)]).stdout)["verdict"] == "low_quality"
    )


def test_compare_videos(corpus: Path) -> None:
    clip = corpus / "videos/clips/doc_medias/example2.mp4"
    source = corpus / "videos/clips/big_buck_bunny_0_30.webm"
    out = json.loads(runner.invoke(app, ["compare", str(clip), str(source), "--fps", "2"]).stdout)
    assert out["verdict"] == "match" and out["query_match_pct"] >= 80


def test_compare_refuses_unusable_input(folder: Path) -> None:
    bad = runner.invoke(app, ["compare", "not-a-hash", str(folder / "a.png")])
    assert bad.exit_code == 2 and "neither an existing file nor a PDQ hash" in bad.stderr
    mixed = runner.invoke(app, ["compare", str(folder / "a.png"), str(folder / "sub/clip.mp4")])
    assert mixed.exit_code == 2 and "image with a video" in mixed.stderr
    broken = runner.invoke(app, ["compare", str(folder / "notes.txt"), str(folder / "a.png")])
    assert broken.exit_code == 2
