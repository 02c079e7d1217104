"""The survivor portal end to end in Chromium, against the real API and database.

The promise under test: pictures and videos never leave the device. Every request the browser makes is
recorded (page and workers); none may carry media bytes, file names, or more bytes than the hashes need,
and none may go to another host. Afterwards the database holds hashes only, and the browser holds nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from redline.signals import hash_image, hash_video, robust
from redline.signals.video import DENSE_STORED_FRAMES
from tests.support.media import stored_reference
from tests.support.portal import ATTESTATIONS, media_files, open_portal

pytestmark = [pytest.mark.browser, pytest.mark.shared, pytest.mark.slow]

MEDIA_SIGNATURES = {
    "JPEG": b"\xff\xd8\xff",
    "PNG": b"\x89PNG",
    "MP4/MOV": b"ftyp",
    "WebM": b"\x1a\x45\xdf\xa3",
    "GIF": b"GIF8",
    "WebP/AVI": b"RIFF",
}
#: Generous upper bound of one hash in the JSON body ({"type": "pdq_region", "value": "<64 hex>",
#: "quality": 100} is ~100 bytes).
BYTES_PER_HASH = 130
#: What one file may send: a picture pdq, 35 pdq_region (robust matching), md5, sha256; a video md5, sha256
#: and its kept frames (vpdq: one a second at most, signals/video.py).
REGIONS_PER_PICTURE = 1 + len(robust.STORED_REGIONS)
HASHES_PER_PICTURE = 3 + REGIONS_PER_PICTURE


class Recorder:
    """Every request of the browser context (the page and its workers), with its body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []

    def __call__(self, request: Any) -> None:
        self.requests.append((request.method, request.url, request.post_data_buffer or b""))


def choose_and_wait(page: Page, files: list[Path]) -> None:
    page.get_by_test_id("file-input").set_input_files([str(f) for f in files])
    ready = page.locator("[data-testid=file-item][data-state=ready]")
    expect(ready).to_have_count(len(files), timeout=60_000)


def scan_database(url: str, needles: dict[str, bytes]) -> int:
    """Every value of every table: no needle (media signature, file name) anywhere; returns rows seen."""
    engine = sa.create_engine(url)
    rows_seen = 0
    try:
        with engine.connect() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            for table in meta.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    rows_seen += 1
                    for value in row:
                        raw = value if isinstance(value, bytes) else str(value).encode()
                        for what, needle in needles.items():
                            assert needle not in raw, f"{what} found in {table.name}: {raw[:80]!r}"
                        assert len(raw) < 64_000, f"a {len(raw)}-byte value in {table.name}"
    finally:
        engine.dispose()
    return rows_seen


