"""A worker that dies between two batches breaks the pool before any future fails: the driver's next
``submit`` is refused. The scan must rebuild the pool and hash every batch, not stop with a traceback (the
race ``test_resume`` hit about one run in five)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from redline.scan import driver
from redline.scan.driver import ScanJob
from redline.scan.sources import batches, read_source
from tests.support import wait_until
from tests.support.apps import make_settings
from tests.support.scan import pattern_png


def test_a_pool_broken_between_batches_is_rebuilt_and_every_batch_is_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "hosted"
    root.mkdir()
    for n in range(6):
        (root / f"post-{n}.png").write_bytes(pattern_png(n, side=64))
    settings = make_settings("sqlite:///" + str(tmp_path / "unused.db"), tmp_path / "data")
    job: Any = ScanJob(source=root, state=None, client=None, settings=settings, jobs=1, batch_size=2)  # type: ignore[arg-type]
    real_pool = driver._pool
    pools: list[Any] = []

    def pool_broken_the_first_time(job: ScanJob) -> Any:
        pool = real_pool(job)
        if not pools:
            worker = pool.submit(os.getpid).result(timeout=60)
            os.kill(worker, signal.SIGKILL)
            wait_until(lambda: pool._broken, timeout=30)  # the state the race leaves
        pools.append(pool)
        return pool

    monkeypatch.setattr(driver, "_pool", pool_broken_the_first_time)
    done = list(driver._hash_batches(job, batches(read_source(root), 2)))
    assert len(pools) == 2  # the broken pool was replaced once
    assert sorted(number for number, _, _ in done) == [0, 1, 2]
    hashed = [h for _, _, batch in done for h in batch]
    assert sorted(h.content_id for h in hashed) == [f"post-{n}.png" for n in range(6)]
    assert all(h.error is None and h.hashes for h in hashed)
