"""StopNCII's partner API shape: python-threatexchange's own StopNCII client against ``redline serve``, and
Redline's puller between two Redline instances (a hub and a platform) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from click.testing import Result
from sqlalchemy import select
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICaseStatus,
    StopNCIICSPFeedbackValue,
    StopNCIIEndpoint,
    StopNCIIHashRecord,
    StopNCIISignalType,
)
from typer.testing import CliRunner

from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import Entry
from redline.cli.main import app
from redline.interop.models import StopnciiPull
from redline.interop.pull import pull
from redline.interop.stopncii import Cursor
from tests.support import ATTESTATION, wait_until
from tests.support.bank import new_key
from tests.support.server import Server

PDQ_A, PDQ_B, PDQ_NEW = "a" * 63 + "1", "b" * 63 + "2", "c" * 63 + "3"
MD5_A, SHA_A = "d" * 32, "e" * 64
Records = dict[tuple[StopNCIISignalType, str], StopNCIIHashRecord]


@dataclass
class Hub:
    server: Server
    database_url: str

    @property
    def base(self) -> str:
        return f"{self.server.url}/stopncii/v1"

    def client(self, token: str, submit_token: str = "") -> StopNCIIAPI:
        extra = {StopNCIIEndpoint.SubmitFeedback: token}
        if submit_token:
            extra[StopNCIIEndpoint.SubmitHashes] = submit_token
        return StopNCIIAPI(token, token, additional_function_keys=extra, base_url_override=self.base)

    def submit(self, *hashes: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.server.url}/v1/cases", json={"hashes": list(hashes), "attestation": ATTESTATION}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def withdraw(self, case: dict[str, Any]) -> None:
        response = httpx.post(
            f"{self.server.url}/v1/cases/{case['case_id']}/withdraw",
            headers={"X-Case-Secret": case["secret"]},
        )
        assert response.status_code == 200, response.text


def _server(database_url: str, data_dir: Path) -> Server:
    data_dir.mkdir(parents=True)
    return Server(database_url, data_dir)


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    server = _server(database_url, tmp_path / "hub")
    try:
        yield Hub(server, database_url)
    finally:
        server.stop()


def pull_all(api: StopNCIIAPI, start: int = StopNCIIAPI.DEFAULT_START_TIME) -> tuple[Records, int]:
    """The client's documented way to read everything: later records replace earlier ones."""
    records: Records = {}
    checkpoint = start
    for page in api.fetch_hashes_iter(start):
        assert page.count == len(page.hashRecords) <= 800
        records.update({(r.signalType, r.hashValue): r for r in page.hashRecords})
        checkpoint = page.nextSetTimestamp
    return records, checkpoint


