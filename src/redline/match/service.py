"""Matching hashes against the bank, kept live from the database's change log.

How each server process stays current: on start it loads the newest usable index snapshot from
``data_dir/index`` (memory-mapped; ``redline.match.snapshots`` says when one is refused) and replays the
change log after the snapshot's position; without one it reads the highest change sequence number, then
bulk-loads every active perceptual hash into its own in-memory index (``redline.index.new_index``). Only
then does it report ready. A background thread then reads the ``changes`` table every
``change_poll_interval`` seconds (0.25 s by default) and applies the rows after the last one it saw, in
order. Replaying a change twice is harmless (add replaces, remove ignores absent ids), so rows committed
while the initial load ran are simply applied again. This works the same on
SQLite and PostgreSQL, with any number of processes, and needs no message broker. One process (the holder
of the snapshot writer lock) writes a new snapshot every so many changes or minutes, from a frozen copy in a
background thread so polling goes on, and when it stops cleanly.

A shard process (``shard``: ``redline.match.shards``) does all of this for its part of the entries only; an
API process whose index lives in shard processes uses ``redline.match.fanout.ShardedMatcher``, which holds no
index and sends each ``search`` to every shard.

Exact hashes (MD5, SHA-256: ``SignalType.indexed()`` is false) need no in-memory index: they are looked up in
the database by value (indexed).

Every candidate the index returns is checked against the database before it is reported: the entry must still
be active, its bank enabled, and the distance within that bank's threshold. So a withdrawal stops matching the
moment it commits, even in a process whose index has not yet applied it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, text

from redline.bank.banks import threshold_for
from redline.bank.db import Database
from redline.index import HammingIndex, Hits, MihIndex, new_index
from redline.match.shards import ShardSpec
from redline.match.snapshots import (
    SnapshotError,
    SnapshotPolicy,
    SnapshotStore,
    WriterLock,
    mismatch,
    snapshot_meta,
)
from redline.signals.types import SIGNAL_TYPES, signal_type

log = logging.getLogger(__name__)

_LOAD_CHUNK = 200_000
_POLL_BATCH = 100_000


@dataclass(frozen=True)
class Query:
    """A normalised hash to look up (``redline.bank.hashes.normalize_hash`` makes them)."""

    signal_type: str
    value: str
    #: Bits beyond the bank's threshold this query may still match at. Robust matching uses it for the
    #: whole-upload hashes, whose measured operating point is looser than the regions' (docs/ROBUSTNESS.md),
    #: against stored whole pictures; a negative one (the upload's edge strips) is stricter, against all.
    allowance: int = 0


@dataclass(frozen=True)
class IndexSearch:
    """One search of one signal type's index: every stored code within ``threshold`` of each value (hex);
    with ``sure``, every one within ``sure`` and those beyond it that the cheaper search reaches
    (``HammingIndex.search``)."""

    signal_type: str
    values: Sequence[str]
    threshold: int
    sure: int | None = None


@dataclass(frozen=True)
class Match:
    entry_id: int
    bank: str
    signal_type: str
    distance: int
    quality: int | None
    status: str
    #: The bank's default action; the moderation rules (``redline.actions.rules.decide``) make the final one.
    action: str
    #: The survivor case the entry came in with (None for partner submissions and imports). One picture
    #: is stored as several entries (pdq and its pdq_region hashes), all in its case: robust matching
    #: reports one match per case, not one per crop (``redline.api.file_match.best_per_case``).
    case_id: str | None = None
    #: The picture or video of that case the entry belongs to (``Entry.item``), if the submitter said: the
    #: moderation path makes one review item and one event per matched picture.
    item: int | None = None
    #: A video frame entry's position in its video (ms; ``Entry.frame_ms``), for matched time ranges.
    frame_ms: int | None = None


_CANDIDATES = text(
    "SELECT e.id AS entry_id, e.signal_type, e.quality, e.status, e.case_id, e.item, e.frame_ms, "
    "b.name AS bank, "
    "b.thresholds, b.default_action, b.enabled AS bank_enabled "
    "FROM entries e JOIN banks b ON b.id = e.bank_id WHERE e.id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_EXACT = text(
    "SELECT e.value, e.id AS entry_id FROM entries e "
    "WHERE e.signal_type = :type AND e.status = 'active' AND e.value IN :values"
).bindparams(bindparam("values", expanding=True))


class Matcher:
    """One per server process. ``start()`` loads in the background; ``ready`` is set when loaded."""

    def __init__(
        self,
        db: Database,
        *,
        min_quality: int,
        poll_interval: float,
        snapshots: SnapshotPolicy | None = None,
        shard: ShardSpec | None = None,
        sure_radii: Mapping[str, int | None] | None = None,
    ) -> None:
        """``sure_radii``: per signal type, the sure radius of its index searches (``IndexSearch.sure``),
        default the type's ``sure_radius``; ``None`` for a type searches it exactly."""
        self._db = db
        #: A shard process (``redline shard serve``) holds only its part of every index
        #: (``redline.match.shards``); its snapshots go in a folder of their own, so shards never share one.
        self.shard = shard
        if shard is not None and snapshots is not None:
            snapshots = dataclasses.replace(snapshots, directory=snapshots.directory / shard.label)
        self._min_quality = min_quality
        self._poll_interval = poll_interval
        # Each index's tables are split for its type's default threshold, or fixed where the type's searches
        # have a first stage (pdq_region: docs/ROBUSTNESS.md, Cost), whose answer the fixed split defines.
        self._indexes: dict[str, HammingIndex] = {
            kind.name: new_index(
                kind.hash_length, tuned_for=kind.default_threshold, tables=kind.first_stage_tables
            )
            for kind in SIGNAL_TYPES.indexed()
        }
        self._search_threshold: dict[str, int] = {
            name: signal_type(name).default_threshold for name in self._indexes
        }
        self._sure_radius: dict[str, int | None] = {
            name: signal_type(name).sure_radius for name in self._indexes
        }
        self._sure_radius.update(sure_radii or {})
        self.position = 0
        self.last_poll = 0.0
        self.load_seconds = 0.0
        #: How the last load went: ``snapshot`` or ``database``, and how many changes were replayed after it.
        self.loaded_from = ""
        self.caught_up = 0
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._policy = snapshots
        self._store = SnapshotStore(snapshots.directory, snapshots.keep) if snapshots else None
        self._writer_lock = WriterLock(snapshots.directory / "writer.lock") if snapshots else None
        self._writer: threading.Thread | None = None
        self._snapshot_position = 0  # the position of the newest snapshot this process loaded or wrote
        self._snapshot_time = time.monotonic()

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="redline-matcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._writer is not None:
            self._writer.join()
        policy = self._policy
        idle = self._thread is None or not self._thread.is_alive()  # nothing applies changes meanwhile
        changed = idle and self.ready.is_set() and self.position > self._snapshot_position
        if policy is not None and policy.on_shutdown and changed and self._acquire_writer():
            try:
                self.write_snapshot()
            except Exception:  # a snapshot is a cache: failing to write one must not fail the shutdown
                log.exception("could not write the index snapshot at shutdown")
        if self._writer_lock is not None:
            self._writer_lock.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.ready.is_set():
                    self.load()
                else:
                    self.poll()
                    self._maybe_snapshot()
            except Exception:  # the database may be briefly away; keep the process serving and retry
                log.exception("match index update failed; retrying")
                self._stop.wait(1.0)
            self._stop.wait(self._poll_interval)

    def load(self) -> None:
        """Load every index from the newest usable snapshot, else build it from the database; then replay
        the change log after it. ``ready`` is set only once the index reflects the whole change log."""
        started = time.perf_counter()
        try:
            from_snapshot = self._load_snapshot()
        except Exception:  # e.g. an unreadable snapshot folder: a snapshot is only a cache
            log.exception("could not look for index snapshots; rebuilding from the database")
            from_snapshot = False
        self.loaded_from = "snapshot" if from_snapshot else "database"
        if self.loaded_from == "database":
            self._rebuild()
        self.caught_up = self.poll()
        _warm_up(self._indexes, self._search_threshold)
        self.load_seconds = time.perf_counter() - started
        log.info(
            "match index ready: %d entries from the %s (+%d changes replayed) in %.1f s",
            self.size,
            self.loaded_from,
            self.caught_up,
            self.load_seconds,
        )
        self.ready.set()

    def _rebuild(self) -> None:
        """Build every index from the database (bulk read, no ORM objects)."""
        with self._db.engine.connect() as conn:
            position = int(conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM changes")).scalar_one())
            for name, index in self._indexes.items():
                id_chunks, code_chunks = [], []
                for rows in self._stream_active(conn, name):
                    entry_ids, values = zip(*rows, strict=True)
                    id_chunks.append(np.array(entry_ids, dtype=np.int64))
                    code_chunks.append(_codes("".join(values), index.bits))
                if id_chunks:
                    index.add(np.concatenate(id_chunks), np.concatenate(code_chunks))
            self._refresh_thresholds(conn)
        self.position = position
        self._snapshot_position = 0

    # --- snapshots -----------------------------------------------------------------------------------------

    def _load_snapshot(self) -> bool:
        """Swap in the newest snapshot that fits this database and these settings; False when none does."""
        if self._store is None or not all(isinstance(i, MihIndex) for i in self._indexes.values()):
            return False
        names = list(self._indexes)
        with self._db.engine.connect() as conn:
            for position in self._store.positions(names):
                try:
                    loaded: dict[str, HammingIndex] = {}
                    for name, index in self._indexes.items():
                        path = self._store.file(name, position)
                        expected = snapshot_meta(conn, name, position, self._min_quality, self._shard_label)
                        problem = mismatch(self._store.header(name, position), expected, index.bits)
                        if problem:
                            raise SnapshotError(problem)
                        snap = MihIndex.load(path, mmap=True, verify=True)
                        # A snapshot from before tables were split per type says 31: the next rebuild of
                        # the loaded index (and the snapshots after it) should use this type's split. One
                        # from before a type's tables were fixed is rebuilt now: until then its first-stage
                        # searches would scan (seconds).
                        kind = SIGNAL_TYPES[name]
                        snap.tuned_for = kind.default_threshold
                        if snap.tables != kind.first_stage_tables:
                            snap.tables = kind.first_stage_tables
                            snap.compact()
                        loaded[name] = snap
                except Exception as exc:  # any unusable snapshot: try an older one, then rebuild
                    where = self._store.directory
                    log.warning("ignoring index snapshot at position %d in %s: %s", position, where, exc)
                    continue
                self._indexes.update(loaded)
                self.position = self._snapshot_position = position
                self._refresh_thresholds(conn)
                return True
        return False

    def _acquire_writer(self) -> bool:
        if self._writer_lock is None:
            return False
        try:
            return self._writer_lock.try_acquire()
        except OSError as exc:  # e.g. a read-only data directory: serve on, without writing snapshots
            log.warning("cannot write index snapshots (%s); turning them off in this process", exc)
            self._policy = None
            return False

    def _maybe_snapshot(self) -> None:
        """Start writing a snapshot in the background when enough changed or enough time passed."""
        policy = self._policy
        if policy is None or (self._writer is not None and self._writer.is_alive()):
            return
        changes = self.position - self._snapshot_position
        age = time.monotonic() - self._snapshot_time
        if changes <= 0 or (changes < policy.every_changes and age < policy.interval_s):
            return
        if not self._acquire_writer():
            # Another process writes; check again after another period, in case it has gone.
            self._snapshot_position, self._snapshot_time = self.position, time.monotonic()
            return
        # Frozen copies are taken here, between two polls, so they match ``position`` exactly.
        frozen = self._frozen()
        self._writer = threading.Thread(
            target=self._write_logged, args=(frozen, self.position), name="redline-snapshot", daemon=True
        )
        self._snapshot_position, self._snapshot_time = self.position, time.monotonic()
        self._writer.start()

    def _frozen(self) -> dict[str, MihIndex]:
        return {name: index.frozen() for name, index in self._indexes.items() if isinstance(index, MihIndex)}

    def write_snapshot(self) -> Path:
        """Write a snapshot of the current index now (the caller makes sure no poll runs meanwhile: at
        shutdown, or in a process that does not poll). Returns the first file written."""
        if self._store is None:
            raise RuntimeError("index snapshots are turned off")
        position = self.position
        self._write(self._frozen(), position)
        self._snapshot_position, self._snapshot_time = position, time.monotonic()
        return self._store.file(next(iter(self._indexes)), position)

    def _write_logged(self, frozen: dict[str, MihIndex], position: int) -> None:
        try:
            self._write(frozen, position)
        except Exception:
            log.exception("could not write the index snapshot at position %d", position)

    def _write(self, frozen: dict[str, MihIndex], position: int) -> None:
        assert self._store is not None
        if position <= 0 or len(frozen) != len(self._indexes):
            return
        started = time.perf_counter()
        with self._db.engine.connect() as conn:
            metas = {
                name: snapshot_meta(conn, name, position, self._min_quality, self._shard_label)
                for name in frozen
            }
        self._store.write(frozen, position, metas)
        log.info(
            "index snapshot written at position %d (%d entries) in %.1f s",
            position,
            sum(len(i) for i in frozen.values()),
            time.perf_counter() - started,
        )

    @property
    def _shard_label(self) -> str | None:
        return self.shard.label if self.shard else None

    def _stream_active(self, conn: Any, type_name: str) -> Iterator[list[tuple[int, str]]]:
        """Active, usable hashes of one type in chunks, through the driver's own cursor: SQLAlchemy's row
        objects cost more than the query itself at a million rows. On PostgreSQL a named (server-side)
        cursor streams instead of loading the whole result into memory."""
        # Both values are ours (a registered type name, an int setting), not user input.
        kind, min_quality = signal_type(type_name).name, int(self._min_quality)
        sql = (
            f"SELECT id, value FROM entries WHERE signal_type = '{kind}' AND status = 'active' "  # noqa: S608
            f"AND (quality IS NULL OR quality >= {min_quality})"
        )
        if self.shard is not None:
            sql += f" AND {self.shard.sql_condition('id')}"
        driver = conn.connection.driver_connection
        cursor = driver.cursor() if self._db.is_sqlite else driver.cursor(name="redline_index_load")
        try:
            cursor.execute(sql)
            while rows := cursor.fetchmany(_LOAD_CHUNK):
                yield rows
        finally:
            cursor.close()

    def poll(self) -> int:
        """Apply change-log rows after the last one seen; returns how many were read."""
        applied = 0
        with self._db.engine.connect() as conn:
            while True:
                rows = conn.execute(
                    text(
                        "SELECT seq, entry_id, signal_type, value, quality, status FROM changes "
                        "WHERE seq > :after ORDER BY seq LIMIT :n"
                    ),
                    {"after": self.position, "n": _POLL_BATCH},
                ).all()
                if not rows:
                    break
                self._apply(rows)
                self.position = int(rows[-1].seq)
                applied += len(rows)
                if len(rows) < _POLL_BATCH:
                    break
            self._refresh_thresholds(conn)
        self.last_poll = time.time()
        return applied

    def _apply(self, rows: Sequence[Any]) -> None:
        # The last row for an entry decides its state; apply removals and additions as two batches.
        final: dict[int, Any] = {}
        for row in rows:
            if row.signal_type in self._indexes and (
                self.shard is None or self.shard.holds(int(row.entry_id))
            ):
                final[int(row.entry_id)] = row
        for name, index in self._indexes.items():
            adds = [
                r
                for r in final.values()
                if r.signal_type == name
                and r.status == "active"
                and r.value is not None
                and (r.quality is None or r.quality >= self._min_quality)
            ]
            added = {int(r.entry_id) for r in adds}
            removes = [
                entry_id for entry_id, r in final.items() if r.signal_type == name and entry_id not in added
            ]
            if removes:
                index.remove(np.array(removes, dtype=np.int64))
            if adds:
                ids = np.array([int(r.entry_id) for r in adds], dtype=np.int64)
                index.add(ids, _codes("".join(r.value for r in adds), index.bits))

    def _refresh_thresholds(self, conn: Any) -> None:
        banks = conn.execute(text("SELECT thresholds FROM banks WHERE enabled")).all()
        for name in self._indexes:
            values = [threshold_for(_json(b.thresholds), name) for b in banks]
            self._search_threshold[name] = max(values, default=signal_type(name).default_threshold)

    @property
    def size(self) -> int:
        return sum(len(index) for index in self._indexes.values())

    # --- matching ------------------------------------------------------------------------------------------

    def search(self, searches: Sequence[IndexSearch]) -> list[list[Hits]]:
        """Every indexed code within each search's threshold, one ``Hits`` per value: this process's own
        indexes (all of them, or its shard's part). ``redline.match.fanout.ShardedMatcher`` asks the shard
        processes instead."""
        results = []
        for each in searches:
            index = self._indexes[each.signal_type]
            results.append(index.search(_codes("".join(each.values), index.bits), each.threshold, each.sure))
        return results

    def match(self, queries: Sequence[Query]) -> list[list[Match]]:
        """Matches for each query, in order. Read-only: the caller decides each match's action and records
        it (``redline.actions.matchlog``), so the survivor's case page counts the action actually taken."""
        candidates: list[dict[int, int]] = [{} for _ in queries]  # entry id -> distance, per query
        # One index search per (index, type, allowance): a few loose queries must not widen every other
        # query's search (probing cost grows steeply with the radius). A region query's allowance (the whole
        # upload's hashes) counts only against stored whole pictures: it searches the regions at the type's
        # reach and the whole-picture type's index at its own.
        groups: dict[tuple[str, str, int], list[int]] = {}  # (index, query type, allowance) -> positions
        for i, q in enumerate(queries):
            if q.signal_type not in self._indexes:
                continue
            whole = signal_type(q.signal_type).whole_picture_type
            if q.allowance > 0 and whole in self._indexes:
                groups.setdefault((q.signal_type, q.signal_type, 0), []).append(i)
                groups.setdefault((str(whole), q.signal_type, q.allowance), []).append(i)
            else:
                groups.setdefault((q.signal_type, q.signal_type, q.allowance), []).append(i)
        # A type's sure radius applies to its own index only: the whole-upload hashes' search of the stored
        # whole pictures (another type's index) stays exact, as that type's own searches are.
        searches = [
            IndexSearch(
                name,
                [queries[i].value for i in positions],
                max(0, self._search_threshold[query_type] + allowance),
                self._sure_radius.get(query_type) if name == query_type else None,
            )
            for (name, query_type, allowance), positions in groups.items()
        ]
        for positions, found_hits in zip(groups.values(), self.search(searches), strict=True):
            for i, hits in zip(positions, found_hits, strict=True):
                candidates[i].update(zip(hits.ids.tolist(), hits.distances.tolist(), strict=True))
        with self._db.read() as session:
            for name in {q.signal_type for q in queries} - self._indexes.keys():
                positions = [i for i, q in enumerate(queries) if q.signal_type == name]
                by_value: dict[str, list[int]] = {}
                for found_row in session.execute(
                    _EXACT, {"type": name, "values": sorted({queries[i].value for i in positions})}
                ):
                    by_value.setdefault(found_row.value, []).append(int(found_row.entry_id))
                for i in positions:
                    candidates[i] = dict.fromkeys(by_value.get(queries[i].value, ()), 0)
            wanted = sorted({entry_id for c in candidates for entry_id in c})
            details = (
                {int(r.entry_id): r for r in session.execute(_CANDIDATES, {"ids": wanted})} if wanted else {}
            )
        results: list[list[Match]] = []
        for query, found in zip(queries, candidates, strict=True):
            matches = []
            for entry_id, distance in sorted(found.items(), key=lambda kv: (kv[1], kv[0])):
                row = details.get(entry_id)
                if row is None or row.status != "active" or not row.bank_enabled:
                    continue
                if distance > _limit(query, row.signal_type, _json(row.thresholds)):
                    continue
                low_quality = row.quality is not None and row.quality < self._min_quality
                if low_quality and row.signal_type in self._indexes:
                    continue
                matches.append(
                    Match(
                        entry_id=entry_id,
                        bank=row.bank,
                        signal_type=row.signal_type,
                        distance=distance,
                        quality=row.quality,
                        status=row.status,
                        action=row.default_action,
                        case_id=row.case_id,
                        item=row.item,
                        frame_ms=row.frame_ms,
                    )
                )
            results.append(matches)
        return results


def _limit(query: Query, row_type: str, thresholds: dict[str, Any]) -> int:
    """The largest distance at which ``query`` matches a stored entry of ``row_type`` in a bank with these
    thresholds: the bank's threshold for the query's type, plus the query's allowance where it applies (for
    region types, only against the stored whole picture: ``robust.allowance_applies``; a negative one, a
    stricter threshold, against every entry)."""
    base = threshold_for(thresholds, query.signal_type)
    whole = signal_type(query.signal_type).whole_picture_type
    if query.allowance < 0 or whole is None or row_type == whole:
        return base + query.allowance
    return base


def _warm_up(indexes: dict[str, HammingIndex], thresholds: dict[str, int]) -> None:
    """Pay one-time costs before the process reports ready, not in the first platform request: JIT
    compilation of the kernels (a throwaway copy exercises add/search/remove; a search of the real index
    compiles its own array types, e.g. read-only memory-mapped ones) and the first page-ins."""
    for name, index in indexes.items():
        scratch = new_index(index.bits)
        code = np.zeros((1, index.bits // 8), dtype=np.uint8)
        scratch.add(np.array([1], dtype=np.int64), code)
        scratch.search(code, 8)
        scratch.remove(np.array([1], dtype=np.int64))
        # Made like a request's query (a read-only array): numba compiles per array type and writability.
        index.search(_codes("0" * (index.bits // 4), index.bits), thresholds[name])


def _codes(joined_hex: str, bits: int) -> Any:
    """Hex strings joined end to end -> packed code rows (one ``bytes.fromhex`` for the whole batch)."""
    if not joined_hex:
        return np.empty((0, bits // 8), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex(joined_hex), dtype=np.uint8).reshape(-1, bits // 8)


def _json(value: Any) -> dict[str, Any]:
    """JSON columns come back parsed from PostgreSQL and as text from SQLite through raw SQL."""
    if isinstance(value, str):
        import json

        parsed: dict[str, Any] = json.loads(value)
        return parsed
    return dict(value or {})
