"""Retroactive matching end to end: content checked first, a survivor's case later, a match within 5 s.

The real app (its retroactive worker running), real database; the pictures are neutral synthetic patterns.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image, ImageOps
from sqlalchemy import func, select, update

from redline.actions.models import MatchLogEntry, WebhookEvent
from redline.api.app import create_app
from redline.bank.models import Change, Entry
from redline.bank.status import change_status
from redline.retro.models import RetroCursor, SeenHash, SeenUpload
from redline.retro.worker import RetroConfig, RetroWorker
from redline.review.models import ReviewItem
from tests.support import wait_until
from tests.support.apps import Api, make_settings, subscribe
from tests.support.media import picture_hashes
from tests.support.scan import pattern_png


def upload(api: Api, key: dict[str, str], image: bytes, content_id: str) -> dict[str, Any]:
    response = api.client.post(
        "/v1/match/file",
        headers=key,
        files={"file": ("x.png", image, "image/png")},
        data={"content_id": content_id},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def retro_rows(api: Api) -> list[MatchLogEntry]:
    with api.db.read() as s:
        return list(s.scalars(select(MatchLogEntry).where(MatchLogEntry.origin == "retroactive")))


def searched_up_to_head(api: Api) -> bool:
    with api.db.read() as s:
        head = s.scalar(select(func.max(Change.seq))) or 0
        position = s.scalar(select(RetroCursor.position)) or 0
    return position >= head


def test_an_entry_that_goes_live_matches_content_checked_before_within_5_s(api: Api) -> None:
    subscribe(api)
    key = api.key("match")
    picture, other = pattern_png(11), pattern_png(12)
    assert not any(r["matches"] for r in upload(api, key, picture, "post-1")["results"])
    upload(api, key, other, "post-2")
    upload(api, key, picture, "post-1")  # checked again: its hashes replace the first check's
    response = api.client.post(
        "/v1/match", headers=key, json={"hashes": [{"type": "md5", "value": "c" * 32}]}
    )
    assert response.status_code == 200  # no content_id: nothing to refer to later, nothing kept
    with api.db.read() as s:
        assert sorted(s.scalars(select(SeenUpload.content_id))) == ["post-1", "post-2"]
        kept = s.scalars(select(SeenHash.label).where(SeenHash.signal_type == "pdq_region")).all()
    # Never the image: the plain hashes and the mirrored one (and the full region hash when it differs)
    assert kept.count("mirror") == 2 and set(kept) <= {"full", "mirror"}

    api.submit(picture_hashes(picture, 0))
    live = time.monotonic()
    wait_until(lambda: bool(retro_rows(api)), timeout=5.0)
    assert time.monotonic() - live <= 5.0

    wait_until(lambda: searched_up_to_head(api))
    rows = retro_rows(api)
    assert {r.content_id for r in rows} == {"post-1"}
    assert sorted(r.query_type for r in rows) == ["md5", "pdq", "sha256"]  # a region row only without these
    assert len({r.review_item_id for r in rows}) == 1 and rows[0].review_item_id is not None
    with api.db.read() as s:
        events = [e.payload["data"] for e in s.scalars(select(WebhookEvent)) if e.type == "match.created"]
        item = s.get(ReviewItem, rows[0].review_item_id)
    assert item is not None and item.content_id == "post-1"
    assert [(e["content_id"], e["origin"], e["retroactive"]) for e in events] == [
        ("post-1", "retroactive", True)
    ]
    assert sorted(m["signal_type"] for m in events[0]["matches"]) == ["md5", "pdq", "sha256"]

    # A new upload of the same picture is matched forward, as before, and not marked retroactive.
    forward = upload(api, key, picture, "post-9")
    assert any(r["matches"] for r in forward["results"])
    with api.db.read() as s:
        later = [e.payload["data"] for e in s.scalars(select(WebhookEvent)) if e.type == "match.created"]
    assert [e["retroactive"] for e in later] == [True, False]


def test_an_edited_copy_checked_before_is_found_by_its_kept_whole_upload_hashes(api: Api) -> None:
    """A mirrored copy: plain PDQ misses it; the kept ``mirror`` hash finds it against the stored crops."""
    key = api.key("match")
    picture = pattern_png(21)
    mirrored = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(picture))).save(mirrored, format="PNG")
    upload(api, key, mirrored.getvalue(), "mirrored-post")
    api.submit(picture_hashes(picture, 0))
    wait_until(lambda: bool(retro_rows(api)), timeout=5.0)
    wait_until(lambda: searched_up_to_head(api))
    rows = retro_rows(api)
    assert [(r.content_id, r.query_type) for r in rows] == [("mirrored-post", "pdq_region")]


def test_withdrawn_and_quarantined_entries_raise_nothing(api: Api) -> None:
    key = api.key("match")
    withdrawn, quarantined = pattern_png(31), pattern_png(32)
    upload(api, key, withdrawn, "w")
    upload(api, key, quarantined, "q")
    case = api.submit(picture_hashes(withdrawn, 0))
    response = api.client.post(
        f"/v1/cases/{case['case_id']}/withdraw", headers={"X-Case-Secret": case["secret"]}
    )
    assert response.status_code == 200, response.text
    second = api.submit(picture_hashes(quarantined, 0))
    with api.db.write() as s:
        entries = list(s.scalars(select(Entry).where(Entry.case_id == second["case_id"])))
        change_status(s, entries, "quarantined", actor="test", reason="test")
    wait_until(lambda: searched_up_to_head(api))
    assert retro_rows(api) == []


def test_a_restarted_worker_repeats_nothing(api: Api) -> None:
    key = api.key("match")
    picture = pattern_png(41)
    upload(api, key, picture, "post-r")
    api.submit(picture_hashes(picture, 0))
    wait_until(lambda: bool(retro_rows(api)), timeout=5.0)
    wait_until(lambda: searched_up_to_head(api))
    before = len(retro_rows(api))
    # Another worker (a restart, another machine), even one whose cursor went back to the start.
    other = RetroWorker(api.db, RetroConfig.from_settings(api.settings))
    assert other.run_once() == 0
    with api.db.write() as s:
        s.execute(update(RetroCursor).values(position=0))
    assert other.run_once() == 0
    assert len(retro_rows(api)) == before and searched_up_to_head(api)


def test_retention_0_keeps_nothing(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "data", seen_retention_days=0)
    app = create_app(settings)
    with TestClient(app) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200)
        api = Api(client, settings, app.state.services.db)
        key = api.key("match")
        upload(api, key, pattern_png(51), "post-0")
        with api.db.read() as s:
            assert s.scalar(select(func.count()).select_from(SeenUpload)) == 0


def test_scanned_files_are_kept_as_one_batch_and_found_later(api: Api) -> None:
    key = api.key("match")
    picture = picture_hashes(pattern_png(61), 0)
    plain = [{"type": h["type"], "value": h["value"]} for h in picture if h["type"] in ("md5", "pdq")]
    body = {
        "files": [
            {"content_id": "hosted-1", "hashes": plain},
            {"content_id": "hosted-2", "hashes": [{"type": "md5", "value": "d" * 32}]},
        ]
    }
    response = api.client.post("/v1/scans/scan-0001/files", headers=key, json=body)
    assert response.status_code == 200, response.text
    with api.db.read() as s:
        kept = s.execute(select(SeenUpload.content_id, SeenUpload.origin).order_by(SeenUpload.id)).all()
    assert [tuple(k) for k in kept] == [("hosted-1", "scan"), ("hosted-2", "scan")]
    # Sent again (a resumed scan, a re-run): one kept row per file still, the newer
    assert api.client.post("/v1/scans/scan-0001/files", headers=key, json=body).status_code == 200
    with api.db.read() as s:
        assert s.scalar(select(func.count()).select_from(SeenUpload)) == 2
    api.submit(picture)
    wait_until(lambda: bool(retro_rows(api)), timeout=5.0)
    wait_until(lambda: searched_up_to_head(api))
    assert sorted((r.content_id, r.query_type) for r in retro_rows(api)) == [
        ("hosted-1", "md5"),
        ("hosted-1", "pdq"),
    ]
