"""Notice-and-removal end to end in Chromium against the real app and database.

A requester files through the public form (bad input first: every field gets its own message and nothing
typed is lost), hashing the picture on her device; the "platform" already hosts the picture, an identical
copy and a re-encoded, resized and cropped copy; staff in the console resolve, remove and sweep; both copies
are found (exact and perceptual apart) and removed; the record shows times within 48 hours; the requester
sees the outcome. Then an expired clock: escalation and breach events reach the platform's webhook.
"""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect
from sqlalchemy import update

from redline.actions.outbox import register_endpoint
from redline.actions.urlpolicy import UrlPolicy
from redline.bank.models import utcnow
from redline.removal.models import RemovalRequest
from redline.retro.seen import WHOLE_UPLOAD_REACH
from tests.support import PASSWORD, wait_until
from tests.support.apps import Live
from tests.support.bank import new_key
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LANGS = ("en", "zh-Hant-HK", "zh-Hans")
#: Screenshots of the new pages, to look at (var/ is not committed).
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def neutral_picture() -> Image.Image:
    """Shapes and a gradient: a picture PDQ can hash with good quality, and nothing like a person."""
    img = Image.new("RGB", (800, 600))
    draw = ImageDraw.Draw(img)
    for x in range(0, 800, 4):
        draw.line([(x, 0), (x, 600)], fill=(x % 256, (x * 3) % 256, 120))
    for i in range(12):
        draw.ellipse(
            [40 + i * 55, 60 + (i % 4) * 110, 120 + i * 55, 150 + (i % 4) * 110],
            fill=(250 - i * 18, 40, i * 20),
        )
    draw.rectangle([300, 220, 520, 420], fill=(20, 200, 90))
    return img


def jpeg(img: Image.Image, quality: int = 92) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def check_upload(live: Live, key: str, content_id: str, data: bytes) -> None:
    response = httpx.post(
        f"{live.url}/v1/match/file",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": ("upload.jpg", data, "image/jpeg")},
        data={"content_id": content_id},
        timeout=60,
    )
    assert response.status_code == 200, response.text


def sign_in(page: Page, live: Live) -> None:
    from redline.review import accounts

    with live.db.write() as s:
        accounts.create_user(s, username="compliance", password=PASSWORD, role="admin", actor="test")
    page.goto(f"{live.url}/console/login")
    page.fill("input[name=username]", "compliance")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live.url}/console/")


