"""Issue #11 item 10 as a reviewer and a webhook receiver see it: one exact upload matching one survivor
picture (md5, sha256, pdq) is one row in the console's queue and one delivered ``match.created``."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from redline.actions.models import WebhookEvent
from redline.match.service import Query
from tests.support import ATTESTATION, wait_until
from tests.support.apps import App, login
from tests.support.media import neutral_png, picture_hashes
from tests.support.receiver import Receiver


def test_one_upload_of_one_picture_is_one_console_item_and_one_delivered_event(
    web: App, tmp_path: Path
) -> None:
    image = neutral_png(3)
    hashes = picture_hashes(image, 0)
    created = web.client.post("/v1/cases", json={"hashes": hashes, "attestation": ATTESTATION})
    assert created.status_code == 201
    matcher = web.client.app.state.services.matcher  # type: ignore[attr-defined]
    wait_until(lambda: bool(matcher.match([Query("pdq", hashes[2]["value"])])[0]))
    platform = web.key("match", "review", partner="platform-a")
    with Receiver(tmp_path / "rx.jsonl") as rx:
        hook = web.client.post(
            "/v1/webhooks",
            headers=web.key("admin"),
            json={"url": rx.url, "event_types": ["match.created"], "partner": "platform-a"},
        )
        assert hook.status_code == 201, hook.text
        response = web.client.post(
            "/v1/match/file",
            headers=platform,
            files={"file": ("upload.png", image, "image/png")},
            data={"content_id": "post-9"},
        )
        assert response.status_code == 200, response.text
        matches = [m for r in response.json()["results"] for m in r["matches"]]
        assert sorted(m["type"] for m in matches) == ["md5", "pdq", "sha256"]
        [item_id] = {m["review_item_id"] for m in matches}
        wait_until(lambda: len(rx.records()) >= 1)
        with web.db.read() as s:  # written in the match's transaction: every event there is is here
            assert s.scalar(select(func.count()).select_from(WebhookEvent)) == 1
        [record] = rx.records()  # one event for the picture, not one per hash
    payload = json.loads(str(record["body"]))
    assert payload["type"] == "match.created" and payload["data"]["review_item_id"] == item_id
    assert sorted(m["signal_type"] for m in payload["data"]["matches"]) == ["md5", "pdq", "sha256"]

    web.user("rita")
    login(web.client, "rita")
    queue = web.client.get("/console/").text
    assert queue.count("<tr data-item=") == 1 and f'data-item="{item_id}"' in queue
