"""The background clock: every server process ticks the deadlines (row locks keep two processes from
sending one escalation twice on PostgreSQL; SQLite serialises writers)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from redline.bank.db import Database
from redline.bank.models import utcnow
from redline.removal.clocks import tick

log = logging.getLogger(__name__)


class ClockWorker:
    def __init__(self, db: Database, *, interval_s: float, marks_h: Sequence[float]) -> None:
        self._db = db
        self._interval = interval_s
        self._marks = tuple(marks_h)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ClockWorker:
        self._thread = threading.Thread(target=self._run, name="removal-clock", daemon=True)
        self._thread.start()
        return self

    def run_once(self) -> None:
        with self._db.write() as session:
            tick(session, utcnow(), self._marks)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.run_once()
            except Exception:  # a database hiccup must not stop the clock for good
                log.exception("removal clock tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
