"""HMA's REST API as ROOST's Coop and HMA's own tests use it, replayed over HTTP against ``redline serve``.

The requests are Coop's (``server/services/hmaService/index.ts`` at roostorg/coop 1c1f54da: a base URL with a
trailing slash, so every path starts ``//c/``; ``enabled_ratio`` a string on create and a number on update;
only the status read on ``GET /c/bank/{name}``, where a 404 makes Coop delete its own bank row) and the HTTP
assertions of HMA 1.1.7's ``OpenMediaMatch/tests`` (``test_api_banks.py``, ``test_e2e_workflow.py``,
``test_match_api.py``), with expected PDQ hashes computed by python-threatexchange as HMA's tests do.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from threatexchange.signal_type.pdq.signal import PdqSignal

from redline.actions.models import MatchLogEntry
from redline.bank.db import Database
from redline.bank.models import Bank, Entry, MatchEvent
from redline.review.models import ReviewItem
from tests.support import ATTESTATION, wait_until
from tests.support.bank import new_key
from tests.support.loopback import file_server
from tests.support.media import FAKE_MP4, checkerboard
from tests.support.server import Server

BANK = "COOP_E7D0FA3B1C2_TEST_BANK"
REDLINE = str(Path(sys.executable).parent / "redline")
JPEG_A, JPEG_B = checkerboard(16), checkerboard(8)


@dataclass
class Hub:
    server: Server
    files: str
    database_url: str
    token: str

    def coop(self, token: str | None = None) -> httpx.Client:
        """Coop's client: the key in the base URL, which ends in a slash (``.../hma/<key>/``)."""
        base = f"{self.server.url}/hma/{token or self.token}/"
        return httpx.Client(base_url=base, timeout=30)

    def count(self, model: Any) -> int:
        db = Database(self.database_url)
        try:
            with db.read() as session:
                return int(session.scalar(select(func.count()).select_from(model)) or 0)
        finally:
            db.dispose()


@pytest.fixture
def hub(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("REDLINE_WEBHOOK_ALLOW_LOOPBACK", "1")  # the picture server is on loopback
    monkeypatch.setenv("REDLINE_MAX_FILE_BYTES", str(1_000_000))
    files = {
        "/a.jpg": ("image/jpeg", JPEG_A),
        "/b.jpg": ("image/jpeg", JPEG_B),
        "/clip.mp4": ("video/mp4", FAKE_MP4),
        "/big.jpg": ("image/jpeg", JPEG_A + b"\0" * 1_100_000),
        "/notes.txt": ("text/plain", b"not a picture"),
    }
    redirects = {"/to-metadata": "http://169.254.169.254/latest/meta-data/", "/to-a": "/a.jpg"}
    with file_server(files, redirects) as base:
        (tmp_path / "data").mkdir()
        server = Server(database_url, tmp_path / "data")
        try:
            token = new_key(database_url, "match", "submit", partner="coop-one")
            yield Hub(server, base, database_url, token)
        finally:
            server.stop()


def _wait_for_match(client: httpx.Client, pdq: str, bank: str = BANK) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def matched() -> bool:
        found.update(client.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq}).json())
        return bank in found

    wait_until(matched, timeout=10)
    return found


