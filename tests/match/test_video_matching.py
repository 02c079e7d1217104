"""Perceptual video matching end to end (issue #18): a survivor's video is stored as its frame hashes in one
case item; re-encoded and trimmed copies match through ``/v1/match/file`` and ``/v1/match``, both ways, with
time ranges on one review item; frame grabs match as pictures; withdrawal stops all of it at once."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from redline.cli.protect import hashes_of
from redline.match.service import Query
from redline.review.models import ReviewItem
from redline.signals import ImageSignals, VideoSignals, hash_file
from redline.signals.video import stored_frames
from redline.web.console.render import _video_overlap, clock
from tests.support import wait_until
from tests.support.apps import Api
from tests.support.video import Frame, edited, pattern_frames, write_clip


class Media:
    """The clips, their edited copies and their signals, made once for the module: each test runs on both
    databases with the same clips, and encoding and hashing them is most of its time. The tests only read
    these files; the server still hashes every upload itself."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hashed: dict[str, ImageSignals | VideoSignals] = {}

    def _path(self, key: object, name: str) -> Path:
        folder = self.folder / hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        folder.mkdir(exist_ok=True)
        return folder / name

    def clip(self, name: str, frames: list[Frame]) -> Path:
        """``write_clip`` of ``frames``, encoded the first time these frames are asked for."""
        content = hashlib.sha256(b"".join(f.tobytes() for f in frames)).hexdigest()
        path = self._path((content, len(frames), frames[0].shape), name)
        return path if path.exists() else write_clip(path, frames)

    def edit(self, source: Path, name: str, *args: str) -> Path:
        """``edited(source, ..., *args)``, made the first time it is asked for."""
        path = self._path((str(source), args), name)
        return path if path.exists() else edited(source, path, *args)

    def signals(self, path: Path) -> ImageSignals | VideoSignals:
        """``hash_file(path)``, computed once per file content."""
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        if content not in self.hashed:
            self.hashed[content] = hash_file(path)
        return self.hashed[content]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("videos"))


def video_case(api: Api, media: Media, path: Path, item: int = 0) -> dict[str, Any]:
    """What ``redline protect`` (and the portal) sends for a video, submitted as a case."""
    signals = media.signals(path)
    hashes = [{**h, "item": item} for h in hashes_of(signals)]
    moments = {h["at_ms"] for h in hashes if h["type"] == "vpdq"}  # each kept frame: whole, crop (, box)
    assert len(moments) == len(stored_frames(signals.frames)) > 3
    case = api.submit(hashes)
    matcher = api.client.app.state.services.matcher  # type: ignore[attr-defined]
    first = next(h["value"] for h in hashes if h["type"] == "vpdq")
    wait_until(lambda: bool(matcher.match([Query("vpdq", first)])[0]), timeout=3.0)
    return case


