"""The portal's intake page (intake.html) in Chromium, against the real API and database: a flagger chooses a
folder of three persons, the page hashes it and files one case per person; every request the browser makes
is recorded and carries no folder or file name in any encoding; each person's pictures then match her own
case through ``/v1/match/file``; each hand-over sheet's secret claims her case; a damaged JPEG is reported
with its reason. Screenshots go to ``$REDLINE_SCREENSHOTS`` when set (looked at before release)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from redline.intake.manifest import open_manifest
from redline.intake.sheets import TEXTS
from tests.intake.conftest import Hub
from tests.intake.test_match_after_intake import edited_copy, matched_cases
from tests.support.bank import new_key
from tests.support.locales import LANGUAGES, catalog
from tests.support.media import distinct_picture, stored_reference

pytestmark = [pytest.mark.browser]
#: The page is what is tested: SQLite, except the reload test, which counts cases in both databases.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)

#: The persons' folders, named as a real collection's are: after the women. Values: pictures (JPEG or PNG).
PERSONS = {"Chan Tai Man": 3, "黃美玲": 2, "Lee Wing-sze": 2}
ATTESTATIONS = ["intake-attest-adult", "intake-attest-one-person", "intake-attest-hand-over"]
NEUTRAL = "https://www.bbc.com/**"
FILED_KEY = "redline-intake-filed"
KEPT_IN_BROWSER = """() => ({
  local: localStorage.length,
  cookie: document.cookie,
  session: Object.fromEntries(Object.entries(sessionStorage)),
})"""
#: Headless Chromium has no print dialog: record which sheet was to print instead.
STUB_PRINT = """() => {
  window.print = () => { window.printed = document.querySelector('.print-target').dataset.person; };
}"""


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("REDLINE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def make_collection(root: Path) -> dict[str, list[bytes]]:
    """Three persons of neutral pictures: a sub-folder, a PNG, a duplicate within a folder, one picture in
    two folders, a damaged JPEG, a text file; and a loose picture in the chosen folder itself."""
    pictures: dict[str, list[bytes]] = {}
    seed = 300
    for name, count in PERSONS.items():
        (root / name / "summer 2024").mkdir(parents=True)
        pictures[name] = []
        for n in range(count):
            seed += 1
            data = distinct_picture(seed, "PNG" if n == 1 else "JPEG", size=320)
            where = root / name / ("summer 2024" if n == 0 else "")
            (where / f"{name} beach {n}.{'png' if n == 1 else 'jpg'}").write_bytes(data)
            pictures[name].append(data)
    chan = root / "Chan Tai Man"
    (chan / "Chan Tai Man copy.jpg").write_bytes(pictures["Chan Tai Man"][0])  # within her folder
    (root / "黃美玲" / "黃美玲 from Chan.jpg").write_bytes(pictures["Chan Tai Man"][2])  # in two folders
    damaged = distinct_picture(399, "JPEG", size=320)
    (chan / "Chan Tai Man damaged.jpg").write_bytes(damaged[: len(damaged) // 3])
    (root / "Lee Wing-sze" / "Lee Wing-sze notes.txt").write_text("not a picture")
    (root / "Chan Tai Man loose.jpg").write_bytes(distinct_picture(398, "JPEG"))
    return pictures


def names_in(root: Path) -> set[str]:
    """Every folder and file name (and stem), and the words a name is made of."""
    found = {root.name} | {p.name for p in root.rglob("*")} | {p.stem for p in root.rglob("*")}
    return found | set(PERSONS) | {"summer 2024", "Chan", "Tai Man", "Wing-sze", "美玲"}


def encodings(name: str) -> set[bytes]:
    """The ways a request could carry ``name``: plain UTF-8, URL-encoded, JSON-escaped, base64."""
    raw = name.encode()
    forms = {raw, quote(name).encode(), quote_plus(name).encode(), json.dumps(name)[1:-1].encode()}
    forms |= {base64.b64encode(raw), base64.urlsafe_b64encode(raw), base64.b64encode(raw).rstrip(b"=")}
    forms |= {json.dumps(name, ensure_ascii=False)[1:-1].encode(), name.encode("utf-16-le")}
    return forms


def base64_decoded(data: bytes) -> list[bytes]:
    """Every base64-looking run in ``data``, decoded (a name inside a larger base64 blob shows up here)."""
    found = []
    for run in re.findall(rb"[A-Za-z0-9+/_-]{12,}={0,2}", data):
        for alphabet in (base64.b64decode, base64.urlsafe_b64decode):
            with contextlib.suppress(binascii.Error, ValueError):
                found.append(alphabet(run + b"=" * (-len(run) % 4)))
    return found


class Recorder:
    """Every request of the browser context (page and workers): method, URL, headers, body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []

    def __call__(self, request: Any) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in request.headers.items()).encode()
        self.requests.append(
            (request.method, request.url, headers + b"\n\n" + (request.post_data_buffer or b""))
        )


