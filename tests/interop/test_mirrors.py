"""Mirrors between real instances on loopback: a hub and two platforms (``redline serve`` processes), each
platform mirroring the hub into a local bank with ``redline mirror add`` and matching locally."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import AuditEvent, Entry
from redline.bank.secrets import ContactCipher
from redline.cli.main import app
from redline.mirror.models import Mirror, MirrorEntry
from redline.mirror.sync import MirrorError, sync
from tests.support import ATTESTATION, wait_until
from tests.support.bank import new_key
from tests.support.server import Server

PDQ_A, PDQ_B = "a" * 63 + "1", "b" * 63 + "2"
MD5_A = "d" * 32


def cli(database_url: str, data_dir: Path, *args: str, check: bool = True) -> Result:
    """``redline ARGS`` for an instance, run in this process (the ``redline`` command is this Typer app; a
    process per command was a good part of these tests' time). The servers stay real processes."""
    env = {"REDLINE_DATABASE_URL": database_url, "REDLINE_DATA_DIR": str(data_dir)}
    done = CliRunner().invoke(app, list(args), env=env)
    if check:
        assert done.exit_code == 0, (done.stderr, done.exception)
    return done


@dataclass
class Instance:
    """One Redline instance: its database, data folder and (once started) server."""

    database_url: str
    data_dir: Path
    server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def start(self, env: dict[str, str] | None = None) -> Instance:
        self.server = Server(self.database_url, self.data_dir, env=env)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def cli(self, *args: str, check: bool = True) -> Result:
        return cli(self.database_url, self.data_dir, *args, check=check)

    def db(self) -> Database:
        return Database(self.database_url)


def _instance(database_url: str, folder: Path) -> Instance:
    folder.mkdir(parents=True)
    if database_url.startswith("sqlite"):
        db = Database(database_url)
        db.upgrade()
        db.dispose()
    return Instance(database_url, folder)


def _platform(tmp_path: Path, name: str) -> Instance:
    return _instance(f"sqlite:///{tmp_path / name}.db", tmp_path / name)


def submit(hub: Instance, *hashes: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{hub.url}/v1/cases", json={"hashes": list(hashes), "attestation": ATTESTATION})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def matcher(platform: Instance) -> Callable[[str, str], list[dict[str, Any]]]:
    headers = {"Authorization": f"Bearer {new_key(platform.database_url, 'match', partner='local')}"}

    def matches(kind: str, value: str) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{platform.url}/v1/match", json={"hashes": [{"type": kind, "value": value}]}, headers=headers
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["results"][0]["matches"]
        return found

    return matches


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Instance]:
    instance = _instance(database_url, tmp_path / "hub").start(env={"REDLINE_REVIEW_REJECT_QUARANTINE": "2"})
    try:
        yield instance
    finally:
        instance.stop()


@pytest.mark.timing
def test_withdrawals_and_quarantines_reach_both_platforms_within_five_seconds(
    hub: Instance, tmp_path: Path
) -> None:
    case = submit(hub, {"type": "pdq", "value": PDQ_A, "quality": 90}, {"type": "md5", "value": MD5_A})
    submit(hub, {"type": "pdq", "value": PDQ_B, "quality": 90})
    admin = {"Authorization": f"Bearer {new_key(hub.database_url, 'admin')}"}
    platforms = [_platform(tmp_path, "p1"), _platform(tmp_path, "p2")]
    try:
        for number, platform in enumerate(platforms, 1):
            feed = new_key(hub.database_url, "feed", partner=f"platform-{number}")
            out = platform.cli(
                "mirror", "add", hub.url, "--key", feed, "--bank", "hub", "--from-banks", "survivors"
            )
            assert "pinned hub key redline-feed/" in out.stdout
            platform.start()  # the default sync interval
        finders = [matcher(p) for p in platforms]
        for matches in finders:
            wait_until(lambda m=matches: [x["bank"] for x in m("pdq", PDQ_A)] == ["hub"], timeout=20)
            assert [x["bank"] for x in matches("md5", MD5_A)] == ["hub"]

        # A survivor's withdrawal at the hub: gone from both platforms within one sync.
        started = time.monotonic()
        response = httpx.post(
            f"{hub.url}/v1/cases/{case['case_id']}/withdraw", headers={"X-Case-Secret": case["secret"]}
        )
        assert response.status_code == 200
        for matches in finders:
            wait_until(lambda m=matches: not m("pdq", PDQ_A) and not m("md5", MD5_A), timeout=5)
        withdrawn_s = time.monotonic() - started
        assert withdrawn_s <= 5.0

        # An operator's quarantine at the hub: the same.
        with hub.db().read() as session:
            entry_b = session.scalar(select(Entry.id).where(Entry.value == PDQ_B))
        started = time.monotonic()
        response = httpx.patch(
            f"{hub.url}/v1/entries/{entry_b}", json={"status": "quarantined", "reason": "test"}, headers=admin
        )
        assert response.status_code == 200, response.text
        for matches in finders:
            wait_until(lambda m=matches: not m("pdq", PDQ_B), timeout=5)
        assert time.monotonic() - started <= 5.0

        # The mirrored bank is read-only, its status is listed and in /metrics, nothing was stored twice.
        p1 = platforms[0]
        listed = p1.cli("mirror", "list").stdout.split("\t")
        assert listed[:4] == ["hub", hub.url, "hub", "on"] and listed[-1].strip() == "-"
        metrics = httpx.get(f"{p1.url}/metrics").text
        assert 'redline_mirror_refused_pages{mirror="hub"} 0.0' in metrics
        assert 'redline_mirror_lag_changes{mirror="hub"} 0.0' in metrics
        with p1.db().read() as session:
            assert session.scalar(select(func.count()).select_from(MirrorEntry)) == 3
            statuses = sorted(session.scalars(select(Entry.status)))
            assert statuses == ["active", "quarantined", "withdrawn", "withdrawn"][:0] or statuses == [
                "quarantined",
                "withdrawn",
                "withdrawn",
            ]
            kinds = {e.action for e in service.audit_page(session, 0, 1000)}
            assert {"mirror.added", "mirror.applied", "entry.withdrawn", "entry.quarantined"} <= kinds
        p1_admin = {"Authorization": f"Bearer {new_key(p1.database_url, 'admin')}"}
        refused = httpx.post(
            f"{p1.url}/v1/banks/hub/import",
            content="type,value\npdq," + "c" * 64 + "\n",
            headers={**p1_admin, "Content-Type": "text/csv"},
        )
        assert refused.status_code == 409 and "read-only mirror" in refused.json()["detail"]
        listed_api = httpx.get(f"{p1.url}/v1/mirrors", headers=p1_admin).json()
        assert (
            listed_api[0]["name"] == "hub" and listed_api[0]["entries"] == 0 and listed_api[0]["refused"] == 0
        )

        # The hub's audit log says what each partner pulled: positions and counts, no hashes.
        with hub.db().read() as session:
            pulls = session.scalars(select(AuditEvent).where(AuditEvent.action == "feed.pulled")).all()
        assert {p.subject for p in pulls} == {"partner:platform-1", "partner:platform-2"}
        assert all(set(p.details) == {"after", "position", "entries", "tombstones", "banks"} for p in pulls)
        assert PDQ_A not in json.dumps([p.details for p in pulls])
    finally:
        for platform in platforms:
            platform.stop()


def test_a_removed_mirror_stops_matching_at_once_and_keeps_its_rows(hub: Instance, tmp_path: Path) -> None:
    """No withdrawal can reach a removed mirror, so nothing it brought may go on matching."""
    submit(hub, {"type": "pdq", "value": PDQ_A, "quality": 90})
    platform = _platform(tmp_path, "p1")
    feed = new_key(hub.database_url, "feed", partner="platform-1")
    platform.cli("mirror", "add", hub.url, "--key", feed, "--bank", "hub")
    try:
        platform.start()
        matches = matcher(platform)
        wait_until(lambda: [x["bank"] for x in matches("pdq", PDQ_A)] == ["hub"], timeout=20)
        refused = platform.cli("mirror", "remove", "nowhere", "--yes", check=False)
        assert refused.exit_code == 1 and "no mirror named 'nowhere'" in refused.stderr
        out = platform.cli("mirror", "remove", "hub", "--yes")
        assert "hub removed; 1 entries stopped matching" in out.stdout
        wait_until(lambda: matches("pdq", PDQ_A) == [], timeout=5)
        with platform.db().read() as session:
            assert session.scalar(select(func.count()).select_from(Mirror)) == 0
            assert session.scalar(select(func.count()).select_from(MirrorEntry)) == 0
            assert list(session.scalars(select(Entry.status))) == ["expired"]  # kept, not deleted
            bank = service.get_bank(session, "hub")
            assert bank.mirror is None and not bank.enabled
            removed = [e for e in service.audit_page(session, 0, 1000) if e.action == "mirror.removed"]
            assert [(e.subject, e.details["expired"]) for e in removed] == [("mirror:hub", 1)]
        assert platform.cli("mirror", "list").stdout.strip() == ""
        # Through the API the same (a second mirror, into a bank of its own).
        platform.cli("mirror", "add", hub.url, "--key", feed, "--bank", "hub-again", "--name", "again")
        admin = {"Authorization": f"Bearer {new_key(platform.database_url, 'admin')}"}
        wait_until(lambda: [x["bank"] for x in matches("pdq", PDQ_A)] == ["hub-again"], timeout=20)
        gone = httpx.delete(f"{platform.url}/v1/mirrors/again", headers=admin)
        assert gone.status_code == 200 and gone.json() == {"name": "again", "expired": 1}
        wait_until(lambda: matches("pdq", PDQ_A) == [], timeout=5)
        assert httpx.delete(f"{platform.url}/v1/mirrors/again", headers=admin).status_code == 404
    finally:
        platform.stop()


def test_a_mirror_killed_mid_sync_resumes_without_losing_or_duplicating(
    hub: Instance, tmp_path: Path
) -> None:
    # 40 pages of 50: the kill lands after the first page with dozens still to come (a page takes ~0.2 s
    # here), so the restart resumes mid-feed; more pages would only make the test slower.
    total = 2000
    with hub.db().write() as session:
        # Random-looking values: far apart, so one query matches one entry.
        hashes = [service.normalize_hash("pdq", _pdq(i), 90) for i in range(total)]
        service.add_entries(session, "survivors", hashes, source="import", origin="import:test", actor="test")
    platform = _platform(tmp_path, "p1")
    feed = new_key(hub.database_url, "feed", partner="platform-1")
    platform.cli("mirror", "add", hub.url, "--key", feed, "--bank", "hub")
    # A short lease (renewed after every page of 50, which takes ~0.2 s): the restarted platform waits
    # out the lease the killed one left, as with the default 20 s, in a fifth of the time.
    env = {"REDLINE_MIRROR_PAGE_SIZE": "50", "REDLINE_MIRROR_LEASE_S": "4"}
    db = platform.db()

    def position() -> int:
        with db.read() as session:
            mirror = session.get(Mirror, "hub")
            assert mirror is not None
            return mirror.position

    try:
        platform.start(env=env)
        wait_until(lambda: position() > 0, timeout=30)
        assert platform.server is not None
        platform.server.kill_hard()  # kill -9 mid-sync: no shutdown, the lease left behind
        stopped_at = position()
        assert 0 < stopped_at < total
        platform.start(env=env)
        wait_until(lambda: position() >= total, timeout=120)
        with db.read() as session:
            held = session.execute(select(MirrorEntry.remote_id, Entry.value).join(Entry)).all()
            local = session.scalar(select(func.count()).select_from(Entry))
        assert len(held) == total == local  # nothing lost, nothing twice
        assert len({v for _, v in held}) == total and len({r for r, _ in held}) == total
        matches = matcher(platform)
        wait_until(lambda: [m["distance"] for m in matches("pdq", _pdq(total - 1))] == [0], timeout=10)
    finally:
        platform.stop()
        db.dispose()


def _pdq(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


class Tamper:
    """A proxy between a mirror and its hub that can strip, alter or replay pages."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.captured: bytes | None = None
        tamper = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                reply = httpx.get(
                    tamper.upstream + self.path, headers={"Authorization": self.headers["Authorization"]}
                )
                body = reply.content
                if reply.status_code == 200 and "/v1/mirror/feed" in self.path:
                    body = tamper.rewrite(body)
                self.send_response(reply.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rewrite(self, body: bytes) -> bytes:
        page = json.loads(body)
        if self.mode == "capture":
            self.captured = body
        elif self.mode == "strip":
            page.pop("note")
        elif self.mode == "alter" and page["items"]:
            page["items"][0]["value"] = "c" * 64
        elif self.mode == "drop" and page["items"]:
            page["items"] = page["items"][:-1]
        elif self.mode == "replay" and self.captured is not None:
            return self.captured
        return json.dumps(page).encode()


def test_a_tampering_proxy_is_refused_with_a_clear_error_and_nothing_applied(
    hub: Instance, tmp_path: Path
) -> None:
    submit(hub, {"type": "pdq", "value": PDQ_A, "quality": 90})
    proxy = Tamper(hub.url)
    platform = _platform(tmp_path, "p1")
    feed = new_key(hub.database_url, "feed", partner="platform-1")
    keys = httpx.get(f"{hub.url}/v1/mirror/keys").json()["keys"]
    platform.cli("mirror", "add", proxy.url, "--key", feed, "--bank", "hub", "--hub-key", keys[0])
    db = platform.db()
    cipher = ContactCipher.from_settings("", platform.data_dir)

    def state() -> tuple[int, int, int, str]:
        with db.read() as session:
            mirror = session.get(Mirror, "hub")
            assert mirror is not None
            count = session.scalar(select(func.count()).select_from(Entry)) or 0
            return mirror.position, count, mirror.refused, mirror.last_error

    try:
        proxy.mode = "capture"
        sync(db, "hub", cipher)  # a good page, captured by the proxy
        position, count, _, _ = state()
        assert count == 1 and position > 0
        submit(hub, {"type": "pdq", "value": PDQ_B, "quality": 90})
        for mode, reason in [
            ("strip", "unsigned"),
            ("alter", "altered"),
            ("drop", "altered"),
            ("replay", "replayed"),
        ]:
            proxy.mode = mode
            with pytest.raises(MirrorError) as refused:
                sync(db, "hub", cipher)
            assert f"page refused ({reason})" in refused.value.detail
            now_position, now_count, refusals, error = state()
            assert (now_position, now_count) == (position, count)  # no partial apply
            assert error.startswith(f"page refused ({reason})")
        assert refusals == 4
        platform.start(env={"REDLINE_MIRROR_INTERVAL_S": "3600"})
        wait_until(lambda: state()[2] == 5, timeout=10)  # the server's own first sync is refused too
        metrics = httpx.get(f"{platform.url}/metrics").text
        assert 'redline_mirror_refused_pages{mirror="hub"} 5.0' in metrics
        assert 'redline_mirror_failing{mirror="hub"} 1.0' in metrics
        listed = platform.cli("mirror", "list").stdout
        assert "refused=5" in listed and "page refused (replayed)" in listed
        proxy.mode = "pass"
        assert sync(db, "hub", cipher).applied.added == 1  # honest pages again: it catches up
        assert state()[1:] == (2, 5, "")
    finally:
        platform.stop()
        proxy.server.shutdown()
        db.dispose()


def test_platform_verdicts_reach_the_hub_count_toward_quarantine_and_flow_back(
    hub: Instance, tmp_path: Path
) -> None:
    """The hub quarantines at K=2 independent rejections: one from each platform's own reviewers."""
    case = submit(hub, {"type": "pdq", "value": PDQ_A, "quality": 90, "item": 0})
    platforms = [_platform(tmp_path, "p1"), _platform(tmp_path, "p2")]
    try:
        keys = []
        for number, platform in enumerate(platforms, 1):
            feed = new_key(hub.database_url, "feed", partner=f"platform-{number}")
            platform.cli("mirror", "add", hub.url, "--key", feed, "--bank", "hub")
            platform.start()
            keys.append(
                {"Authorization": f"Bearer {new_key(platform.database_url, 'match', 'review', partner='t')}"}
            )

        def match(platform: Instance, headers: dict[str, str]) -> list[dict[str, Any]]:
            response = httpx.post(
                f"{platform.url}/v1/match",
                json={"hashes": [{"type": "pdq", "value": PDQ_A}], "content_id": "upload-1"},
                headers=headers,
            )
            assert response.status_code == 200, response.text
            found: list[dict[str, Any]] = response.json()["results"][0]["matches"]
            return found

        def case_page() -> dict[str, Any]:
            response = httpx.get(
                f"{hub.url}/v1/cases/{case['case_id']}", headers={"X-Case-Secret": case["secret"]}
            )
            assert response.status_code == 200
            item: dict[str, Any] = response.json()["items"][0]
            return item

        def reject(platform: Instance, headers: dict[str, str]) -> None:
            wait_until(lambda: bool(match(platform, headers)), timeout=20)
            item_id = match(platform, headers)[0]["review_item_id"]
            assert item_id is not None
            decided = httpx.post(
                f"{platform.url}/v1/review/items/{item_id}/decision",
                json={"decision": "reject", "note": "a meme"},
                headers=headers,
            )
            assert decided.status_code == 200, decided.text

        def feedback_position(platform: Instance) -> int:
            db = platform.db()
            try:
                with db.read() as session:
                    mirror = session.get(Mirror, "hub")
                    assert mirror is not None
                    return mirror.feedback_position
            finally:
                db.dispose()

        reject(platforms[0], keys[0])
        # One platform's verdict reaches the hub and the survivor's page, in plain words; one is not K.
        wait_until(lambda: case_page()["reported"] == {"NotBlocked": 1}, timeout=10)
        assert case_page()["status"] == "active" and case_page()["copies_found"] == 1
        reject(platforms[1], keys[1])
        wait_until(lambda: case_page()["status"] == "quarantined", timeout=10)
        assert case_page()["reported"] == {"NotBlocked": 2}
        # The hub's quarantine flows back down: neither platform matches it any more.
        for platform, headers in zip(platforms, keys, strict=True):
            wait_until(lambda p=platform, h=headers: not match(p, h), timeout=5)
        # Verdicts are re-sent until settled (mirror.sync.FEEDBACK_SETTLE_S): once both platforms' feedback
        # positions have passed their decisions, every re-send is done and the hub must have counted each
        # partner once.
        wait_until(lambda: all(feedback_position(p) > 0 for p in platforms), timeout=20)
        with hub.db().read() as session:
            actions = [e.action for e in service.audit_page(session, 0, 1000)]
        assert actions.count("entry.quarantined") == 1
        assert case_page()["reported"] == {"NotBlocked": 2}
        with platforms[0].db().read() as session:
            mirror = session.get(Mirror, "hub")
            assert mirror is not None and mirror.feedback_position > 0 and mirror.last_error == ""
    finally:
        for platform in platforms:
            platform.stop()
