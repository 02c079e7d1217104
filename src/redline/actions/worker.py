"""The webhook delivery worker: claims due deliveries, signs and sends them, records every attempt.

Why leases: several server processes (and ``redline webhooks worker``) may run a worker at once. A worker
*claims* due rows by setting ``lease_until``/``lease_owner`` in a short transaction — on PostgreSQL the rows
are selected ``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on or take each other's rows; on
SQLite the write transaction (``BEGIN IMMEDIATE``) already serialises claimers. The HTTP request happens
outside any transaction. A worker killed mid-delivery leaves its lease to expire, then another claims the row
and sends it again with the same ``webhook-id``: at-least-once, never lost.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update

from redline.actions.backoff import Backoff
from redline.actions.client import AttemptResult, WebhookClient
from redline.actions.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from redline.actions.outbox import active_secrets
from redline.actions.signing import signature_headers
from redline.actions.urlpolicy import UrlPolicy
from redline.bank.db import Database
from redline.bank.models import utcnow
from redline.config import Settings
from redline.review.queue import drop_expired_previews

log = logging.getLogger(__name__)
#: How often a worker deletes expired previews (seconds).
HOUSEKEEPING_INTERVAL_S = 60.0


@dataclass(frozen=True)
class WorkerConfig:
    policy: UrlPolicy
    backoff: Backoff
    timeout_s: float = 5.0
    #: How long a claim is exclusive. Longer than any attempt can take (the timeout), so a live worker
    #: never loses its row; short enough that a crashed worker's rows are retried soon.
    lease_s: float = 30.0
    poll_interval_s: float = 0.5
    batch: int = 20
    concurrency: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            policy=UrlPolicy(
                allow_loopback=settings.webhook_allow_loopback, allow_private=settings.webhook_allow_private
            ),
            backoff=Backoff(base_s=settings.webhook_backoff_base_s, max_age_s=settings.webhook_max_age_s),
            timeout_s=settings.webhook_timeout_s,
            lease_s=max(30.0, settings.webhook_timeout_s * 3),
            poll_interval_s=settings.webhook_poll_interval,
        )


class DeliveryWorker:
    def __init__(self, db: Database, config: WorkerConfig, *, owner: str | None = None) -> None:
        self.db = db
        self.config = config
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self.client = WebhookClient(config.policy, timeout_s=config.timeout_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one round -----------------------------------------------------------------------------------------

    def claim(self) -> list[int]:
        """Lease up to ``batch`` due deliveries to this worker; returns their ids."""
        now = utcnow()
        due = (
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
        )
        # A read first: an idle worker never takes the write lock (SQLite has one for the whole database).
        with self.db.read() as session:
            if session.scalar(select(WebhookDelivery.id).where(*due).limit(1)) is None:
                return []
        with self.db.write() as session:
            ids = list(
                session.scalars(
                    select(WebhookDelivery.id)
                    .where(*due)
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(self.config.batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if ids:
                session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(ids))
                    .values(lease_until=now + timedelta(seconds=self.config.lease_s), lease_owner=self.owner)
                )
        return ids

    def deliver(self, delivery_id: int) -> AttemptResult:
        """One attempt for a claimed delivery, and its bookkeeping."""
        with self.db.read() as session:
            row = session.execute(
                select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id == delivery_id)
            ).one()
        delivery, event, endpoint = row
        if not endpoint.enabled:
            result = AttemptResult(False, None, "endpoint disabled", 0)
        else:
            body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()
            headers = signature_headers(active_secrets(endpoint), event.id, body)
            result = self.client.post(endpoint.url, body, headers)
        self._record(delivery, event, result, final=not endpoint.enabled)
        return result

    def _record(
        self, delivery: WebhookDelivery, event: WebhookEvent, result: AttemptResult, *, final: bool
    ) -> None:
        now = utcnow()
        attempts = delivery.attempts + 1
        values: dict[str, object] = {
            "attempts": attempts,
            "lease_until": None,
            "lease_owner": None,
            "last_status_code": result.status_code,
            "last_error": result.error,
        }
        if result.ok:
            values.update(status="delivered", finished_at=now)
        elif final or self.config.backoff.expired((now - event.created_at).total_seconds()):
            values.update(status="dead", finished_at=now)
        else:
            delay = self.config.backoff.delay(attempts)
            values.update(next_attempt_at=now + timedelta(seconds=delay))
        with self.db.write() as session:
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    at=now,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=result.duration_ms,
                )
            )
            # Only the lease holder settles the row: if our lease ran out and another worker took the row,
            # its outcome wins and ours is kept only as an attempt record.
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id, WebhookDelivery.lease_owner == self.owner)
                .values(**values)
            )

    def run_once(self) -> int:
        """Claim and deliver one batch; returns how many deliveries were attempted."""
        ids = self.claim()
        if not ids:
            return 0
        if len(ids) == 1 or self.config.concurrency <= 1:
            for delivery_id in ids:
                self.deliver(delivery_id)
        else:
            with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(ids))) as pool:
                list(pool.map(self.deliver, ids))
        return len(ids)

    # --- long-running --------------------------------------------------------------------------------------

    def housekeeping(self) -> None:
        """Delete review previews past their time-to-live (the platform's content is kept no longer)."""
        with self.db.write() as session:
            dropped = drop_expired_previews(session)
        if dropped:
            log.info("deleted %d expired review previews", dropped)

    def run(self) -> None:
        """Deliver until :meth:`stop` is called. Errors are logged and retried, never fatal."""
        next_housekeeping = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_housekeeping:
                    self.housekeeping()
                    next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL_S
                busy = self.run_once()
            except Exception:  # the database may be briefly unavailable: keep the worker alive
                log.exception("webhook worker round failed")
                busy = 0
            if not busy:
                self._stop.wait(self.config.poll_interval_s)

    def start(self) -> DeliveryWorker:
        """Run in a daemon thread (what ``redline serve`` does)."""
        self._thread = threading.Thread(target=self.run, name="redline-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.close()
