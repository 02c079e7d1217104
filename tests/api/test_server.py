"""Real server processes: live matching across worker processes, and durability under kill -9."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redline.bank import service
from redline.bank.db import Database
from tests.support import ATTESTATION
from tests.support.server import Server

pytestmark = pytest.mark.slow


@pytest.fixture
def match_key(database_url: str) -> str:
    db = Database(database_url)
    with db.write() as session:
        _, token = service.create_api_key(session, name="platform", scopes=["match"], actor="test")
    db.dispose()
    return token


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[Server]:
    server = Server(database_url, tmp_path, workers=2)
    yield server
    server.stop()


def _matches(server: Server, key: str, value: str) -> bool:
    """One lookup on a new connection (so successive lookups spread over the worker processes)."""
    response = httpx.post(
        server.url + "/v1/match",
        headers={"Authorization": f"Bearer {key}"},
        json={"hashes": [{"type": "pdq", "value": value}]},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["results"][0]["matches"])


def _propagation_seconds(
    server: Server, key: str, value: str, expect: bool, since: float, streak: int = 12
) -> float:
    """Seconds from ``since`` until the first request of a run of ``streak`` consecutive lookups that all
    answered ``expect`` was sent: from then on, every worker that answered knew of the change. (Measuring
    to the end of the run would add the probing time itself, which on a loaded machine is large.)"""
    run_start, run = 0.0, 0
    while run < streak:
        assert time.monotonic() - since < 10, "never converged"
        sent = time.monotonic()
        try:
            agrees = _matches(server, key, value) == expect
        except httpx.TransportError:
            agrees = False
        run_start, run = (run_start or sent, run + 1) if agrees else (0.0, 0)
    return run_start - since


@pytest.mark.timing
def test_every_worker_matches_within_a_second(two_workers: Server, match_key: str) -> None:
    image = secrets.token_hex(32)
    created = httpx.post(
        two_workers.url + "/v1/cases",
        json={"hashes": [{"type": "pdq", "value": image, "quality": 90}], "attestation": ATTESTATION},
    )
    assert created.status_code == 201
    added_after = _propagation_seconds(two_workers, match_key, image, True, since=time.monotonic())
    case = created.json()
    withdrawn = httpx.post(
        f"{two_workers.url}/v1/cases/{case['case_id']}/withdraw", headers={"X-Case-Secret": case["secret"]}
    )
    assert withdrawn.status_code == 200
    removed_after = _propagation_seconds(two_workers, match_key, image, False, since=time.monotonic())
    assert added_after < 1.0, f"a new hash took {added_after:.2f} s to match in every worker"
    assert removed_after < 1.0, f"a withdrawn hash kept matching for {removed_after:.2f} s"


def test_acknowledged_writes_survive_kill_9(database_url: str, tmp_path: Path, match_key: str) -> None:
    server = Server(database_url, tmp_path)
    image = secrets.token_hex(32)
    try:
        created = httpx.post(
            server.url + "/v1/cases",
            json={
                "hashes": [
                    {"type": "pdq", "value": image, "quality": 90},
                    {"type": "md5", "value": "ab" * 16},
                ],
                "attestation": ATTESTATION,
            },
        )
        assert created.status_code == 201
        server.kill_hard()  # right after the 201: no graceful shutdown
        case, secret = created.json()["case_id"], created.json()["secret"]

        server = Server(database_url, tmp_path)
        status = httpx.get(f"{server.url}/v1/cases/{case}", headers={"X-Case-Secret": secret}).json()
        assert status["status"] == "active" and [h["status"] for h in status["hashes"]] == [
            "active",
            "active",
        ]
        assert _matches(server, match_key, image)

        withdrawn = httpx.post(f"{server.url}/v1/cases/{case}/withdraw", headers={"X-Case-Secret": secret})
        assert withdrawn.status_code == 200
        server.kill_hard()

        server = Server(database_url, tmp_path)
        status = httpx.get(f"{server.url}/v1/cases/{case}", headers={"X-Case-Secret": secret}).json()
        assert status["status"] == "withdrawn" and {h["status"] for h in status["hashes"]} == {"withdrawn"}
        assert not _matches(server, match_key, image)
    finally:
        server.stop()


@pytest.mark.timing
def test_kept_alive_connections_answer_without_nagle_stalls(two_workers: Server) -> None:
    """With several workers uvicorn binds the socket itself and Nagle's algorithm stayed on: every response
    on a reused connection waited ~40 ms for a delayed ACK. 20 requests must not take 20 such stalls."""
    with httpx.Client(base_url=two_workers.url) as client:
        client.get("/healthz")
        started = time.perf_counter()
        for _ in range(20):
            assert client.get("/healthz").status_code == 200
        elapsed = time.perf_counter() - started
    assert elapsed < 0.4, f"20 kept-alive requests took {elapsed:.2f} s (Nagle/delayed-ACK stalls?)"