def test_coop_bank_lifecycle_and_lookup(hub: Hub) -> None:
    with hub.coop() as coop:
        # createBank: the ratio arrives as a string.
        created = coop.post("/c/banks", json={"name": BANK, "enabled_ratio": "1"})
        assert created.status_code == 201, created.text
        assert created.json() == {"name": BANK, "matching_enabled_ratio": 1.0}
        assert coop.post("/c/banks", json={"name": BANK, "enabled_ratio": "1"}).status_code == 403

        # listBanks/getBank: status only (with Coop's odd Content-Type on a GET).
        got = coop.get(f"/c/bank/{BANK}", headers={"Content-Type": "application/json"})
        assert got.status_code == 200 and got.json() == {"name": BANK, "matching_enabled_ratio": 1.0}

        # updateBank: a number this time.
        updated = coop.put(f"/c/bank/{BANK}", json={"enabled_ratio": 0.5})
        assert updated.status_code == 200 and updated.json()["matching_enabled_ratio"] == 0.5
        assert coop.put(f"/c/bank/{BANK}", json={"enabled_ratio": 1}).json()["matching_enabled_ratio"] == 1.0

        # hashContentFromUrl: HMA's answer, and exactly python-threatexchange's PDQ of the picture.
        hashed = coop.get("/h/hash", params={"url": f"{hub.files}/a.jpg"})
        assert hashed.status_code == 200, hashed.text
        expected = PdqSignal.hash_from_bytes(JPEG_A)
        assert hashed.json() == {"pdq": expected}
        assert coop.get("/h/hash", params={"url": f"{hub.files}/clip.mp4"}).json() == {
            "video_md5": hashlib.md5(FAKE_MP4).hexdigest()
        }

        # Content gets into the bank out of band (HMA UI / scripts): HMA's /signal and /content?url=.
        added = coop.post(f"/c/bank/{BANK}/signal", json={"pdq": expected, "note": "seed"})
        assert added.status_code == 200, added.text
        content_id = added.json()["id"]
        assert added.json() == {"id": content_id, "signals": {"pdq": expected}}
        by_url = coop.post(f"/c/bank/{BANK}/content", params={"url": f"{hub.files}/b.jpg"})
        assert by_url.status_code == 200, by_url.text
        assert by_url.json()["signals"] == {"pdq": PdqSignal.hash_from_bytes(JPEG_B)}

        # lookupContent: every key of /h/hash is a type /m/lookup takes; the bank name comes back exact.
        before = [hub.count(m) for m in (MatchLogEntry, MatchEvent, ReviewItem)]
        for _ in range(3):  # Coop looks up again at every rule evaluation
            result = _wait_for_match(coop, expected)
        assert result == {BANK: [{"bank_content_id": content_id, "distance": "0"}]}
        assert coop.get("/m/lookup", params={"signal_type": "pdq", "signal": "5" * 64}).json() == {}
        by_picture = coop.get("/m/lookup", params={"url": f"{hub.files}/a.jpg"})  # HMA's other form
        assert by_picture.json() == {"pdq": result}
        # Read-only: no match log, no survivor-facing match event, no review item, from any of those lookups.
        assert [hub.count(m) for m in (MatchLogEntry, MatchEvent, ReviewItem)] == before
        md5 = coop.get("/m/lookup", params={"signal_type": "video_md5", "signal": "0" * 32})
        assert md5.status_code == 200 and md5.json() == {}
        assert coop.get("/m/lookup", params={"signal_type": "tmk", "signal": "00"}).status_code == 400
        assert coop.get("/m/lookup", params={"signal_type": "pdq", "signal": "zz"}).status_code == 400
        assert coop.get("/m/lookup").status_code == 400

        # Exchanges: none offered, and a bank page shows "no exchange" rather than an error.
        assert coop.get("/c/exchanges/apis").json() == []
        exchange = coop.get(f"/c/exchange/{BANK}")
        assert exchange.status_code == 404 and "message" in exchange.json()

        # deleteBank: 200 twice; then, and only then, a JSON 404.
        assert coop.delete(f"/c/bank/{BANK}").json() == {"message": "Done"}
        assert coop.delete(f"/c/bank/{BANK}").status_code == 200
        gone = coop.get(f"/c/bank/{BANK}")
        assert gone.status_code == 404 and gone.json()["message"] == f"bank '{BANK}' not found"
        assert coop.get("/m/lookup", params={"signal_type": "pdq", "signal": expected}).json() == {}
        # Coop's rename is create-new + delete-old; a re-created name starts empty, as in HMA.
        assert coop.post("/c/banks", json={"name": BANK, "enabled_ratio": "1"}).status_code == 201
        assert coop.get("/m/lookup", params={"signal_type": "pdq", "signal": expected}).json() == {}

    # The bank's hashes were not deleted: its Redline bank is disabled, its entries kept.
    db = Database(hub.database_url)
    try:
        with db.read() as session:
            first, second = session.scalars(
                select(Bank).where(Bank.name.like("hma-%")).order_by(Bank.id)
            ).all()
            assert not first.enabled and second.enabled
            assert (
                session.scalar(select(func.count()).select_from(Entry).where(Entry.bank_id == first.id)) == 2
            )
    finally:
        db.dispose()


