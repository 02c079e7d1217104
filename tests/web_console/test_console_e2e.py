"""End to end in Chromium: reviewers sign in, look, decide; the effects are visible — the webhook reaches a
local receiver, the entry's counts change, and K independent rejections quarantine the entry."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from redline.bank import service
from redline.bank.models import Entry
from redline.review import accounts
from tests.support import ATTESTATION, PASSWORD, wait_until
from tests.support.apps import Live
from tests.support.receiver import Receiver

PDQ = "f" * 64
NEAR = "0" * 5 + "f" * 59

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def key(live: Live, *scopes: str, partner: str | None = None) -> dict[str, str]:
    with live.db.write() as s:
        _, token = service.create_api_key(
            s, name="-".join(scopes), scopes=scopes, actor="test", partner=partner
        )
    return {"Authorization": f"Bearer {token}"}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 40)).save(out, "PNG")
    return out.getvalue()


def queue_match(client: httpx.Client, platform: dict[str, str], content_id: str) -> int:
    body: dict[str, Any] = {}

    def matched() -> bool:
        nonlocal body
        body = client.post(
            "/v1/match",
            headers=platform,
            json={"hashes": [{"type": "pdq", "value": NEAR}], "content_id": content_id},
        ).json()
        return bool(body["results"][0]["matches"])

    wait_until(matched)
    item_id: int = body["results"][0]["matches"][0]["review_item_id"]
    put = client.put(
        f"/v1/review/items/{item_id}/preview",
        headers={**platform, "content-type": "image/png"},
        content=png(),
    )
    assert put.status_code == 200, put.text
    return item_id


def sign_in(chromium: Any, live: Live, username: str) -> Any:
    page = chromium.new_context().new_page()
    page.goto(live.url + "/console/")
    assert page.url.endswith("/console/login")  # not signed in: sent to the sign-in page
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live.url + "/console/")
    return page


def reject(page: Any, live: Live, item_id: int, note: str) -> None:
    page.goto(live.url + "/console/")
    page.click(f'tr[data-item="{item_id}"] a')
    image = page.locator(f"#preview-{item_id}")
    image.wait_for()
    # Reviewer wellbeing: blurred and greyscale until revealed, on purpose.
    assert "blur" in image.evaluate("e => getComputedStyle(e).filter")
    assert "grayscale" in image.evaluate("e => getComputedStyle(e).filter")
    page.get_by_text("Reveal image").click()
    wait_until(lambda: image.evaluate("e => getComputedStyle(e).filter") == "none")
    page.get_by_label("Not intimate-image abuse").check()
    page.get_by_label("Note (shown in the decision history)").fill(note)
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_url(f"{live.url}/console/?decided={item_id}")
    assert f"Decision recorded for item {item_id}" in page.content()


def test_reviewers_decide_and_the_effects_show(chromium: Any, live: Live, tmp_path: Path) -> None:
    errors: list[str] = []
    with httpx.Client(base_url=live.url) as client, Receiver(tmp_path / "rx.jsonl") as rx:
        assert (
            client.post(
                "/v1/cases",
                json={"hashes": [{"type": "pdq", "value": PDQ, "quality": 90}], "attestation": ATTESTATION},
            ).status_code
            == 201
        )
        admin = key(live, "admin")
        hook = client.post(
            "/v1/webhooks",
            headers=admin,
            json={"url": rx.url, "event_types": ["review.decided", "entry.quarantined"]},
        )
        assert hook.status_code == 201, hook.text
        platform = key(live, "match", "review", partner="platform-a")
        first = queue_match(client, platform, "post-1")
        with live.db.write() as s:
            for name in ("rita", "sam"):
                accounts.create_user(s, username=name, password=PASSWORD, role="reviewer", actor="test")

        rita = sign_in(chromium, live, "rita")
        rita.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        reject(rita, live, first, "a company logo")
        # The webhook reached the platform's receiver, signed, saying NotBlocked.
        wait_until(lambda: any('"NotBlocked"' in str(r["body"]) for r in rx.records()))
        rita.goto(f"{live.url}/console/items/{first}")
        assert "0 confirmed, 1 rejected" in rita.locator("#entry-counts").inner_text()
        rita.goto(live.url + "/console/history")
        assert "a company logo" in rita.content()

        # A second, independent reviewer rejects another match of the same entry: K = 2 -> quarantined.
        second = queue_match(client, platform, "post-2")
        sam = sign_in(chromium, live, "sam")
        reject(sam, live, second, "not abuse")
        sam.goto(f"{live.url}/console/items/{second}")
        counts = sam.locator("#entry-counts").inner_text()
        assert "2 rejected" in counts and "flagged for operator audit" in counts
        wait_until(
            lambda: any(json.loads(str(r["body"]))["type"] == "entry.quarantined" for r in rx.records())
        )
        with live.db.read() as s:
            assert s.query(Entry).one().status == "quarantined"
        # ...and it no longer matches.
        after = client.post("/v1/match", headers=platform, json={"hashes": [{"type": "pdq", "value": NEAR}]})
        assert after.json()["results"][0]["matches"] == []
    assert errors == []  # no CSP violations or script errors