def test_request_sweep_and_outcome_in_the_browser(chromium: Any, live: Live, tmp_path: Path) -> None:
    original = jpeg(neutral_picture())
    # 85% of the picture, a little off-centre, shrunk to 70% and re-encoded: ~42 bits from the nearest of
    # the requester's stored crops, beyond retroactive matching's reach (31), within the sweep's (64).
    cropped = neutral_picture().crop((68, 51, 748, 561)).resize((476, 357))
    recoded = jpeg(cropped, quality=70)
    picture = tmp_path / "holiday.jpg"
    picture.write_bytes(original)
    key = new_key(live.settings.database_url, "match", partner="platform-a")
    for content_id, data in (("post-1", original), ("post-2", original), ("post-3", recoded)):
        check_upload(live, key, content_id, data)

    context = chromium.new_context()
    sent: list[bytes] = []
    context.on("request", lambda r: sent.append(r.post_data_buffer or b""))
    page = context.new_page()
    page.goto(f"{live.url}/removal.html?lang=en")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    # Nothing chosen: the law first.
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("err-jurisdiction")).to_have_text("Choose the law you rely on.")
    page.get_by_test_id("j-us").check()
    page.get_by_test_id("submit").click()
    for field, text in {
        "subject": "Say whether you are the person shown or act for her or him.",
        "name": "Give your full name.",
        "email": "Give an e-mail address so we can tell you the outcome.",
        "signature": "Sign by typing your full name.",
        "items": "Give a link to the picture, or choose it on this device.",
        "statement-good_faith_non_consent": "Tick this statement to send the request.",
    }.items():
        expect(page.get_by_test_id(f"err-{field}")).to_have_text(text)
    expect(page.get_by_test_id("error-summary")).to_be_focused()
    # Bad values: each gets its own message, and everything typed stays.
    page.get_by_test_id("s-self").check()
    page.get_by_test_id("name").fill("Maria Example")
    page.get_by_test_id("email").fill("maria@example")
    page.get_by_test_id("signature").fill("M. Example")
    page.get_by_test_id("locations").fill("https://platform.example/p/1\nnot a link")
    page.get_by_test_id("case-link").click()
    page.get_by_test_id("case_id").fill("RL-AAAA-BBBB-CCCC-DDDD")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("err-email")).to_have_text(
        "This does not look like an e-mail address (for example name@example.org)."
    )
    expect(page.get_by_test_id("err-signature")).to_have_text(
        "Type exactly the same full name as above to sign."
    )
    expect(page.get_by_test_id("err-locations")).to_have_text(
        "Line 2: give the full web address, starting with https://"
    )
    expect(page.get_by_test_id("err-case_secret")).to_have_text("Give the secret code of the case you link.")
    expect(page.get_by_test_id("email")).to_have_attribute("aria-invalid", "true")
    assert page.get_by_test_id("name").input_value() == "Maria Example"
    assert page.get_by_test_id("locations").input_value() == "https://platform.example/p/1\nnot a link"
    assert page.get_by_test_id("s-self").is_checked()
    # Put right; the picture is hashed here.
    page.get_by_test_id("email").fill("maria@example.org")
    page.get_by_test_id("signature").fill("Maria Example")
    page.get_by_test_id("locations").fill("")
    page.get_by_test_id("case_id").fill("")
    page.get_by_test_id("file-input").set_input_files(str(picture))
    expect(page.locator("[data-testid=file-item][data-state=ready]")).to_have_count(1, timeout=60_000)
    page.get_by_test_id("st-good_faith_non_consent").check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("number")).not_to_be_empty()
    number = page.get_by_test_id("number").inner_text()
    assert len(page.get_by_test_id("secret").inner_text().replace("-", "")) == 24
    assert all(original[:64] not in body and b"holiday" not in body for body in sent)  # only codes left

    # Staff, in the console.
    staff = context.new_page()
    sign_in(staff, live)
    staff.goto(f"{live.url}/console/removals")
    row = staff.locator(f"tr[data-request='{number}']")
    expect(row).to_contain_text("47 h")
    row.get_by_role("link").click()
    staff.fill("tr[data-item='0'] input[name=content_id]", "post-1")
    staff.get_by_test_id("resolve-0").click()
    staff.get_by_test_id("remove-0").click()  # the sweep runs with the confirmation
    expect(staff.get_by_test_id("exact-copies").locator("tr[data-copy]")).to_have_count(1)
    expect(staff.get_by_test_id("exact-copies")).to_contain_text("post-2")
    expect(staff.get_by_test_id("perceptual-copies").locator("tr[data-copy]")).to_have_count(1)
    expect(staff.get_by_test_id("perceptual-copies")).to_contain_text("post-3")
    review = new_key(live.settings.database_url, "review")
    record = httpx.get(
        f"{live.url}/v1/removals/{number}", headers={"Authorization": f"Bearer {review}"}
    ).json()
    (perceptual,) = [c for c in record["copies"] if c["kind"] == "perceptual"]
    assert WHOLE_UPLOAD_REACH < perceptual["distance"] <= 64, perceptual
    staff.get_by_test_id("sweep").click()  # a re-run lists nothing twice
    expect(staff.locator("tr[data-copy]")).to_have_count(2)
    staff.get_by_test_id("copy-remove-post-2").click()
    staff.get_by_test_id("copy-remove-post-3").click()
    expect(staff.get_by_test_id("status")).to_contain_text("closed · outcome removed")
    expect(staff.get_by_test_id("within")).to_have_text("yes")
    hours = float(staff.get_by_test_id("hours").inner_text().split()[0])
    assert 0 <= hours < 48
    record = staff.get_by_test_id("record")
    for kind in ("received", "validated", "item.resolved", "item.removed", "swept", "copy.removed", "closed"):
        expect(record).to_contain_text(kind)
    SHOTS.mkdir(parents=True, exist_ok=True)
    staff.screenshot(path=str(SHOTS / "console-removal-request.png"), full_page=True)
    staff.get_by_test_id("print").click()
    staff.screenshot(path=str(SHOTS / "console-removal-print.png"), full_page=True)
    expect(staff.locator("h1")).to_contain_text(number)
    assert "maria" not in staff.content().lower()
    # The requester sees the outcome.
    page.get_by_test_id("follow-own").click()
    expect(page.get_by_test_id("outcome")).to_have_text("Removed")
    expect(page.get_by_test_id("status-copies")).to_have_text("Copies we found and removed as well: 2")
    for lang in LANGS:
        page.get_by_test_id("language").select_option(lang)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        page.screenshot(path=str(SHOTS / f"removal-status-{lang}.png"), full_page=True)
    staff.goto(f"{live.url}/console/removals?status=all")
    staff.screenshot(path=str(SHOTS / "console-removals.png"), full_page=True)
    staff.goto(f"{live.url}/console/removals/report")
    expect(staff.get_by_test_id("report")).to_contain_text("100.0%")
    staff.screenshot(path=str(SHOTS / "console-removal-figures.png"), full_page=True)
    context.close()