def test_credentials_never_look_like_a_missing_bank(hub: Hub) -> None:
    """A wrong, revoked or missing key is a 401 (Coop keeps its bank row), never the 404 that deletes it;
    another platform's key sees nothing of this one's banks."""
    with hub.coop() as coop:
        assert coop.post("/c/banks", json={"name": BANK, "enabled_ratio": "1"}).status_code == 201
        assert (
            coop.post(f"/c/bank/{BANK}/signal", json={"pdq": PdqSignal.hash_from_bytes(JPEG_A)}).status_code
            == 200
        )
    bad = hub.token[:-4] + ("AAAA" if not hub.token.endswith("AAAA") else "BBBB")
    for token in (bad, "rk_0000000000000000_nope", "mistyped-key"):
        with hub.coop(token) as coop:
            response = coop.get(f"/c/bank/{BANK}")
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/problem+json"
    anonymous = httpx.get(f"{hub.server.url}/hma//c/bank/{BANK}")
    assert anonymous.status_code == 401
    with httpx.Client(base_url=hub.server.url) as plain:  # a header works for non-Coop clients
        by_header = plain.get(f"/hma/c/bank/{BANK}", headers={"Authorization": f"Bearer {hub.token}"})
        assert by_header.status_code == 200

    other = new_key(hub.database_url, "match", "submit", partner="coop-two")
    with hub.coop(other) as coop:
        assert coop.get(f"/c/bank/{BANK}").status_code == 404  # a different namespace: its own Coop's view
        assert coop.get("/c/banks").json() == []
        lookup = coop.get(
            "/m/lookup", params={"signal_type": "pdq", "signal": PdqSignal.hash_from_bytes(JPEG_A)}
        )
        assert lookup.json() == {}
        assert coop.delete(f"/c/bank/{BANK}").status_code == 200  # HMA's answer; touches nothing of coop-one
    with hub.coop() as coop:
        assert coop.get(f"/c/bank/{BANK}").status_code == 200

    matching_only = new_key(hub.database_url, "match", partner="coop-one")
    with hub.coop(matching_only) as coop:
        assert coop.get(f"/c/bank/{BANK}").status_code == 403
        assert coop.get("/m/lookup", params={"signal_type": "pdq", "signal": "5" * 64}).status_code == 200

    log = hub.server.log.read_text(errors="replace")
    assert hub.token.split("_", 2)[2] not in log, "the key in the base URL must never reach the log"
    if '"GET /' in log:  # uvicorn's access log is on: it shows the path without the key
        assert f'"GET /hma/c/bank/{BANK} HTTP/1.1" 401' in log