def test_whole_flow_sends_only_hashes(chromium: Any, corpus: Path, portal: tuple[str, str]) -> None:
    base, db_url = portal
    files = media_files(corpus)
    context = chromium.new_context(accept_downloads=True)
    recorder = Recorder()
    context.on("request", recorder)
    page = context.new_page()
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    response = page.goto(f"{base}/?lang=en")
    assert response is not None
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    expect(page.locator("body")).to_have_attribute("data-ready", "true")

    choose_and_wait(page, files)
    for box in ATTESTATIONS:
        page.get_by_test_id(box).check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("case-id")).not_to_be_empty()
    case_id = page.get_by_test_id("case-id").inner_text()
    secret = page.get_by_test_id("case-secret").inner_text()
    assert case_id and secret

    # The case page: statuses, then withdraw with confirmation.
    page.get_by_test_id("open-case").click()
    expect(page.get_by_test_id("case-state")).to_have_text("Active: platforms are looking for it")
    page.get_by_test_id("withdraw").click()
    page.get_by_test_id("withdraw-cancel").click()  # a second thought changes nothing
    expect(page.get_by_test_id("case-state")).to_have_text("Active: platforms are looking for it")
    page.get_by_test_id("withdraw").click()
    page.get_by_test_id("withdraw-confirm").click()
    expect(page.get_by_test_id("case-state")).to_have_text("Withdrawn")
    lines = page.get_by_test_id("case-item")  # one line per picture or video, not one per hash
    expect(lines).to_have_count(len(files))
    expect(lines.first).to_contain_text("Withdrawn")
    assert all("Withdrawn" in text for text in lines.all_inner_texts())

    # Nothing left in the browser.
    stored = page.evaluate(
        """async () => ({
          local: localStorage.length, session: sessionStorage.length, cookie: document.cookie,
          idb: (await indexedDB.databases()).length, caches: (await caches.keys()).length })"""
    )
    assert stored == {"local": 0, "session": 0, "cookie": "", "idb": 0, "caches": 0}
    assert context.cookies() == []
    context.close()

    # Every request: same host; no media bytes, no file names; bodies no bigger than the hashes need.
    submissions = [b for m, url, b in recorder.requests if m == "POST" and url.endswith("/v1/cases")]
    assert len(submissions) == 1
    payload = json.loads(submissions[0])
    hashes = payload["hashes"]
    assert set(payload) == {"hashes", "attestation"}
    pictures = [f for f in files if f.suffix != ".mp4"]
    # The bound comes from the files chosen, not from the payload itself: 38 hashes a picture; a video its
    # two digests and its stored moments (the first DENSE_STORED_FRAMES at any moment, then at most one a
    # second, plus one at each end), each as its whole frame's hash, the picture's inside bars (when it has
    # some), that picture's centred 90% and its four quadrants.
    videos = [f for f in files if f.suffix == ".mp4"]
    moments = [DENSE_STORED_FRAMES + 2 + int(hash_video(v).duration_s) for v in videos]
    per_video = [2 + 7 * m for m in moments]
    most_hashes = HASHES_PER_PICTURE * len(pictures) + sum(per_video)
    assert len(hashes) <= most_hashes
    assert sum(h["type"] == "pdq_region" for h in hashes) == REGIONS_PER_PICTURE * len(pictures)
    # Each hash says which file of the submission it came from (a position, nothing about the file).
    assert sorted({h["item"] for h in hashes}) == list(range(len(files)))
    names = {f"file name {f.name}": f.name.encode() for f in files}
    needles = {**{f"{k} signature": v for k, v in MEDIA_SIGNATURES.items()}, **names}
    for method, url, body in recorder.requests:
        if urlsplit(url).scheme in ("blob", "data"):  # the page's own previews: never on the network
            continue
        assert urlsplit(url).netloc == urlsplit(base).netloc, f"third-party request: {url}"
        for what, needle in needles.items():
            assert needle not in body, f"{what} in the body of {method} {url}"
        assert len(body) <= BYTES_PER_HASH * most_hashes + 300, f"{len(body)}-byte body: {method} {url}"

    # The hashes are the right ones: exact hashes equal Python's, PDQ close to the server's own hashing.
    sent = {(h["type"], h["value"]) for h in hashes}
    for f in files:
        data = f.read_bytes()
        assert ("md5", hashlib.md5(data).hexdigest()) in sent
        assert ("sha256", hashlib.sha256(data).hexdigest()) in sent
        if f.suffix != ".mp4":
            server = hash_image(f)
            nearest = min((int(v, 16) ^ int(server.pdq, 16)).bit_count() for t, v in sent if t == "pdq")
            assert nearest <= 10, f"{f.name}: browser PDQ {nearest} bits from the server's"
            # Region hashes: bit-identical to Python's stored recipe (test_pdq_conformance measures why).
            for region in stored_reference(f):
                assert ("pdq_region", region.hex) in sent, f"{f.name}: {region.label} differs from Python's"

    # The database: only hashes (no media bytes, no file names anywhere).
    assert scan_database(db_url, needles) > 0
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            stored_values = {row[0] for row in conn.execute(sa.text("SELECT value FROM entries")) if row[0]}
    finally:
        engine.dispose()
    assert not csp_errors, csp_errors
    assert stored_values <= {v for _, v in sent}


def test_quick_exit_leaves_and_forgets(chromium: Any, corpus: Path, portal: tuple[str, str]) -> None:
    base, _ = portal
    context = chromium.new_context()
    # The neutral site is answered locally: the test machine has no internet, and the test needs none.
    context.route("https://www.bbc.com/**", lambda route: route.fulfill(body="<title>Weather</title>weather"))
    page = context.new_page()
    open_portal(page, base)
    page.get_by_test_id("file-input").set_input_files([str(media_files(corpus)[0])])
    page.get_by_test_id("quick-exit").click()
    page.wait_for_url("https://www.bbc.com/**")
    page.go_back()
    assert not page.url.startswith(base), "Back must not return to the portal"
    context.close()