def test_form_in_every_language(chromium: Any, live: Live, tmp_path: Path) -> None:
    """Every text of the form is translated (no English left in the Chinese pages), screenshots kept."""
    english = json.loads(
        (Path(__file__).parents[2] / "src/redline/web/static/locales/removal/en.json").read_text()
    )
    out = SHOTS
    out.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page()
    for lang in LANGS:
        page.goto(f"{live.url}/removal.html?lang={lang}")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        page.get_by_test_id("j-eu").check()
        page.get_by_test_id("s-agent").check()
        page.get_by_test_id("submit").click()
        expect(page.get_by_test_id("error-summary")).to_be_visible()
        page.screenshot(path=str(out / f"removal-form-{lang}.png"), full_page=True)
        if lang == "en":
            expect(page.get_by_test_id("err-explanation")).to_have_text(
                "Explain why this content is unlawful."
            )
            expect(page.get_by_test_id("err-statement-authorised")).to_have_text(
                "Confirm that you are authorised to act for the person shown."
            )
            page.get_by_test_id("j-au").check()
            page.get_by_test_id("submit").click()
            expect(page.get_by_test_id("err-notice_reference")).to_have_text(
                "Give the reference of the removal notice."
            )
            expect(
                page.get_by_test_id("err-statement-authorised")
            ).to_be_empty()  # eSafety acts in her own right
        else:
            text = page.locator("main").inner_text()
            assert english["intro.what"] not in text and english["error.name.missing"] not in text
    page.close()


def test_an_expired_clock_escalates_and_breaches(live: Live, tmp_path: Path) -> None:
    with Receiver(tmp_path / "rx.jsonl") as rx:
        with live.db.write() as s:
            register_endpoint(s, url=rx.url, policy=UrlPolicy(allow_loopback=True), actor="test")
        body = {
            "jurisdiction": "au",
            "subject": "agent",
            "name": "eSafety Commissioner",
            "email": "notices@esafety.example.org",
            "notice_reference": "RN-2026-0001",
            "locations": ["https://platform.example/p/9"],
        }
        filed = httpx.post(f"{live.url}/v1/removal-requests", json=body).json()
        assert filed["deadline_at"]
        # Move the request back in time: it was received 25 hours ago, its 24 hours are over.
        past = utcnow() - timedelta(hours=25)
        with live.db.write() as s:
            s.execute(
                update(RemovalRequest)
                .where(RemovalRequest.number == filed["number"])
                .values(received_at=past, deadline_at=past + timedelta(hours=24))
            )

        def types() -> list[str]:
            return [json.loads(str(r["body"]))["type"] for r in rx.records()]

        wait_until(lambda: {"removal.escalated", "removal.breached"} <= set(types()), timeout=15)
        time.sleep(0.5)  # another tick must not repeat them
        assert types().count("removal.breached") == 1 and types().count("removal.escalated") == 1
    breach = next(json.loads(str(r["body"])) for r in rx.records() if "breached" in str(r["body"]))
    assert breach["data"]["request"] == filed["number"] and "esafety" not in json.dumps(breach).lower()
    key = new_key(live.settings.database_url, "review")
    record = httpx.get(
        f"{live.url}/v1/removals/{filed['number']}", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert record["breached_at"] is not None and record["status"] == "open"
    assert [line["kind"] for line in record["log"]][-2:] == ["escalated", "breached"]