def test_hma_bank_api_expectations(hub: Hub) -> None:
    """test_api_banks.py / test_e2e_workflow.py, over HTTP."""
    with hub.coop() as hma:
        assert hma.get("/c/banks").json() == []
        for bad in ("01_TEST_BANK", "my_test_bank", "A" * 256, ""):
            assert hma.post("/c/banks", json={"name": bad}).status_code == 400, bad
        assert hma.post("/c/banks", json={"name": "B" * 255}).status_code == 201
        created = hma.post("/c/banks", json={"name": "MY_TEST_BANK_01"})
        assert created.status_code == 201
        assert created.json() == {"matching_enabled_ratio": 1.0, "name": "MY_TEST_BANK_01"}
        assert {"matching_enabled_ratio": 1.0, "name": "MY_TEST_BANK_01"} in hma.get("/c/banks").json()

        renamed = hma.put("/c/bank/MY_TEST_BANK_01", json={"name": "MY_TEST_BANK_RENAMED"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "MY_TEST_BANK_RENAMED"
        assert (
            hma.put("/c/bank/MY_TEST_BANK_RENAMED", json={"enabled": False}).json()["matching_enabled_ratio"]
            == 0
        )
        assert (
            hma.put("/c/bank/MY_TEST_BANK_RENAMED", json={"enabled_ratio": 0.5}).json()[
                "matching_enabled_ratio"
            ]
            == 0.5
        )
        assert hma.put("/c/bank/NO_SUCH_BANK", json={"enabled_ratio": 0.5}).status_code == 404
        assert hma.put("/c/bank/MY_TEST_BANK_RENAMED", json={"enabled_ratio": 2}).status_code == 400

        # e2e: 16 example hashes, the last one looked up at distance 0; an unknown one finds nothing.
        assert hma.post("/c/banks", json={"name": "TEST_BANK"}).status_code == 201
        hashes = [
            PdqSignal.hash_from_bytes(checkerboard(s, size=128 + 8 * i))
            for i, s in enumerate([4, 8, 16, 32] * 4)
        ]
        ids = [hma.post("/c/bank/TEST_BANK/signal", json={"pdq": h}).json()["id"] for h in hashes]
        result = _wait_for_match(hma, hashes[-1], "TEST_BANK")
        assert {"bank_content_id": ids[-1], "distance": "0"} in result["TEST_BANK"]
        status = hma.get("/m/index/status").json()
        assert status["pdq"]["present"] and status["pdq"]["size"] >= 16
        # banks= filter, and content read / delete.
        assert (
            hma.get("/m/lookup", params={"signal_type": "pdq", "signal": hashes[-1], "banks": "OTHER"}).json()
            == {}
        )
        content = hma.get(f"/c/bank/TEST_BANK/content/{ids[-1]}", params={"include_signals": "true"}).json()
        assert content["id"] == ids[-1] and content["signals"] == {"pdq": hashes[-1]}
        assert content["bank"]["name"] == "TEST_BANK"
        assert hma.get("/c/bank/TEST_BANK/content/999999").status_code == 404
        assert hma.delete(f"/c/bank/TEST_BANK/content/{ids[-1]}").json() == {"deleted": 1}
        wait_until(
            lambda: (
                ids[-1]
                not in [
                    m["bank_content_id"]
                    for m in hma.get("/m/lookup", params={"signal_type": "pdq", "signal": hashes[-1]})
                    .json()
                    .get("TEST_BANK", [])
                ]
            )
        )
        # Bad signals: 400, with HMA's message body.
        bad_signal = hma.post("/c/bank/TEST_BANK/signal", json={"pdq": "0" * 63})
        assert bad_signal.status_code == 400 and "message" in bad_signal.json()
        assert hma.post("/c/bank/TEST_BANK/signal", json={"nope": "0" * 64}).status_code == 400
        assert hma.post("/c/bank/TEST_BANK/signal", json={}).status_code == 400


def test_url_fetch_follows_the_ssrf_policy(hub: Hub) -> None:
    with hub.coop() as coop:
        for url in (
            "http://169.254.169.254/latest/meta-data/",
            f"{hub.files}/to-metadata",  # a redirect is re-checked before it is followed
            "file:///etc/passwd",
            "http://user:pw@127.0.0.1/a.jpg",
        ):
            refused = coop.get("/h/hash", params={"url": url})
            assert refused.status_code == 400, url
            assert refused.json()["message"].startswith("Invalid or unsafe URL"), refused.text
        assert coop.get("/h/hash", params={"url": f"{hub.files}/to-a"}).json() == {
            "pdq": PdqSignal.hash_from_bytes(JPEG_A)
        }
        too_big = coop.get("/h/hash", params={"url": f"{hub.files}/big.jpg"})
        assert too_big.status_code == 413 and too_big.json()["message"] == "Content too large"
        assert coop.get("/h/hash", params={"url": f"{hub.files}/missing.jpg"}).status_code == 400
        assert coop.get("/h/hash", params={"url": f"{hub.files}/notes.txt"}).status_code == 400
        assert coop.get("/h/hash").status_code == 422
        # HMA's multipart form: the field name is the content type.
        photo = coop.post("/h/hash", files={"photo": ("a.jpg", JPEG_A, "image/jpeg")})
        assert photo.status_code == 200 and photo.json() == {"pdq": PdqSignal.hash_from_bytes(JPEG_A)}
        video = coop.post("/h/hash", files={"video": ("clip.mp4", FAKE_MP4, "video/mp4")})
        assert video.json() == {"video_md5": hashlib.md5(FAKE_MP4).hexdigest()}
        assert coop.post("/h/hash", files={"document": ("a.jpg", JPEG_A)}).status_code == 400
        assert coop.post("/h/hash", data={"photo": "text"}).status_code == 400
        assert coop.post("/h/hash", files={"photo": ("t.txt", b"plain text")}).status_code == 400
    uploads = hub.server.log.parent / "uploads"
    assert not any(uploads.iterdir()) if uploads.exists() else True  # fetched files are deleted in every path


def test_an_operator_links_the_survivor_bank_for_coop(hub: Hub) -> None:
    """Coop acts only on banks it knows by name: the operator links one of its names to ``survivors``. A
    survivor's picture then matches in Coop, and nothing Coop does to that name disables the survivors'
    bank."""
    pdq = PdqSignal.hash_from_bytes(JPEG_A)
    case = httpx.post(
        f"{hub.server.url}/v1/cases",
        json={"hashes": [{"type": "pdq", "value": pdq, "quality": 100}], "attestation": ATTESTATION},
    )
    assert case.status_code == 201, case.text
    env = {"REDLINE_DATABASE_URL": hub.database_url, "REDLINE_DATA_DIR": str(hub.server.log.parent)}
    linked = subprocess.run(
        [REDLINE, "hma", "link", "COOP_E7D0FA3B1C2_NCII", "--bank", "survivors", "--partner", "coop-one"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert linked.returncode == 0, linked.stderr
    with hub.coop() as coop:
        assert coop.get("/c/bank/COOP_E7D0FA3B1C2_NCII").status_code == 200
        found = _wait_for_match(coop, pdq, "COOP_E7D0FA3B1C2_NCII")
        assert found["COOP_E7D0FA3B1C2_NCII"][0]["distance"] == "0"
        assert coop.post("/c/bank/COOP_E7D0FA3B1C2_NCII/signal", json={"pdq": "0" * 64}).status_code == 403
        assert coop.put("/c/bank/COOP_E7D0FA3B1C2_NCII", json={"enabled_ratio": 0}).status_code == 200
        assert coop.delete("/c/bank/COOP_E7D0FA3B1C2_NCII").status_code == 200
    admin = new_key(hub.database_url, "admin")
    survivors = httpx.get(
        f"{hub.server.url}/v1/banks/survivors", headers={"Authorization": f"Bearer {admin}"}
    )
    assert survivors.json()["enabled"] is True
