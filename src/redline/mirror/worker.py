"""The background sync: every server process runs one (like the webhook worker); a lease on each mirror's
row keeps one process syncing it at a time, and a process killed mid-sync leaves the lease to expire.

Each round syncs every enabled mirror to the hub's head, then waits ``interval_s``: a withdrawal or a
quarantine at the hub reaches the local match index within one interval plus the index's poll interval
(docs/MIRRORS.md). A failing hub is retried every round; its error stays in ``last_error``.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from datetime import timedelta

from sqlalchemy import or_, select, update

from redline.bank.db import Database
from redline.bank.models import utcnow
from redline.bank.secrets import ContactCipher
from redline.mirror.models import Mirror
from redline.mirror.sync import PAGE_SIZE, MirrorError, sync

log = logging.getLogger(__name__)


class MirrorWorker:
    def __init__(
        self,
        db: Database,
        cipher: ContactCipher,
        *,
        interval_s: float = 1.0,
        page_size: int = PAGE_SIZE,
        lease_s: float = 20.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.interval_s = interval_s
        self.page_size = page_size
        self.lease_s = lease_s
        self.timeout_s = timeout_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self, name: str) -> bool:
        """Take (or renew) the lease on mirror ``name``; False when another live process holds it."""
        now = utcnow()
        with self.db.write() as session:
            taken = session.execute(
                update(Mirror)
                .where(
                    Mirror.name == name,
                    Mirror.enabled.is_(True),
                    or_(
                        Mirror.lease_until.is_(None),
                        Mirror.lease_until < now,
                        Mirror.lease_owner == self.owner,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=now + timedelta(seconds=self.lease_s))
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def _keep_going(self, name: str) -> bool:
        """Between pages: still running, and the lease renewed."""
        return not self._stop.is_set() and self.claim(name)

    def run_once(self) -> int:
        """One round over every enabled mirror; returns how many pages were applied."""
        with self.db.read() as session:
            names = list(session.scalars(select(Mirror.name).where(Mirror.enabled.is_(True))))
        pages = 0
        for name in names:
            if self._stop.is_set() or not self.claim(name):
                continue
            try:
                pages += sync(
                    self.db,
                    name,
                    self.cipher,
                    page_size=self.page_size,
                    timeout_s=self.timeout_s,
                    keep_going=functools.partial(self._keep_going, name),
                ).pages
            except MirrorError as exc:
                log.warning("mirror %s: %s", name, exc.detail)
        return pages

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database may be briefly unavailable: keep the worker alive
                log.exception("mirror round failed")
            self._stop.wait(self.interval_s)

    def start(self) -> MirrorWorker:
        self._thread = threading.Thread(target=self.run, name="redline-mirrors", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self.db.write() as session:  # hand the leases back so a restarted process resumes at once
            session.execute(
                update(Mirror)
                .where(Mirror.lease_owner == self.owner)
                .values(lease_owner="", lease_until=None)
            )