def upload(api: Api, key: dict[str, str], path: Path, content_id: str) -> dict[str, Any]:
    kind = "video/mp4" if path.suffix == ".mp4" else "image/png"
    response = api.client.post(
        "/v1/match/file",
        headers=key,
        files={"file": (path.name, path.read_bytes(), kind)},
        data={"content_id": content_id},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def review_items(api: Api) -> list[ReviewItem]:
    with api.db.read() as session:
        return list(session.scalars(select(ReviewItem).order_by(ReviewItem.id)))


def test_a_reencoded_trimmed_copy_matches_as_one_review_item_with_time_ranges(api: Api, media: Media) -> None:
    original = media.clip("original.mp4", pattern_frames(seed=1, seconds=12))
    video_case(api, media, original)
    key = api.key("match", "review")
    # Re-encoded at a lower quality, the first 3 s cut away: the clip is all in the stored video.
    copy = media.edit(original, "copy.mp4", "-ss", "3", "-c:v", "libx264", "-crf", "32")
    body = upload(api, key, copy, "post-1")
    [video] = body["videos"]
    assert video["upload_match_pct"] >= 80 and 50 <= video["stored_match_pct"] <= 90
    assert video["upload_ranges"][0]["start_s"] <= 1.0 and video["upload_ranges"][-1]["end_s"] >= 8.0
    assert video["stored_ranges"][0]["start_s"] >= 2.5  # the stored video's part the copy shows
    matched = [m for r in body["results"] for m in r["matches"] if m["type"] == "vpdq"]
    assert len(matched) >= 5 and {m["review_item_id"] for m in matched} == {video["review_item_id"]}
    [item] = review_items(api)  # one upload, one stored video: one review item, with the overlap
    assert item.id == video["review_item_id"] and item.video is not None
    assert item.video["stored_ranges"] == [[r["start_s"], r["end_s"]] for r in video["stored_ranges"]]
    [listed] = api.client.get("/v1/review/items", headers=key).json()
    assert listed["video"]["upload_ranges"] == item.video["upload_ranges"]
    # The reviewer's console says which moments match, as a player shows them.
    shown = _video_overlap(item.video)
    start, end = item.video["stored_ranges"][0]
    assert f"stored video {clock(start)}–{clock(end)}" in shown and "frames in common" in shown


def test_clock_reads_like_a_player() -> None:
    assert [clock(s) for s in (0, 7.9, 62, 3723)] == ["0:00", "0:07", "1:02", "1:02:03"]


def test_a_long_upload_containing_the_stored_clip_matches_the_other_way(api: Api, media: Media) -> None:
    frames = pattern_frames(seed=2, seconds=16)
    short = media.clip("short.mp4", frames[40:100])  # 6 s of it
    video_case(api, media, short)
    key = api.key("match")
    long = media.clip("long.mp4", frames)
    [video] = upload(api, key, long, "long-1")["videos"]
    assert video["stored_match_pct"] >= 80 and video["upload_match_pct"] < 60


def test_unrelated_videos_do_not_match_and_frames_alone_do_not_make_a_video(api: Api, media: Media) -> None:
    video_case(api, media, media.clip("a.mp4", pattern_frames(seed=3, seconds=10)))
    key = api.key("match")
    body = upload(api, key, media.clip("b.mp4", pattern_frames(seed=4, seconds=10)), "other")
    assert body["videos"] == [] and not [m for r in body["results"] for m in r["matches"]]
    assert review_items(api) == []


def test_frame_hashes_sent_to_match_are_judged_as_one_video(api: Api, media: Media) -> None:
    original = media.clip("original.mp4", pattern_frames(seed=5, seconds=10))
    video_case(api, media, original)
    key = api.key("match")
    queries = [h for h in hashes_of(media.signals(original)) if h["type"] == "vpdq"]
    sent = [{"type": "vpdq", "value": h["value"], "at_ms": h["at_ms"]} for h in queries]
    response = api.client.post("/v1/match", headers=key, json={"hashes": sent, "content_id": "c-1"})
    assert response.status_code == 200, response.text
    [video] = response.json()["videos"]
    assert video["upload_match_pct"] == 100 and video["stored_match_pct"] == 100
    # at_ms belongs to frame hashes only.
    bad = {"hashes": [{"type": "pdq", "value": queries[0]["value"], "at_ms": 5}]}
    assert api.client.post("/v1/match", headers=key, json=bad).status_code == 422


def test_a_frame_grab_matches_the_video_and_video_frames_match_a_picture(
    api: Api, media: Media, tmp_path: Path
) -> None:
    frames = pattern_frames(seed=6, seconds=10)
    path = media.clip("v.mp4", frames)
    video_case(api, media, path)
    key = api.key("match")
    moment = next(f for f in stored_frames(media.signals(path).frames) if f.timestamp_s >= 4)
    grab = tmp_path / "grab.png"
    Image.fromarray(frames[round(moment.timestamp_s * 10)]).save(grab)  # a still, posted as a picture
    [video] = upload(api, key, grab, "grab-1")["videos"]
    assert video["upload_match_pct"] == 100 and video["matched_frames"] >= 1
    assert video["stored_ranges"][0]["start_s"] == moment.timestamp_s and video["upload_ranges"] == []

    # A survivor's photo shown in someone's video: the video's frames match the picture's pdq entry.
    photo = io.BytesIO()
    Image.fromarray(frames[70]).save(photo, format="PNG")
    picture = hash_file(_write(tmp_path / "photo.png", photo.getvalue()))
    api.submit([{**h, "item": 0} for h in hashes_of(picture)])
    matcher = api.client.app.state.services.matcher  # type: ignore[attr-defined]
    wait_until(lambda: bool(matcher.match([Query("pdq", picture.pdq)])[0]), timeout=3.0)
    other_video = media.clip("shown.mp4", [*pattern_frames(seed=7, seconds=4), *frames[60:80]])
    body = upload(api, key, other_video, "shown-1")
    assert any(m["type"] == "pdq" for r in body["results"] for m in r["matches"])


def test_withdrawing_the_case_stops_every_frame_at_once(api: Api, media: Media) -> None:
    original = media.clip("original.mp4", pattern_frames(seed=8, seconds=10))
    case = video_case(api, media, original)
    key = api.key("match")
    assert upload(api, key, original, "before")["videos"]
    response = api.client.post(
        f"/v1/cases/{case['case_id']}/withdraw", headers={"X-Case-Secret": case["secret"]}
    )
    assert response.status_code == 200, response.text
    from redline.bank.models import Entry

    with api.db.read() as session:
        left = session.scalar(
            select(func.count()).where(Entry.case_id == case["case_id"], Entry.status == "active")
        )
    assert left == 0
    body = upload(api, key, original, "after")
    assert body["videos"] == [] and not [m for r in body["results"] for m in r["matches"]]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_review_verdicts_quarantine_the_whole_video(api: Api, media: Media) -> None:
    from redline.bank.models import Entry
    from redline.review import queue

    original = media.clip("original.mp4", pattern_frames(seed=9, seconds=8))
    case = video_case(api, media, original)
    key = api.key("match")
    # Three platforms' uploads of the video, three reviewers saying it is not this survivor's video.
    for n, reviewer in enumerate(["user:1", "user:2", "user:3"]):
        [video] = upload(api, key, original, f"copy-{n}")["videos"]
        with api.db.write() as session:
            outcome = queue.decide(
                session, video["review_item_id"], reviewer=reviewer, decision="reject", reject_quarantine=3
            )
    assert outcome.quarantined
    with api.db.read() as session:
        statuses = set(session.scalars(select(Entry.status).where(Entry.case_id == case["case_id"])))
    assert statuses == {"quarantined"}  # every frame of the video, and its digests: one unit
    matcher = api.client.app.state.services.matcher  # type: ignore[attr-defined]
    wait_until(lambda: upload(api, key, original, "after")["videos"] == [], timeout=3.0)
    assert matcher.ready.is_set()


def test_a_scanned_video_is_judged_like_an_upload(api: Api, media: Media) -> None:
    """``redline scan`` sends a hosted video's query hashes (with at_ms) to /v1/scans/{id}/files."""
    from redline.config import Settings
    from redline.match.derive import derive_queries
    from redline.scan.hashing import _at

    original = media.clip("original.mp4", pattern_frames(seed=10, seconds=8))
    video_case(api, media, original)
    key = api.key("match")
    derived = derive_queries(original, Settings())
    sent = [
        {"type": h.type, "value": h.value, "quality": h.quality, **_at(h.type, h.at_ms)}
        for h in derived.plain
    ]
    body = {"files": [{"content_id": "hosted-1", "hashes": sent}]}
    response = api.client.post("/v1/scans/scan-0001/files", headers=key, json=body)
    assert response.status_code == 200, response.text
    [scanned] = response.json()["files"]
    assert {m["type"] for m in scanned["matches"]} >= {"md5", "vpdq"}
    [item] = review_items(api)  # one review item for the hosted video, with its overlap
    assert item.video is not None and item.video["stored_pct"] == 100


def test_mirrored_and_letterboxed_copies_match_through_the_server(api: Api, media: Media) -> None:
    """The upload is looked up by each frame's mirror and content-box hashes too, not only the whole frame's
    (what ``redline compare`` and bench/video_recall.py count on)."""
    original = media.clip("original.mp4", pattern_frames(seed=11, seconds=10))
    video_case(api, media, original)
    key = api.key("match")
    flipped = media.edit(original, "mirror.mp4", "-vf", "hflip", "-c:v", "libx264")
    boxed = "scale=iw*0.7:ih*0.7,pad=iw/0.7:ih/0.7:(ow-iw)/2:(oh-ih)/2,scale=trunc(iw/2)*2:trunc(ih/2)*2"
    letterboxed = media.edit(original, "letterbox.mp4", "-vf", boxed, "-c:v", "libx264")
    for n, copy in enumerate([flipped, letterboxed]):
        [video] = upload(api, key, copy, f"copy-{n}")["videos"]
        assert video["upload_match_pct"] >= 80, (copy.name, video)


def test_a_watermarked_copy_matches_by_the_quadrants_it_left_alone(api: Api, media: Media) -> None:
    original = media.clip("original.mp4", pattern_frames(seed=12, seconds=10))
    signals = media.signals(original)
    assert all(len(f.quadrants) == 4 for f in signals.frames)
    video_case(api, media, original)
    key = api.key("match")
    boxes = "drawbox=x=iw*0.55:y=ih*0.7:w=iw*0.42:h=ih*0.25:color=white@0.9:t=fill"
    copy = media.edit(original, "marked.mp4", "-vf", boxes, "-c:v", "libx264")
    marked = media.signals(copy)
    whole = {f.at_ms: f.pdq for f in stored_frames(signals.frames)}
    moved = [pdq_distance(f.pdq, whole[f.at_ms]) for f in marked.frames if f.at_ms in whole]
    assert min(moved) > 31  # the box moves every whole-frame hash out of reach
    [video] = upload(api, key, copy, "marked-1")["videos"]
    assert video["upload_match_pct"] >= 80, video


def pdq_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
