"""Running a scan: batches to worker processes, their hashes to the server, results into the state file.

The driver keeps ``2 x jobs`` batches hashing at once, so the workers never wait on the server. A finished
batch is sent, then recorded (``state``) with its report rows in one transaction; a killed driver therefore
redoes at most the batches in flight, and the server (idempotent per scan and content id) acts on none of
them twice. A worker that dies (killed, or a decoder crashing the process) breaks the pool: it is rebuilt and
the batches in flight are hashed again, one at a time; a batch that breaks it three times is recorded as
``worker_died`` (each of its files) and the scan goes on.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from redline.config import Settings
from redline.scan.client import ScanClient
from redline.scan.hashing import Hashed, hash_batch, init_worker
from redline.scan.sources import ScanItem, batches, read_source
from redline.scan.state import ScanState

#: Tries of one batch before its files are recorded as ``worker_died``.
_BATCH_TRIES = 3


@dataclass
class Progress:
    """What the progress display shows; updated after every recorded batch."""

    files: int = 0
    skipped: int = 0
    matches: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    resumed_files: int = 0


@dataclass(frozen=True)
class ScanJob:
    source: Path
    state: ScanState
    client: ScanClient
    settings: Settings
    jobs: int = 1
    batch_size: int = 32
    worker_memory: int = 0
    #: A Ray cluster's address (``--ray``): batches become Ray tasks instead of local processes.
    ray_address: str | None = None


def run_scan(job: ScanJob, on_progress: Callable[[Progress], None] = lambda _: None) -> Progress:
    state = job.state
    files, skipped, matches, errors = state.totals()
    progress = Progress(files, skipped, matches, errors, resumed_files=files)
    on_progress(progress)
    done = state.finished()
    todo = ((n, items) for n, items in batches(read_source(job.source), job.batch_size) if n not in done)
    hashing = _ray_batches if job.ray_address else _hash_batches
    for number, items, hashed in hashing(job, todo):
        results = _send(job, state.scan_id, hashed)
        rows = _rows(hashed, results)
        batch_skipped = sum(h.skipped for h in hashed)
        state.record(number, len(items), batch_skipped, rows)
        progress.files += len(items)
        progress.skipped += batch_skipped
        progress.matches += sum(r["kind"] == "match" for r in rows)
        progress.errors.update(r["error"] for r in rows if r["kind"] == "error")
        on_progress(progress)
    return progress


def _hash_batches(
    job: ScanJob, todo: Iterator[tuple[int, list[ScanItem]]]
) -> Iterator[tuple[int, list[ScanItem], list[Hashed]]]:
    """Hashed batches as they finish (not in order: the state file does not need it)."""
    work = partial(hash_batch, settings=job.settings)
    in_flight: dict[Future[list[Hashed]], tuple[int, list[ScanItem], int]] = {}
    retry: list[tuple[int, list[ScanItem], int]] = []
    pool = _pool(job)
    try:
        while True:
            pool_broke = False
            while len(in_flight) < 2 * job.jobs:
                if retry:
                    # A batch hashed again runs alone, so that if it breaks the pool once more, it is
                    # surely the one to blame (the others in flight with it only shared its pool).
                    if in_flight:
                        break
                    number, items, tries = retry.pop()
                else:
                    following = next(todo, None)
                    if following is None:
                        break
                    number, items, tries = *following, 0
                try:
                    in_flight[pool.submit(work, items)] = (number, items, tries)
                except BrokenProcessPool:
                    # A worker died while this generator was paused (its caller was sending a batch):
                    # this batch never ran, so it is retried as it was; the pool is rebuilt below.
                    retry.append((number, items, tries))
                    pool_broke = True
                    break
                if tries:
                    break
            if pool_broke and not in_flight:
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _pool(job)
                continue
            if not in_flight:
                return
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                number, items, tries = in_flight.pop(future)
                try:
                    hashed = future.result()
                except BrokenProcessPool:
                    broken = True
                    if tries + 1 >= _BATCH_TRIES:
                        yield number, items, [_died(item) for item in items]
                    else:
                        retry.append((number, items, tries + 1))
                    continue
                yield number, items, hashed
            if broken:
                # Every future of a broken pool fails: hash them all again in a new one.
                retry += [(n, items, tries + 1) for n, items, tries in in_flight.values()]
                in_flight.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _pool(job)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _ray_batches(
    job: ScanJob, todo: Iterator[tuple[int, list[ScanItem]]]
) -> Iterator[tuple[int, list[ScanItem], list[Hashed]]]:
    """The same batches as Ray tasks on a cluster (``redline.scan.ray_tasks``), streamed back as they
    finish; the driver, the state file and the server calls stay here."""
    from redline.scan.ray_tasks import RayHashing

    assert job.ray_address is not None
    with RayHashing(job.ray_address, job.settings, job.worker_memory) as cluster:
        in_flight: dict[Any, tuple[int, list[ScanItem]]] = {}
        limit = 2 * max(job.jobs, cluster.cpus)
        while True:
            while len(in_flight) < limit and (following := next(todo, None)) is not None:
                in_flight[cluster.submit(following[1])] = following
            if not in_flight:
                return
            ref, hashed = cluster.next_done(list(in_flight))
            number, items = in_flight.pop(ref)
            yield number, items, hashed if hashed is not None else [_died(item) for item in items]


def _pool(job: ScanJob) -> ProcessPoolExecutor:
    # spawn, not fork: forking a process that has started native threads (FFmpeg, BLAS) can deadlock.
    return ProcessPoolExecutor(
        max_workers=job.jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(job.worker_memory,),
    )


def _died(item: ScanItem) -> Hashed:
    return Hashed(item.content_id, item.path, error="worker_died", message="the worker hashing it died")


def _send(job: ScanJob, scan_id: str, hashed: list[Hashed]) -> dict[str, dict[str, Any]]:
    """The server's result per content id of the batch's hashed files."""
    files = [{"content_id": h.content_id, "hashes": h.hashes} for h in hashed if h.hashes]
    # One content id listed twice in a manifest is one piece of content: send it once.
    unique = list({f["content_id"]: f for f in files}.values())
    if not unique:
        return {}
    return {r["content_id"]: r for r in job.client.send(scan_id, unique)}


def _rows(hashed: list[Hashed], results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The report rows of a batch: one per match, one per file that could not be scanned."""
    rows: list[dict[str, Any]] = []
    reported: set[str] = set()
    for h in hashed:
        if h.error is not None:
            base = {"kind": "error", "content_id": h.content_id, "path": h.path}
            rows.append({**base, "error": h.error, "message": h.message})
            continue
        result = results.get(h.content_id)
        if result is None or h.content_id in reported:
            continue
        reported.add(h.content_id)
        for match in result["matches"]:
            rows.append({"kind": "match", "content_id": h.content_id, "path": h.path, **match})
    return rows
