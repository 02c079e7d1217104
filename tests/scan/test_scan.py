"""``redline scan`` against a real server: matches like ``/v1/match/file``, marked as scan results; bad files
counted by code; idempotent per scan and content id."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import select

from redline.actions.models import MatchLogEntry, WebhookEvent
from redline.review.models import ReviewItem
from tests.support.media import PHOTO, photo_copies
from tests.support.scan import Hub, pattern_png, run_scan


def edited_copy(photo: Path) -> bytes:
    """An edited copy of a corpus photo: cropped, framed and recompressed (caught by robust matching)."""
    _, copies = photo_copies(photo.parents[3])
    buffer = io.BytesIO()
    copies["cropped and framed"].save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "hosted"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def report_rows(report: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in report.read_text().splitlines()]


def test_a_scan_matches_hosted_files_as_uploads_are_matched_and_marks_them(
    hub: Hub, corpus: Path, tmp_path: Path
) -> None:
    picture, other = (corpus / PHOTO).read_bytes(), pattern_png(2)
    hub.protect(picture)
    hub.subscribe()
    key = hub.key("match")
    edited = edited_copy(corpus / PHOTO)
    root = folder(
        tmp_path,
        {
            "a/exact.png": picture,
            "a/edited.jpg": edited,
            "b/unrelated.png": other,
            "b/broken.png": picture[:200],  # a PNG cut short
            "notes.txt": b"not media",
            ".hidden/exact.png": picture,
        },
    )
    report = tmp_path / "report.jsonl"
    done = run_scan(root, hub, key, report, "--jobs", "2", "--batch-size", "2")
    assert done.returncode == 0, done.stderr
    assert "scanned 5 file(s), 1 skipped" in done.stderr

    rows = report_rows(report)
    errors = [r for r in rows if r["kind"] == "error"]
    assert [(r["content_id"], r["error"]) for r in errors] == [("b/broken.png", "truncated")]
    matched = {(r["content_id"], r["type"]) for r in rows if r["kind"] == "match"}
    assert {t for c, t in matched if c == "a/exact.png"} == {"md5", "sha256", "pdq"}
    assert {t for c, t in matched if c == "a/edited.jpg"} == {"pdq_region"}
    assert not {c for c, _ in matched} - {"a/exact.png", "a/edited.jpg"}

    # Exactly what /v1/match/file finds for the same edited file (same entry, same distance).
    upload = httpx.post(
        hub.url + "/v1/match/file",
        headers={"authorization": f"Bearer {key}"},
        files={"file": ("edited.jpg", edited, "image/jpeg")},
        timeout=60,
    ).json()
    by_upload = sorted((m["entry_id"], m["distance"]) for r in upload["results"] for m in r["matches"])
    by_scan = sorted((r["entry_id"], r["distance"]) for r in rows if r["content_id"] == "a/edited.jpg")
    assert by_scan == by_upload and by_upload

    with hub.db.read() as s:
        logged = s.scalars(select(MatchLogEntry).where(MatchLogEntry.origin == "scan")).all()
        events = [e.payload["data"] for e in s.scalars(select(WebhookEvent)) if e.type == "match.created"]
        items = s.scalars(select(ReviewItem)).all()
    assert sorted((m.content_id, m.query_type) for m in logged) == sorted(
        (str(c), str(t)) for c, t in matched
    )
    assert len({m.scan_id for m in logged}) == 1
    scan_events = [e for e in events if e["origin"] == "scan"]
    assert sorted(e["content_id"] for e in scan_events) == ["a/edited.jpg", "a/exact.png"]
    assert all(e["scan_id"] == logged[0].scan_id for e in scan_events)
    # One review item per hosted file showing the picture (the upload above reuses neither).
    assert {m.review_item_id for m in logged if m.content_id == "a/exact.png"} != {None}
    assert len({m.review_item_id for m in logged}) == 2 and len(items) >= 2


def test_a_manifest_names_content_ids_and_its_bad_lines_are_counted(hub: Hub, tmp_path: Path) -> None:
    picture = pattern_png(4)
    hub.protect(picture)
    key = hub.key("match")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "x.png").write_bytes(picture)
    (tmp_path / "files" / "notes.txt").write_bytes(b"not media")
    manifest = tmp_path / "hosted.jsonl"
    lines = [
        {"content_id": "post-17", "path": "files/x.png"},
        {"content_id": "post-18", "path": "files/notes.txt"},  # named on purpose: an error, not a skip
        {"content_id": "post-19", "path": "files/missing.png"},
        {"content_id": "x" * 300, "path": "files/x.png"},
    ]
    manifest.write_text("\n".join([*(json.dumps(line) for line in lines), "{not json"]) + "\n")
    report = tmp_path / "report.csv"
    done = run_scan(manifest, hub, key, report, "--format", "csv")
    assert done.returncode == 0, done.stderr
    text = report.read_text()
    assert text.splitlines()[0].startswith("kind,content_id,path,match_id")
    assert text.count("match,post-17,") == 3
    for code in ("unsupported_format", "unreadable", "invalid_content_id", "invalid_manifest_line"):
        assert f",{code}," in text, code


def test_the_server_acts_once_per_scan_and_content_id(hub: Hub, tmp_path: Path) -> None:
    picture = pattern_png(5)
    hub.protect(picture)
    key, other_key = hub.key("match"), hub.key("match")
    import hashlib

    files = [{"content_id": "post-1", "hashes": [{"type": "md5", "value": hashlib.md5(picture).hexdigest()}]}]

    def send(token: str, body: object, scan: str = "scan-aaaaaaaa") -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"}
        return httpx.post(f"{hub.url}/v1/scans/{scan}/files", headers=headers, json=body, timeout=30)

    first = send(key, {"files": files}).json()["files"]
    again = send(key, {"files": files}).json()["files"]
    assert [f["already"] for f in first + again] == [False, True]
    assert again[0]["matches"] == first[0]["matches"] and len(first[0]["matches"]) == 1
    # Another key's scan id is its own: it learns nothing of this key's logged matches.
    assert send(other_key, {"files": files}).json()["files"][0]["already"] is False
    with hub.db.read() as s:
        assert len(s.scalars(select(MatchLogEntry)).all()) == 2
    # The allowance of a region hash is the server's to decide; a caller cannot widen its threshold.
    region = {"type": "pdq_region", "value": "0" * 64, "allowance": 90}
    refused = send(key, {"files": [{"content_id": "p", "hashes": [region]}]})
    assert refused.status_code == 422
    assert send(key, {"files": files}, scan="bad id").status_code in (404, 422)
    assert send("rl_wrong", {"files": files}).status_code == 401


def test_bad_files_keep_their_signal_error_codes(tmp_path: Path) -> None:
    from redline.config import Settings
    from redline.scan.hashing import hash_item
    from redline.scan.sources import ScanItem

    (tmp_path / "empty.png").write_bytes(b"")
    noise = np.random.default_rng(1).integers(0, 255, 500, dtype=np.uint8).tobytes()
    (tmp_path / "noise.jpg").write_bytes(b"\xff\xd8\xff" + noise)
    settings = Settings(data_dir=tmp_path)
    codes = {
        name: hash_item(ScanItem(name, str(tmp_path / name)), settings).error
        for name in ("empty.png", "noise.jpg", "absent.png")
    }
    assert codes == {"empty.png": "empty_file", "noise.jpg": "truncated", "absent.png": "unreadable"}