def test_threatexchange_client_pulls_withdrawals_and_sends_feedback(hub: Hub) -> None:
    case_a = hub.submit(
        {"type": "pdq", "value": PDQ_A, "quality": 90, "item": 0},
        {"type": "pdq_region", "value": "f" * 64, "quality": 90, "item": 0},
        {"type": "md5", "value": MD5_A, "item": 0},
        {"type": "sha256", "value": SHA_A, "item": 0},
    )
    hub.submit({"type": "pdq", "value": PDQ_B, "quality": 90})
    feed = new_key(hub.database_url, "feed", partner="platform-x")
    api = hub.client(feed)

    records, checkpoint = pull_all(api)
    # StopNCII's vocabulary only: PDQ and MD5; the robust crops and SHA-256 have no StopNCII type.
    assert set(records) == {
        (StopNCIISignalType.ImagePDQ, PDQ_A),
        (StopNCIISignalType.VideoMD5, MD5_A),
        (StopNCIISignalType.ImagePDQ, PDQ_B),
    }
    assert all(r.hashStatus is StopNCIICaseStatus.Active for r in records.values())
    numbers_a = records[(StopNCIISignalType.ImagePDQ, PDQ_A)].caseNumbers
    assert numbers_a == records[(StopNCIISignalType.VideoMD5, MD5_A)].caseNumbers  # grouped by case
    assert list(numbers_a.values()) == [StopNCIICaseStatus.Active]
    assert case_a["case_id"] not in str(numbers_a)  # a pseudonym, not the id that opens the case page

    # Pages: follow nextPageToken one record at a time.
    page, seen = api.fetch_hashes(page_size=1), []
    while True:
        assert page.count <= 1
        seen += [r.hashValue for r in page.hashRecords]
        if not page.hasMoreRecords:
            break
        assert page.nextPageToken
        page = api.fetch_hashes(page_size=1, next_page=page.nextPageToken)
    assert sorted(seen) == sorted(v for _, v in records)
    too_big = httpx.get(
        f"{hub.base}/FetchHashes", params={"pageSize": 801}, headers={"x-functions-key": feed}
    )
    assert too_big.status_code == 422
    bad_token = httpx.get(
        f"{hub.base}/FetchHashes", params={"nextPageToken": "nope"}, headers={"x-functions-key": feed}
    )
    assert bad_token.status_code == 400

    # The survivor withdraws: the next incremental pull says so, with the hash the partner must drop.
    hub.withdraw(case_a)
    changed, _ = pull_all(api, checkpoint)
    assert changed[(StopNCIISignalType.ImagePDQ, PDQ_A)].hashStatus is StopNCIICaseStatus.Withdrawn
    assert changed[(StopNCIISignalType.VideoMD5, MD5_A)].hashStatus is StopNCIICaseStatus.Withdrawn
    assert list(changed[(StopNCIISignalType.ImagePDQ, PDQ_A)].caseNumbers.values()) == [
        StopNCIICaseStatus.Withdrawn
    ]
    # A partner that arrives later never learns the withdrawn hashes at all.
    late = new_key(hub.database_url, "feed", partner="late")
    newcomer, _ = pull_all(hub.client(late))
    assert set(newcomer) == {(StopNCIISignalType.ImagePDQ, PDQ_B)}
    # ... not even with a forged page token or an old start timestamp.
    forged = Cursor(after=0, origin=10**9, horizon=0).token()
    assert PDQ_A not in str(hub.client(late).fetch_hashes(next_page=forged))
    assert PDQ_A not in str(list(hub.client(late).fetch_hashes_iter(start_timestamp=0)))

    # Feedback comes back in CSPFeedbacks, under the partner's name.
    api.submit_feedback(StopNCIISignalType.ImagePDQ, PDQ_B, StopNCIICSPFeedbackValue.Blocked, {"reviewed"})
    api.submit_feedback(StopNCIISignalType.ImagePDQ, PDQ_B, StopNCIICSPFeedbackValue.NotBlocked)  # replaces
    after, _ = pull_all(api)
    feedbacks = after[(StopNCIISignalType.ImagePDQ, PDQ_B)].CSPFeedbacks
    assert [(f.feedbackValue, f.source, f.tags) for f in feedbacks] == [
        (StopNCIICSPFeedbackValue.NotBlocked, "platform-x", set())
    ]
    bad = httpx.post(
        f"{hub.base}/SubmitFeedback",
        json={"count": 1, "hashFeedbacks": [{"hashValue": PDQ_B, "feedbackValue": "Maybe"}]},
        headers={"x-functions-key": feed},
    )
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    db = Database(hub.database_url)
    try:
        with db.read() as session:
            pulled = [e for e in service.audit_page(session, 0, 10_000) if e.action == "stopncii.fetched"]
        assert pulled and {e.actor for e in pulled} >= {f"key:{feed.split('_')[1]}"}
        assert sum(e.details["records"] for e in pulled if e.actor == f"key:{feed.split('_')[1]}") > 0
    finally:
        db.dispose()


def test_partners_submit_hashes_with_a_submit_key(hub: Hub) -> None:
    submit = new_key(hub.database_url, "submit", partner="platform-x")
    hub.client("rk_unused_key", submit).submit_hash(StopNCIISignalType.ImagePDQ, PDQ_NEW, {"verified"})
    # The submissions bank exists now; the operator grants the partner's feed key reading it.
    feed = new_key(hub.database_url, "feed", partner="platform-x")
    api = hub.client(feed, submit)
    api.submit_hash(StopNCIISignalType.ImagePDQ, PDQ_NEW)  # again: not stored twice
    records, _ = pull_all(api)
    record = records[(StopNCIISignalType.ImagePDQ, PDQ_NEW)]
    assert record.hashStatus is StopNCIICaseStatus.Active and record.caseNumbers == {}
    assert [f.feedbackValue for f in record.CSPFeedbacks] == [StopNCIICSPFeedbackValue.Blocked]
    db = Database(hub.database_url)
    try:
        with db.read() as session:
            bank = service.get_bank(session, "stopncii-submissions")
            assert bank.enabled
    finally:
        db.dispose()

    with pytest.raises(requests.HTTPError) as refused:  # a feed key may not submit
        hub.client(feed, feed).submit_hash(StopNCIISignalType.ImagePDQ, PDQ_B)
    assert refused.value.response.status_code == 403
    with pytest.raises(requests.HTTPError) as anonymous:
        StopNCIIAPI("", "x", base_url_override=hub.base).fetch_hashes()
    assert anonymous.value.response.status_code == 401
    match_only = new_key(hub.database_url, "match")
    assert httpx.get(f"{hub.base}/FetchHashes", headers={"x-functions-key": match_only}).status_code == 403


