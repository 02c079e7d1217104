"""Background thread of every server process: sequence new audit rows each second, publish a checkpoint
every ``interval`` seconds when the tree grew, and ask the witnesses to cosign it. The log's lock makes the
processes of one database take turns; a checkpoint is only made for a size that has none yet."""

from __future__ import annotations

import logging
import threading
import time

from redline.evidence.log import TransparencyLog
from redline.evidence.witness import request_cosignatures

log = logging.getLogger(__name__)


def publish_now(tlog: TransparencyLog) -> None:
    """Sequence, sign a checkpoint if the tree grew, and collect cosignatures for it."""
    tlog.publish()
    request_cosignatures(tlog)


class LogPublisher:
    def __init__(self, tlog: TransparencyLog, interval: float) -> None:
        self.tlog = tlog
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LogPublisher:
        self._thread = threading.Thread(target=self._run, name="redline-tlog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        full = True  # the first pass looks at every audit row (late commits before a restart)
        next_publish = time.monotonic() + min(self.interval, 5.0)
        while not self._stop.is_set():
            try:
                self.tlog.sequence(full=full)
                full = False
                if time.monotonic() >= next_publish:
                    publish_now(self.tlog)
                    next_publish = time.monotonic() + self.interval
            except Exception:  # a failed pass is retried on the next tick; the server keeps serving
                log.exception("transparency log pass failed")
            self._stop.wait(min(1.0, self.interval))
