"""Two Redline instances on loopback (real ``redline serve`` processes): B witnesses A's log.

A's checkpoints carry B's cosignature while A's log only grows; when A's operator rewrites a logged row
and rebuilds the log over it, B refuses to cosign (and records the attempt), so the rewritten history has
no cosignature and the offline verifier, told to require B's, rejects it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import AuditEvent
from redline.cli.main import app
from redline.evidence.checkpoint import Checkpoint
from redline.evidence.note import VerifierKey, open_note
from redline.evidence.verify import verify_export
from tests.support import ATTESTATION
from tests.support.bank import rewrite_history
from tests.support.server import Server

pytestmark = pytest.mark.slow


@dataclass
class Instance:
    server: Server
    database_url: str
    data_dir: Path

    def cli(self, *args: str) -> str:
        """``redline ARGS`` for this instance, in this process (the command is this Typer app; a process per
        command was a good part of the test's time). The servers stay real processes."""
        env = {"REDLINE_DATABASE_URL": self.database_url, "REDLINE_DATA_DIR": str(self.data_dir)}
        done = CliRunner().invoke(app, list(args), env=env)
        assert done.exit_code == 0, (done.stderr, done.exception)
        return done.stdout.strip()


@pytest.fixture
def pair(database_url: str, tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    b_url = f"sqlite:///{b_dir / 'redline.db'}"
    servers: list[Server] = []
    try:
        for url, folder in ((database_url, a_dir), (b_url, b_dir)):
            folder.mkdir()
            servers.append(Server(url, folder))
        yield Instance(servers[0], database_url, a_dir), Instance(servers[1], b_url, b_dir)
    finally:
        for server in servers:
            server.stop()


def _admin_key(url: str) -> dict[str, str]:
    db = Database(url)
    with db.write() as session:
        _, token = service.create_api_key(session, name="operator", scopes=["admin"], actor="test")
    db.dispose()
    return {"Authorization": f"Bearer {token}"}


def _submit(instance: Instance) -> None:
    response = httpx.post(
        instance.server.url + "/v1/cases",
        json={"hashes": [{"type": "md5", "value": os.urandom(16).hex()}], "attestation": ATTESTATION},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def _publish(instance: Instance, admin: dict[str, str]) -> str:
    response = httpx.post(instance.server.url + "/v1/log/checkpoint", headers=admin, timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def test_a_witness_cosigns_a_growing_log_and_refuses_a_rewritten_one(
    pair: tuple[Instance, Instance], tmp_path: Path
) -> None:
    a, b = pair
    log_key = VerifierKey.parse(httpx.get(a.server.url + "/v1/log/key").text)
    b.cli("log", "witness", "trust", log_key.text())
    witness_key = VerifierKey.parse(b.cli("log", "key", "--witness"))
    a.cli("log", "witness", "add", b.server.url + "/v1/witness", "--key", witness_key.text())
    admin = _admin_key(a.database_url)

    _submit(a)
    first = open_note(_publish(a, admin), [log_key, witness_key])
    assert first.signed_by(witness_key) is not None
    for _ in range(3):
        _submit(a)
    second = open_note(_publish(a, admin), [log_key, witness_key])
    assert second.signed_by(witness_key) is not None  # cosigned after a consistency proof from the first
    assert Checkpoint.parse(second.text).size > Checkpoint.parse(first.text).size
    assert "witnessed by this instance: " + log_key.name in b.cli("log", "witness", "list")

    a.cli("log", "export", "--out", str(tmp_path / "honest.jsonl"))
    honest = verify_export(tmp_path / "honest.jsonl", log_key, [witness_key])
    assert honest.ok, honest.problems

    # A's operator changes the first case's audit row and rebuilds the log over it, then publishes.
    a_db = Database(a.database_url)
    with a_db.read() as session:
        target = session.scalars(select(AuditEvent.id).where(AuditEvent.action == "case.created")).first()
    rewrite_history(a_db, [f"UPDATE audit_log SET details = '{{}}' WHERE id = {target}"])
    _submit(a)
    forged = open_note(_publish(a, admin), [log_key, witness_key])
    assert forged.signed_by(witness_key) is None, "the witness cosigned a rewritten history"

    a.cli("log", "export", "--out", str(tmp_path / "forged.jsonl"))
    assert verify_export(tmp_path / "forged.jsonl", log_key).ok  # self-consistent: only the witness knows
    report = verify_export(tmp_path / "forged.jsonl", log_key, [witness_key])
    assert not report.ok and any("no cosignature from witness" in p for p in report.problems)

    b_db = Database(b.database_url)
    with b_db.read() as session:
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "witness.inconsistent_checkpoint")
        ).all()
    assert refused and refused[0].subject == f"log:{log_key.name}"
    a_db.dispose()
    b_db.dispose()
