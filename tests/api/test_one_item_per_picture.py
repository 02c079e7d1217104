"""One platform upload matching one survivor picture is one review item and one ``match.created`` event
(issue #11 item 10), in the API and the console; the match log still keeps every matched hash."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import func, select

from redline.actions.models import MatchLogEntry, WebhookEvent
from redline.match.service import Query
from redline.review.models import ReviewItem
from tests.support import wait_until
from tests.support.apps import Api, subscribe
from tests.support.media import neutral_png, picture_hashes


def rings_png() -> bytes:
    """A second neutral picture, unlike ``neutral_png`` (far apart in PDQ and in every crop)."""
    y, x = np.mgrid[0:256, 0:256] / 256.0
    radius = np.hypot(x - 0.3, y - 0.6)
    image = np.stack([np.sin(radius * 40), np.cos(x * 30) * np.sin(y * 3), np.sin(radius * 11 + x * 4)], -1)
    buffer = io.BytesIO()
    Image.fromarray(((image + 1) * 127).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def indexed(api: Api, pdq: str) -> None:
    """Wait until the live index has the case (read-only: it makes no match log row or review item)."""
    matcher = api.client.app.state.services.matcher  # type: ignore[attr-defined]
    wait_until(lambda: bool(matcher.match([Query("pdq", pdq)])[0]), timeout=2.0)


def created_events(api: Api) -> list[dict[str, Any]]:
    with api.db.read() as s:
        rows = s.scalars(select(WebhookEvent).where(WebhookEvent.type == "match.created")).all()
        return [r.payload["data"] for r in rows]


def count(api: Api, model: type[Any]) -> int:
    with api.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_an_exact_upload_of_one_picture_is_one_review_item_and_one_event(api: Api) -> None:
    image, other_image = neutral_png(3), rings_png()
    case_hashes = picture_hashes(image, 0)
    case = api.submit([*case_hashes, *picture_hashes(other_image, 1)])
    key = api.key("match", "review")
    subscribe(api)
    upload = {"file": ("upload.png", image, "image/png")}
    indexed(api, case_hashes[2]["value"])

    response = api.client.post(
        "/v1/match/file", headers=key, files=upload, data={"content_id": "post-1", "metadata": "{}"}
    )
    assert response.status_code == 200, response.text
    matches = [m for r in response.json()["results"] for m in r["matches"]]
    assert sorted(m["type"] for m in matches) == ["md5", "pdq", "sha256"]
    assert {m["action"] for m in matches} == {"block_and_review"}
    # One review item for the picture; every match in the response points at it.
    [item_id] = {m["review_item_id"] for m in matches}
    assert item_id is not None
    items = api.client.get("/v1/review/items", headers=key).json()
    assert [i["id"] for i in items] == [item_id]
    assert sorted(m["type"] for m in items[0]["matches"]) == ["md5", "pdq", "sha256"]
    assert items[0]["distance"] == 0 and items[0]["action"] == "block_and_review"
    # One match.created event listing every matched signal; the match log keeps one row per hash.
    [event] = created_events(api)
    assert event["review_item_id"] == item_id and event["content_id"] == "post-1"
    assert sorted(m["signal_type"] for m in event["matches"]) == ["md5", "pdq", "sha256"]
    assert sorted(m["match_id"] for m in event["matches"]) == sorted(m["match_id"] for m in matches)
    assert count(api, MatchLogEntry) == 3

    # The same content again: still the one item (reused), one more event for the new request.
    again = api.client.post("/v1/match/file", headers=key, files=upload, data={"content_id": "post-1"})
    assert {m["review_item_id"] for r in again.json()["results"] for m in r["matches"]} == {item_id}
    assert count(api, ReviewItem) == 1 and len(created_events(api)) == 2

    # One decision covers the picture: deciding the item leaves nothing of this upload in the queue.
    verdict = {"decision": "confirm"}
    decided = api.client.post(f"/v1/review/items/{item_id}/decision", headers=key, json=verdict)
    assert decided.status_code == 200
    assert api.client.get("/v1/review/items", headers=key).json() == []
    assert case["case_id"] not in str(created_events(api))


def test_hashes_sent_as_one_content_are_grouped_per_picture_and_a_batch_is_not(api: Api) -> None:
    image, other_image = neutral_png(3), rings_png()
    first, second = picture_hashes(image, 0), picture_hashes(other_image, 1)
    api.submit([*first, *second])
    key = api.key("match", "review")
    subscribe(api)
    region = next(h for h in first if h["type"] == "pdq_region")
    # md5 + sha256 + pdq + one pdq_region of picture 0, and the pdq of picture 1 (the case's second picture).
    queries = [{"type": h["type"], "value": h["value"]} for h in (*first[:3], region, second[2])]
    indexed(api, second[2]["value"])
    batch = api.client.post("/v1/match", headers=key, json={"hashes": queries}).json()["results"]
    assert all(r["matches"] for r in batch)
    before_items, before_events = count(api, ReviewItem), len(created_events(api))
    # A batch of unrelated hashes (no content_id) keeps one item and one event per matched hash, as before.
    batch_matches = [m for r in batch for m in r["matches"]]
    assert len({m["review_item_id"] for m in batch_matches}) == len(batch_matches) == before_items
    assert before_events == len(batch_matches) > 5  # the region query matched several crops

    body = {"hashes": queries, "content_id": "post-2"}
    results = api.client.post("/v1/match", headers=key, json=body).json()["results"]
    # As one piece of content: the region query adds nothing for a case the plain hashes matched.
    assert [len(r["matches"]) for r in results] == [1, 1, 1, 0, 1]
    items = [r["matches"][0]["review_item_id"] for r in results if r["matches"]]
    assert len(set(items[:3])) == 1 and items[3] != items[0]  # picture 0 once, picture 1 once
    assert count(api, ReviewItem) == before_items + 2
    events = created_events(api)[before_events:]
    assert len(events) == 2
    by_item = {e["review_item_id"]: sorted(m["signal_type"] for m in e["matches"]) for e in events}
    assert by_item == {items[0]: ["md5", "pdq", "sha256"], items[3]: ["pdq"]}

    # The same content again through another of the picture's hashes: the picture's open item is reused.
    again = {"hashes": [{"type": "pdq", "value": first[2]["value"]}], "content_id": "post-2"}
    [result] = api.client.post("/v1/match", headers=key, json=again).json()["results"]
    assert result["matches"][0]["review_item_id"] == items[0]
    assert count(api, ReviewItem) == before_items + 2