def _run(database_url: str, data_dir: Path, *args: str) -> Result:
    """``redline ARGS`` for the platform, in this process (the command is this Typer app; a process per
    command was a good part of the test's time). Hub and platform stay real server processes."""
    env = {"REDLINE_DATABASE_URL": database_url, "REDLINE_DATA_DIR": str(data_dir)}
    return CliRunner().invoke(app, list(args), env=env)


def _cli(database_url: str, data_dir: Path, *args: str) -> str:
    done = _run(database_url, data_dir, *args)
    assert done.exit_code == 0, (done.stderr, done.exception)
    return done.stdout


def test_redline_pulls_a_stopncii_api_and_a_withdrawal_stops_matching(hub: Hub, tmp_path: Path) -> None:
    """Hub and platform are two Redline instances; the platform pulls with ``redline stopncii pull``."""
    case_a = hub.submit({"type": "pdq", "value": PDQ_A, "quality": 90}, {"type": "md5", "value": MD5_A})
    hub.submit({"type": "pdq", "value": PDQ_B, "quality": 90})
    feed = new_key(hub.database_url, "feed", partner="platform")

    platform_url = f"sqlite:///{tmp_path / 'platform.db'}"
    platform_db = Database(platform_url)
    platform_db.upgrade()
    with platform_db.write() as session:
        service.create_bank(session, name="stopncii", actor="test")
    platform_dir = tmp_path / "platform"
    platform = _server(platform_url, platform_dir)
    try:
        match = {"Authorization": f"Bearer {new_key(platform_url, 'match')}"}

        def matches(kind: str, value: str) -> list[dict[str, Any]]:
            response = httpx.post(
                f"{platform.url}/v1/match", json={"hashes": [{"type": kind, "value": value}]}, headers=match
            )
            assert response.status_code == 200, response.text
            found: list[dict[str, Any]] = response.json()["results"][0]["matches"]
            return found

        # A run stopped after its first page (one record), then a full run: nothing lost, nothing doubled.
        first = pull(
            platform_db,
            name="hub",
            url=hub.base,
            key=feed,
            bank="stopncii",
            actor="test",
            page_size=1,
            max_pages=1,
        )
        assert first.pages == 1 and first.applied.added == 1
        args = ("stopncii", "pull", hub.base, "--key", feed, "--bank", "stopncii", "--name", "hub")
        assert "2 added" in _cli(platform_url, platform_dir, *args)
        with platform_db.read() as session:
            assert len(session.scalars(select(Entry).where(Entry.origin == "stopncii:hub")).all()) == 3
        assert [m["bank"] for m in matches("md5", MD5_A)] == ["stopncii"]
        # The index follows the change log (~0.25 s here): wait until it holds both pulled pictures (the
        # first page's may be indexed well before the full run's).
        wait_until(lambda: bool(matches("pdq", PDQ_A)) and bool(matches("pdq", PDQ_B)), timeout=10)

        hub.withdraw(case_a)
        out = _cli(platform_url, platform_dir, *args)
        assert "2 removed" in out and "0 added" in out
        assert matches("pdq", PDQ_A) == [] and matches("md5", MD5_A) == []
        assert [m["bank"] for m in matches("pdq", PDQ_B)] == ["stopncii"]
        again = _cli(platform_url, platform_dir, *args)  # nothing new: nothing changes
        assert "0 added, 0 restored, 0 removed" in again

        listed = _cli(platform_url, platform_dir, "stopncii", "list").split("\t")
        assert listed[:3] == ["hub", hub.base, "stopncii"] and listed[-1].strip() == "-"
        with platform_db.read() as session:
            state = session.get(StopnciiPull, "hub")
            assert state is not None and state.checkpoint > 0 and state.last_error == ""
            entries = service.audit_page(session, 0, 1000)
            assert any(e.action == "entry.expired" for e in entries)  # every removal is audited
        wrong = _run(
            platform_url,
            platform_dir,
            *("stopncii", "pull", hub.base, "--key", "rk_0000000000000000_x", "--bank", "stopncii"),
        )
        assert wrong.exit_code == 1 and "401" in wrong.stderr
    finally:
        platform.stop()
        platform_db.dispose()
