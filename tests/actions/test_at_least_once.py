"""At-least-once delivery with real processes: the receiver and the worker are killed (SIGKILL) mid-delivery
and restarted; every event arrives, none is lost, and repeats carry the same ``webhook-id``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from redline import events
from redline.actions import outbox
from redline.actions.models import WebhookDelivery
from redline.actions.urlpolicy import UrlPolicy
from redline.bank.db import Database
from tests.support import REPO_ROOT
from tests.support.receiver import read_records

RECEIVER = REPO_ROOT / "tests" / "support" / "receiver.py"
REDLINE = Path(sys.executable).parent / "redline"
EVENTS = 40

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_kill_receiver_and_worker_mid_delivery(db: Database, database_url: str, tmp_path: Path) -> None:
    port = free_port()
    received = tmp_path / "received.jsonl"
    with db.write() as s:
        outbox.register_endpoint(
            s, url=f"http://127.0.0.1:{port}/hook", policy=UrlPolicy(allow_loopback=True), actor="test"
        )
    with db.write() as s:
        event_ids = {events.emit(s, "match.created", {"n": n}) for n in range(EVENTS)}

    env = {
        **os.environ,
        "REDLINE_DATABASE_URL": database_url,
        "REDLINE_DATA_DIR": str(tmp_path / "data"),
        "REDLINE_WEBHOOK_ALLOW_LOOPBACK": "1",
        "REDLINE_WEBHOOK_POLL_INTERVAL": "0.05",
        "REDLINE_WEBHOOK_BACKOFF_BASE_S": "0.2",
        "REDLINE_WEBHOOK_TIMEOUT_S": "1",
    }
    worker_cmd = [str(REDLINE), "webhooks", "worker", "--lease-seconds", "2"]
    # The receiver records each message, then waits before answering: kills land between the two.
    receiver = start([sys.executable, str(RECEIVER), str(port), str(received), "0.3"], tmp_path / "rx.log")
    worker = start(worker_cmd, tmp_path / "worker.log", env)
    deadline = time.monotonic() + 30
    while len(read_records(received)) < 10:
        assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
        time.sleep(0.02)
    kill(receiver)
    kill(worker)
    before_restart = len(read_records(received))
    assert before_restart < EVENTS  # really killed mid-way

    # The worker comes back first and meets a dead receiver (failures, backoff); then the receiver returns.
    worker = start(worker_cmd, tmp_path / "worker.log", env)
    time.sleep(0.5)
    receiver = start([sys.executable, str(RECEIVER), str(port), str(received)], tmp_path / "rx.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            with db.read() as s:
                undelivered = s.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.status != "delivered")
                )
            if undelivered == 0:
                break
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.1)
    finally:
        kill(worker)
        kill(receiver)

    records = read_records(received)
    by_id: dict[str, set[str]] = {}
    for record in records:
        headers = record["headers"]
        assert isinstance(headers, dict)
        by_id.setdefault(headers["webhook-id"], set()).add(
            json.dumps(json.loads(str(record["body"]))["data"])
        )
    assert set(by_id) == event_ids  # every event arrived, nothing unknown
    assert all(len(bodies) == 1 for bodies in by_id.values())  # a repeat is the same event under the same id
    # The kill came while a recorded message waited for its answer: it was sent again, under the same id.
    assert len(records) > EVENTS