def open_intake(page: Page, base: str, lang: str) -> None:
    page.goto(f"{base}/intake.html?lang={lang}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def file_collection(page: Page, root: Path, key: str) -> None:
    page.get_by_test_id("flag-key").fill(key)
    for box in ATTESTATIONS:
        page.get_by_test_id(box).check()
    page.get_by_test_id("folder-input").set_input_files(str(root))
    expect(page.get_by_test_id("summary-row")).to_have_count(len(PERSONS))
    page.get_by_test_id("intake-start").click()
    expect(page.locator("body")).to_have_attribute("data-intake", "done", timeout=90_000)


def sheets_of(page: Page) -> dict[str, tuple[str, str]]:
    """Folder name -> (case number, secret), read from the hand-over sheets on the page."""
    found = {}
    for sheet in page.get_by_test_id("sheet").all():
        label = sheet.get_by_test_id("sheet-for").inner_text().rsplit(" · person-", 1)[0]
        cases = {c.strip() for c in sheet.get_by_test_id("sheet-case").all_inner_texts()}
        secrets = {s.strip() for s in sheet.get_by_test_id("sheet-secret").all_inner_texts()}
        assert len(cases) == len(secrets) == 1  # the same on its three pages
        found[label] = (cases.pop(), secrets.pop())
    return found


@SQLITE
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_page_files_a_folder_and_sends_no_name(
    chromium: Any, portal: tuple[str, str], tmp_path: Path, lang: str
) -> None:
    base, db_url = portal
    root = tmp_path / "Collection of Chan Tai Man"
    pictures = make_collection(root)
    flag_key = new_key(db_url, "flag", partner="equality-office")
    context = chromium.new_context()
    recorder = Recorder()
    context.on("request", recorder)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    try:
        open_intake(page, base, lang)
        _shot(page, f"intake-empty-{lang}")
        file_collection(page, root, flag_key)
        expect(page.get_by_test_id("intake-status")).to_have_text(
            catalog(lang)["intake.done"].replace("{count}", "3")
        )
        expect(page.get_by_test_id("collection-status")).to_contain_text("SHA-256")
        _shot(page, f"intake-summary-{lang}")
        sheets = sheets_of(page)
        assert set(sheets) == set(PERSONS)
        if os.environ.get("REDLINE_SCREENSHOTS"):
            page.get_by_test_id("sheet").first.screenshot(
                path=str(Path(os.environ["REDLINE_SCREENSHOTS"]) / f"intake-sheet-{lang}.png")
            )

        # The summary: Chan has 4 files hashed (one twice), the damaged one failed with its reason.
        chan = page.locator("[data-testid=summary-row][data-person='1']")
        expect(chan.locator("th")).to_have_text("Chan Tai Man")
        expect(chan.locator("[data-col=hashed]")).to_have_text("4")
        expect(chan.locator("[data-col=dup-within]")).to_have_text("1")
        expect(chan.locator("[data-col=dup-across]")).to_have_text("1")
        reason = catalog(lang)["intake.problem.unsupported"]
        expect(chan.locator("[data-col=failed]")).to_contain_text(reason)
        chan.locator("[data-col=failed] summary").click()
        expect(chan.locator("[data-col=failed] li")).to_have_text(
            f"Chan Tai Man/Chan Tai Man damaged.jpg: {reason}"
        )
        lee = page.locator("[data-testid=summary-row][data-person='2']")
        expect(lee.locator("[data-col=failed]")).to_contain_text(reason)  # the text file
        wong = page.locator("[data-testid=summary-row][data-person='3']")
        expect(wong.locator("[data-col=hashed]")).to_have_text("3")
        expect(wong.locator("[data-col=dup-across]")).to_have_text("1")
        plan = catalog(lang)["intake.plan.loose"].format(persons=3, files=11, loose=1)
        expect(page.get_by_test_id("plan")).to_have_text(plan)  # the loose file: counted, not taken in

        # The browser keeps only what stops a reload from filing her twice (case numbers, digests).
        kept = page.evaluate(KEPT_IN_BROWSER)
    finally:
        context.close()
    assert kept["local"] == 0 and kept["cookie"] == "" and list(kept["session"]) == [FILED_KEY]
    tab = json.loads(kept["session"][FILED_KEY])
    assert sorted(v["case_id"] for v in tab["persons"].values()) == sorted(c for c, _ in sheets.values())
    tab_text = kept["session"][FILED_KEY].encode()
    for name in names_in(root):
        assert not [form for form in encodings(name) if form in tab_text], name
    for _, secret in sheets.values():
        assert secret.encode() not in tab_text
    for originals in pictures.values():
        assert not [p for p in originals if hashlib.sha256(p).hexdigest().encode() in tab_text]
    assert not console, console

    # Every request stayed on this host and carried no name, in any encoding.
    assert recorder.requests
    sent = b"\n".join(body for _, _, body in recorder.requests)
    posts = [(url, body) for method, url, body in recorder.requests if method == "POST"]
    assert [urlsplit(u).path for u, _ in posts] == ["/v1/intake/cases"] * 3 + ["/v1/intake/collections"]
    assert hashlib.sha256(pictures["黃美玲"][0]).hexdigest().encode() in sent  # the capture saw the hashes
    decoded = base64_decoded(sent)
    for method, url, body in recorder.requests:
        assert urlsplit(url).netloc == urlsplit(base).netloc, f"third-party request: {method} {url}"
        text = url.encode() + b"\n" + body
        for name in names_in(root):
            leaked = [form for form in encodings(name) if form in text]
            assert not leaked, f"{name!r} in {method} {url}: {leaked}"
    for name in names_in(root):
        assert not any(name.encode() in blob for blob in decoded), f"{name!r} inside a base64 run"
    assert hashlib.sha256(distinct_picture(398, "JPEG")).hexdigest().encode() not in sent  # the loose file

    # The manifests verify (signed in the browser with WebCrypto's Ed25519) and list exactly what was sent.
    for _, body in posts[:3]:
        payload = json.loads(body.split(b"\n\n", 1)[1])
        manifest = open_manifest(payload["manifest"])
        listed = {f["sha256"] for f in manifest.body["files"]}
        assert listed == {h["value"] for h in payload["hashes"] if h["type"] == "sha256"}
        assert set(payload) == {"hashes", "manifest"}
    # The hashes are the CLI's: MD5, SHA-256 and every pdq_region of Python's stored recipe (full-size
    # decode, redline intake's and redline protect's), bit for bit.
    sent_hashes = {
        (h["type"], h["value"])
        for _, body in posts[:3]
        for h in json.loads(body.split(b"\n\n", 1)[1])["hashes"]
    }
    for path in (p for p in root.rglob("*") if p.suffix in (".jpg", ".png") and p.parent != root):
        if "damaged" in path.name:
            continue
        data = path.read_bytes()
        assert {
            ("md5", hashlib.md5(data).hexdigest()),
            ("sha256", hashlib.sha256(data).hexdigest()),
        } <= sent_hashes
        assert {("pdq_region", r.hex) for r in stored_reference(path)} <= sent_hashes, path.name

    # Each person's pictures (and an edited copy) match her own case, and only hers.
    hub = Hub(base, db_url, flag_key)
    platform = {"Authorization": f"Bearer {new_key(db_url, 'match')}"}
    for name, originals in pictures.items():
        own = sheets[name][0]
        for n, picture in enumerate(originals):
            found = matched_cases(hub, platform, picture)
            shared = name == "Chan Tai Man" and n == 2  # also in 黃美玲's folder: both cases hold it
            assert found == ({own, sheets["黃美玲"][0]} if shared else {own}), (name, n)
        assert matched_cases(hub, platform, edited_copy(originals[0])) >= {own}

    # Each sheet's secret opens and claims her case; afterwards it no longer works.
    for case_id, secret in sheets.values():
        claimed = httpx.post(
            f"{base}/v1/cases/{case_id}/claim", headers={"X-Case-Secret": secret}, timeout=10
        )
        assert claimed.status_code == 200, claimed.text
        stale = httpx.get(f"{base}/v1/cases/{case_id}", headers={"X-Case-Secret": secret}, timeout=10)
        assert stale.status_code == 401
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            flagged = conn.execute(
                sa.text("SELECT count(*) FROM cases WHERE flagged_by IS NOT NULL")
            ).scalar()
            logged = conn.execute(
                sa.text("SELECT count(*) FROM audit_log WHERE action = 'intake.collection'")
            )
            assert (flagged, logged.scalar()) == (3, 1)
    finally:
        engine.dispose()


@SQLITE
def test_the_sheets_are_the_clis_and_print_one_language_a_page(
    chromium: Any, portal: tuple[str, str], tmp_path: Path
) -> None:
    base, db_url = portal
    root = tmp_path / "collection"
    make_collection(root)
    page = chromium.new_page()
    try:
        open_intake(page, base, "en")
        file_collection(page, root, new_key(db_url, "flag"))
        sheet = page.get_by_test_id("sheet").first
        sections = sheet.locator("section")
        assert [sections.nth(i).get_attribute("lang") for i in range(3)] == ["en", "zh-Hant", "zh-Hans"]
        for i, texts in enumerate(TEXTS):
            text = sections.nth(i).inner_text()
            for part in (texts.heading, texts.what.format(portal=base), texts.keep_safe, texts.withdraw):
                assert part in text, (texts.lang, part)
            assert f"{base}/#case" in text
        assert "Revenge Porn Helpline" in sections.nth(0).inner_text()
        page.emulate_media(media="print")
        _shot(page, "intake-print")
        expect(page.get_by_test_id("summary")).to_be_hidden()
        expect(page.get_by_test_id("flag-key")).to_be_hidden()
        pdf = page.pdf()
        pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
        assert pages == 3 * len(PERSONS)  # one language of one person a page
        # "Print sheet 2 only": while the print dialog is open, only that sheet prints (3 pages).
        page.emulate_media(media="screen")
        page.evaluate(STUB_PRINT)
        page.get_by_test_id("print-sheet").nth(1).click()
        assert page.evaluate("() => window.printed") == "2"
        page.emulate_media(media="print")  # (pdf() renders the emulated media)
        pages = len(re.findall(rb"/Type\s*/Page\b", page.pdf()))
        assert pages == 3
        page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
        expect(page.locator("body.print-one")).to_have_count(0)
    finally:
        page.close()


@SQLITE
def test_an_interrupted_filing_resumes_without_filing_anyone_twice(
    chromium: Any, portal: tuple[str, str], tmp_path: Path
) -> None:
    base, db_url = portal
    root = tmp_path / "collection"
    make_collection(root)
    page = chromium.new_page()
    calls: list[str] = []

    def lose_the_second(route: Any) -> None:
        calls.append(route.request.url)
        if len(calls) == 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/v1/intake/cases", lose_the_second)
    try:
        open_intake(page, base, "en")
        file_collection(page, root, new_key(db_url, "flag"))
        expect(page.get_by_test_id("intake-status")).to_contain_text("Not filed yet: 1")
        expect(page.locator("[data-testid=summary-row][data-filed=true]")).to_have_count(2)
        expect(page.get_by_test_id("sheet")).to_have_count(2)
        expect(page.get_by_test_id("collection-status")).to_be_empty()  # not until everyone is filed
        page.get_by_test_id("intake-start").click()
        expect(page.get_by_test_id("intake-status")).to_contain_text("Done: 3 cases filed", timeout=30_000)
        expect(page.get_by_test_id("sheet")).to_have_count(3)
        assert len(calls) == 4  # three persons, one of them twice
        # The same folder chosen again and filed again: everyone keeps her case, nobody is filed twice.
        page.get_by_test_id("folder-input").set_input_files(str(root))
        page.get_by_test_id("intake-start").click()
        expect(page.get_by_test_id("intake-status")).to_contain_text("Done: 3 cases filed", timeout=30_000)
        expect(page.get_by_test_id("sheet")).to_have_count(3)
        assert len(calls) == 4
        # The secrets are on this page only: leaving it asks first (and staying keeps them).
        asked: list[str] = []
        page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
        with pytest.raises(PlaywrightError):  # the reload was called off
            page.reload(timeout=5_000)
        assert asked == ["beforeunload"]
        expect(page.get_by_test_id("sheet")).to_have_count(3)
        # A refused key stops at once, and says so.
        page.get_by_test_id("forget").click()
        expect(page.get_by_test_id("sheet")).to_have_count(0)
        page.get_by_test_id("flag-key").fill("rk_not_a_key")
        page.get_by_test_id("folder-input").set_input_files(str(root))
        page.get_by_test_id("intake-start").click()
        expect(page.get_by_test_id("intake-status")).to_contain_text(
            "refused your flag key (401)", timeout=30_000
        )
    finally:
        page.close()
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 3
    finally:
        engine.dispose()


@SQLITE
def test_the_page_passes_axe_and_the_quick_exit_forgets(
    chromium: Any, portal: tuple[str, str], tmp_path: Path, axe_source: str
) -> None:
    from tests.web.test_portal_accessibility import axe_problems

    base, db_url = portal
    root = tmp_path / "collection"
    make_collection(root)
    context = chromium.new_context()
    context.route(NEUTRAL, lambda route: route.fulfill(body="<title>Weather</title>weather"))
    page = context.new_page()
    try:
        open_intake(page, base, "zh-Hant-HK")
        assert axe_problems(page, axe_source) == []
        file_collection(page, root, new_key(db_url, "flag"))
        assert axe_problems(page, axe_source) == []
        # The keyboard goes from the key to the three statements in order.
        page.get_by_test_id("flag-key").focus()
        order = []
        for _ in range(3):
            page.keyboard.press("Tab")
            order.append(page.evaluate("() => document.activeElement.id"))
        assert order == ATTESTATIONS
        page.get_by_test_id("quick-exit").click()
        page.wait_for_url(NEUTRAL)
        page.go_back()
        assert not page.url.startswith(base), "Back must not return to the intake page"
    finally:
        context.close()


@BOTH
def test_after_a_reload_nobody_is_filed_twice_and_a_sheetless_case_can_be_filed_again(
    chromium: Any, portal: tuple[str, str], tmp_path: Path, axe_source: str
) -> None:
    from tests.web.test_portal_accessibility import axe_problems

    base, db_url = portal
    root = tmp_path / "collection"
    make_collection(root)
    flag_key = new_key(db_url, "flag")
    context = chromium.new_context()
    context.route(NEUTRAL, lambda route: route.fulfill(body="<title>Weather</title>weather"))
    page = context.new_page()
    filed: list[str] = []
    page.on("request", lambda r: filed.append(r.url) if r.url.endswith("/v1/intake/cases") else None)
    try:
        open_intake(page, base, "en")
        file_collection(page, root, flag_key)
        expect(page.get_by_test_id("sheet")).to_have_count(3)
        page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?": yes
        page.reload()
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        expect(page.get_by_test_id("sheet")).to_have_count(0)  # the secrets are gone
        file_collection(page, root, flag_key)
        expect(page.get_by_test_id("intake-status")).to_contain_text("3 persons were filed before the page")
        assert len(filed) == 3  # nobody filed twice
        _shot(page, "intake-after-reload-en")
        assert axe_problems(page, axe_source) == []
        expect(page.locator("[data-testid=summary-row][data-filed=true]")).to_have_count(3)
        expect(page.get_by_test_id("collection-status")).to_contain_text("SHA-256")  # logged once, before
        # One person's case is withdrawn with the flag key, and she is filed again, with a sheet.
        page.get_by_test_id("withdraw-earlier").first.click()
        expect(page.get_by_test_id("withdraw-earlier")).to_have_count(2)
        expect(page.get_by_test_id("intake-start")).to_be_focused()
        expect(page.locator("[data-testid=summary-row][data-person='1']")).to_contain_text("withdrawn")
        page.get_by_test_id("intake-start").click()
        expect(page.get_by_test_id("intake-status")).to_contain_text("2 persons were filed before the page")
        expect(page.get_by_test_id("sheet")).to_have_count(1)
        assert len(filed) == 4
        # The quick exit forgets what the tab kept.
        page.get_by_test_id("quick-exit").click()
        page.wait_for_url(NEUTRAL)
        page.goto(f"{base}/intake.html")
        assert page.evaluate(KEPT_IN_BROWSER)["session"] == {}
    finally:
        context.close()
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, count(*) FROM cases GROUP BY status")).all()
            assert dict(rows) == {"active": 3, "withdrawn": 1}
    finally:
        engine.dispose()
