"""Outbox and delivery worker against a real local receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from redline import events
from redline.actions import outbox
from redline.actions.backoff import Backoff
from redline.actions.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from redline.actions.signing import verify
from redline.actions.urlpolicy import UrlPolicy
from redline.actions.worker import DeliveryWorker, WorkerConfig
from redline.bank.db import Database
from redline.bank.models import Partner, utcnow
from tests.support.receiver import Receiver

LOOPBACK = UrlPolicy(allow_loopback=True)


def worker(db: Database, **kw: object) -> DeliveryWorker:
    config = WorkerConfig(policy=LOOPBACK, backoff=Backoff(base_s=0.01, max_age_s=3600), timeout_s=2, **kw)  # type: ignore[arg-type]
    return DeliveryWorker(db, config)


def register(db: Database, url: str, **kw: object) -> tuple[int, str]:
    with db.write() as s:
        endpoint, secret = outbox.register_endpoint(s, url=url, policy=LOOPBACK, actor="test", **kw)  # type: ignore[arg-type]
        return endpoint.id, secret


def emit(
    db: Database, event_type: str = "match.created", partner_id: int | None = None, **data: object
) -> str:
    with db.write() as s:
        return events.emit(s, event_type, dict(data), partner_id=partner_id)


def statuses(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(WebhookDelivery.status).order_by(WebhookDelivery.id)))


def test_registration_applies_the_url_policy(db: Database) -> None:
    with db.write() as s, pytest.raises(outbox.EndpointError, match="loopback"):
        outbox.register_endpoint(s, url="http://127.0.0.1:9/hook", policy=UrlPolicy(), actor="test")
    with db.write() as s, pytest.raises(outbox.EndpointError, match="event types"):
        outbox.register_endpoint(
            s, url="http://127.0.0.1:9/h", policy=LOOPBACK, actor="t", event_types=["nope"]
        )


def test_signed_delivery_end_to_end(db: Database, tmp_path: Path) -> None:
    with Receiver(tmp_path / "rx.jsonl") as rx:
        _, secret = register(db, rx.url)
        event_id = emit(db, entry_id=7)
        w = worker(db)
        assert w.run_once() == 1
        assert w.run_once() == 0  # nothing left
        w.stop()
        [record] = rx.records()
    headers = record["headers"]
    assert isinstance(headers, dict) and headers["webhook-id"] == event_id
    body = str(record["body"]).encode()
    verify(secret, headers, body)
    payload = json.loads(body)
    assert payload["type"] == "match.created" and payload["data"] == {"entry_id": 7}
    assert statuses(db) == ["delivered"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(WebhookAttempt)) == 1


def test_subscriptions_filter_by_event_type_and_partner(db: Database, tmp_path: Path) -> None:
    with db.write() as s:
        s.add_all(
            [Partner(id=1, name="a", created_at=utcnow()), Partner(id=2, name="b", created_at=utcnow())]
        )
    register(db, "http://127.0.0.1:9/all")
    register(db, "http://127.0.0.1:9/quarantine", event_types=["entry.quarantined"])
    register(db, "http://127.0.0.1:9/partner1", partner_id=1)
    emit(db, "match.created", partner_id=2)  # -> all only
    emit(db, "match.created", partner_id=1)  # -> all, partner1
    emit(db, "entry.quarantined", entry_ids=[1])  # bank-wide -> all, quarantine, partner1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 6


def test_failures_back_off_then_dead_letter_then_replay(db: Database, tmp_path: Path) -> None:
    with Receiver(tmp_path / "rx.jsonl", status=500) as rx:
        endpoint_id, _ = register(db, rx.url)
        event_id = emit(db)
        w = worker(db)
        assert w.run_once() == 1
        with db.read() as s:
            row = s.scalars(select(WebhookDelivery)).one()
            assert row.status == "pending" and row.attempts == 1 and row.last_status_code == 500
            assert row.next_attempt_at > utcnow() - timedelta(seconds=1)
            assert row.lease_until is None
        # Age the event past the maximum: the next failure dead-letters it.
        with db.write() as s:
            s.execute(update(WebhookEvent).values(created_at=utcnow() - timedelta(hours=2)))
            s.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
        dying = DeliveryWorker(db, WorkerConfig(policy=LOOPBACK, backoff=Backoff(max_age_s=60), timeout_s=2))
        assert dying.run_once() == 1
        assert statuses(db) == ["dead"]
        assert w.run_once() == 0  # dead rows are not retried

        rx.set_status(204)
        with db.write() as s:
            assert outbox.replay(s, actor="operator", endpoint_id=endpoint_id) == 1
        assert w.run_once() == 1
        w.stop()
        dying.stop()
        ids = [r["headers"]["webhook-id"] for r in rx.records()]  # type: ignore[index]
    assert statuses(db) == ["delivered"]
    assert ids == [event_id] * 3  # every attempt, replay included, carries the same webhook-id


def test_secret_rotation_signs_with_old_and_new(db: Database, tmp_path: Path) -> None:
    with Receiver(tmp_path / "rx.jsonl") as rx:
        endpoint_id, old = register(db, rx.url)
        with db.write() as s:
            new = outbox.rotate_secret(s, endpoint_id, actor="operator")
        emit(db)
        w = worker(db)
        w.run_once()
        w.stop()
        [record] = rx.records()
    headers, body = record["headers"], str(record["body"]).encode()
    assert isinstance(headers, dict)
    assert len(headers["webhook-signature"].split()) == 2
    verify(old, headers, body)
    verify(new, headers, body)
    with db.write() as s:  # once the overlap is over, only the new secret signs
        endpoint = outbox.get_endpoint(s, endpoint_id)
        assert outbox.active_secrets(endpoint, utcnow() + timedelta(days=2)) == [new]


def test_concurrent_workers_claim_disjoint_rows(db: Database) -> None:
    register(db, "http://127.0.0.1:9/hook")
    for _ in range(10):
        emit(db)
    a, b = worker(db, batch=6), worker(db, batch=6)
    first, second = a.claim(), b.claim()
    assert len(first) == 6 and len(second) == 4 and not set(first) & set(second)
    assert worker(db).claim() == []  # all leased
    a.stop()
    b.stop()


def test_disabled_endpoint_dead_letters(db: Database, tmp_path: Path) -> None:
    with Receiver(tmp_path / "rx.jsonl") as rx:
        endpoint_id, _ = register(db, rx.url)
        emit(db)
        with db.write() as s:
            outbox.set_endpoint_enabled(s, endpoint_id, False, actor="operator")
        w = worker(db)
        w.run_once()
        w.stop()
        assert rx.records() == []
    assert statuses(db) == ["dead"]


def test_events_without_subscribers_are_not_stored(db: Database) -> None:
    register(db, "http://127.0.0.1:9/hook", event_types=["entry.withdrawn"])
    emit(db, "match.created")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    emit(db, "entry.withdrawn", entry_ids=[1])
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(WebhookEvent)) == 1
