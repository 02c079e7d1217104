"""The production index: exact multi-index hashing over an immutable main part plus a small mutable delta.

Layout (memory at n codes of ``bits``):

* main: codes sorted by id (``bits / 8`` bytes each), ids (4 bytes while every id fits a ``uint32``, else 8),
  one CSR table per substring (an entry per code: its row number as a ``uint32``, and a one-byte residual key
  where the table has more key bits than directory bits; bucket offsets: a ``uint32`` per bucket), and a
  removal bitmap (1 bit per code). Ids are sorted so removal is a binary search and needs no id -> row map.
  An index of fixed tables (a first stage, ~20 codes a picture) is kept smaller at the cost of a few
  instructions a probe: bucket offsets in two levels, ~1.1 bytes a bucket (``kernels.bucket_start``), and
  entries packed to the bits a row number needs plus the residual bits (``kernels.entry_at``: 25 bits at
  20M codes).
* delta: recent additions in append-only buffers, searched by a linear scan. When it outgrows
  ``max(65536, n / 64)`` entries it is merged into a rebuilt main (a counting sort: seconds at 10M).

Concurrency: readers take one reference to an immutable ``_State`` and never lock. The single writer appends
beyond the published delta count, sets removal bits (single bytes, so a reader sees old or new), and publishes
a new ``_State``. A replacement is published before the old entry is hidden, so a search concurrent with it
may briefly see both codes for an id but never neither.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
from numpy.typing import NDArray

from redline.index import kernels, snapshot
from redline.index.base import CodeArray, HammingIndex, Hits, IdArray
from redline.index.kernels import META_COLUMNS
from redline.index.layout import (
    DEFAULT_THRESHOLD,
    Part,
    Plan,
    choose_parts,
    first_stage_tables,
    plan_search,
    split,
)

_EMPTY_HITS = Hits(ids=np.empty(0, np.int64), distances=np.empty(0, np.int32))
_NO_REACH = np.empty((0, META_COLUMNS), np.int64)  # scans report every code within the threshold
_MIN_DELTA_LIMIT = 65_536
_FIRST_CAP = 32  # result slots per query before a re-run with room for all hits
_SCAN_SHARE = 4096  # rows a scan thread is given at least (one of the kernel's blocks)
_SCAN = Plan(radii=None, masks=np.empty(0, np.uint64), masks_base=(), masks_count=())


@dataclass
class _Main:
    ids: NDArray[np.integer[Any]]  # sorted ascending, unique; uint32 while they fit (_narrow_ids)
    codes: NDArray[np.uint64]  # (n, words)
    parts: tuple[Part, ...]
    offsets: NDArray[np.unsignedinteger[Any]]  # per table 2**dir_bits + 1 (kernels.bucket_start)
    offsets_base: tuple[int, ...]
    blocks: NDArray[np.uint32]  # two-level offsets: per table a start per block of buckets, and one more
    blocks_base: tuple[int, ...]  # -1 for a table of one uint32 offset per bucket
    positions: NDArray[np.uint32]  # (tables * n,), or packed entries (entry_bits) and one spare word
    resid: NDArray[np.uint8]  # (tables * n,) or empty (none needed, or packed with the row numbers)
    entry_bits: tuple[int, ...]  # per table: 0 for a uint32 row number (and resid byte) per entry
    entries_base: tuple[int, ...]  # per table: its first entry's index in positions, or bit when packed
    removed: NDArray[np.uint8]  # bitmap, written by the writer only
    plans: dict[tuple[int, str], tuple[Plan, NDArray[np.int64]]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    def plan(self, threshold: int, strategy: str = "auto") -> tuple[Plan, NDArray[np.int64]]:
        cached = self.plans.get((threshold, strategy))
        if cached is None:
            plan = plan_search(self.parts, self.size, threshold, strategy) if self.parts else _SCAN
            if plan.radii is None:
                cached = (plan, np.empty((0, META_COLUMNS), np.int64))
            else:
                meta = np.array(
                    [
                        (p.start, p.width, p.dir_bits, r, ob, mb, mc, bb, eb, pb)
                        for p, r, ob, mb, mc, bb, eb, pb in zip(
                            self.parts,
                            plan.radii,
                            self.offsets_base,
                            plan.masks_base,
                            plan.masks_count,
                            self.blocks_base,
                            self.entry_bits,
                            self.entries_base,
                            strict=True,
                        )
                    ],
                    dtype=np.int64,
                ).reshape(-1, META_COLUMNS)
                cached = (plan, meta)
            self.plans[(threshold, strategy)] = cached
        return cached


def _empty_main(words: int) -> _Main:
    return _Main(
        ids=np.empty(0, np.int64),
        codes=np.empty((0, words), np.uint64),
        parts=(),
        offsets=np.zeros(1, np.uint32),
        offsets_base=(),
        blocks=np.zeros(1, np.uint32),
        blocks_base=(),
        positions=np.empty(0, np.uint32),
        resid=np.empty(0, np.uint8),
        entry_bits=(),
        entries_base=(),
        removed=np.zeros(1, np.uint8),
    )


@dataclass(frozen=True)
class _Delta:
    ids: IdArray
    codes: NDArray[np.uint64]
    removed: NDArray[np.uint8]


@dataclass(frozen=True)
class _State:
    main: _Main
    delta: _Delta
    delta_count: int


def _bitmap(n: int) -> NDArray[np.uint8]:
    return np.zeros(n // 8 + 1, dtype=np.uint8)


def _set_bits(bitmap: NDArray[np.uint8], rows: NDArray[np.int64]) -> None:
    np.bitwise_or.at(bitmap, rows >> 3, (1 << (rows & 7)).astype(np.uint8))


def _removed_mask(bitmap: NDArray[np.uint8], n: int) -> NDArray[np.bool_]:
    """One bool per row (1 byte each, not the 8 of an index array: this runs over 100M rows)."""
    out: NDArray[np.bool_] = np.unpackbits(bitmap, count=n, bitorder="little").view(bool)
    return out


def _bits_set(bitmap: NDArray[np.uint8], rows: NDArray[np.int64]) -> NDArray[np.bool_]:
    out: NDArray[np.bool_] = ((bitmap[rows >> 3] >> (rows & 7).astype(np.uint8)) & 1).astype(bool)
    return out


def build_main(
    ids: IdArray,
    codes: NDArray[np.uint64],
    threads: int,
    tuned_for: int = DEFAULT_THRESHOLD,
    tables: int | None = None,
) -> _Main:
    """Build the tables for unique ``ids`` sorted ascending and their codes (taken over, not copied), split
    for the cheapest search at ``tuned_for``, or into ``tables`` fixed parts."""
    n = int(ids.shape[0])
    if n == 0:
        return _empty_main(codes.shape[1])
    bits = codes.shape[1] * 64
    parts = split(bits, tables, n) if tables else choose_parts(bits, n, tuned_for)
    sizes = [(1 << p.dir_bits) + 1 for p in parts]
    offsets_base = _bases(sizes)
    offsets: NDArray[np.unsignedinteger[Any]] = np.empty(sum(sizes), dtype=np.uint32)
    full = [offsets[b : b + k] for b, k in zip(offsets_base, sizes, strict=True)]  # views, filled per table
    # A first stage's fixed tables: memory matters more than the probe's few instructions (packed entries,
    # two-level offsets).
    entry_bits = _entry_bits(parts, n) if tables else (0,) * len(parts)
    packed = any(entry_bits)
    needs_resid = any(p.width > p.dir_bits for p in parts) and not packed
    if packed:
        entries_base = _bases([-(-n * b // 32) * 32 for b in entry_bits])  # each table from a fresh word
        positions = np.zeros((entries_base[-1] + n * entry_bits[-1]) // 32 + 2, dtype=np.uint32)
    else:
        entries_base = tuple(j * n for j in range(len(parts)))
        positions = np.empty(len(parts) * n, dtype=np.uint32)
    resid = np.empty(len(parts) * n if needs_resid else 0, dtype=np.uint8)

    def build(j: int) -> None:
        p = parts[j]
        if packed:  # counting sort into this table's own plain entries, then pack them
            rows, res = np.empty(n, np.uint32), np.empty(n if p.width > p.dir_bits else 0, np.uint8)
        else:
            rows = positions[j * n : (j + 1) * n]
            res = resid[j * n : (j + 1) * n] if needs_resid else resid
        kernels.build_table(codes, p.start, p.width, p.dir_bits, full[j], rows, res)
        if packed:
            kernels.pack_entries(rows, res, p.width - p.dir_bits, entry_bits[j], positions, entries_base[j])

    _run_parallel(build, len(parts), threads)
    if tables:
        offsets, offsets_base, blocks, blocks_base = _two_level(full)
    else:
        blocks, blocks_base = np.zeros(1, np.uint32), (-1,) * len(full)
    return _Main(
        ids=_narrow_ids(ids),
        codes=codes,
        parts=parts,
        offsets=offsets,
        offsets_base=offsets_base,
        blocks=blocks,
        blocks_base=blocks_base,
        positions=positions,
        resid=resid,
        entry_bits=entry_bits,
        entries_base=entries_base,
        removed=_bitmap(n),
    )


def _entry_bits(parts: tuple[Part, ...], n: int) -> tuple[int, ...]:
    """Each table's packed entry width: the bits a row number below ``n`` needs plus its residual key bits;
    none packed (all 0) if one would pass 32 bits (an index of billions of codes keeps plain entries)."""
    row_bits = max(1, (n - 1).bit_length())
    widths = tuple(row_bits + p.width - p.dir_bits for p in parts)
    return widths if max(widths) <= 32 else (0,) * len(parts)


def _two_level(
    full: list[NDArray[np.uint32]],
) -> tuple[NDArray[np.unsignedinteger[Any]], tuple[int, ...], NDArray[np.uint32], tuple[int, ...]]:
    """Each table's bucket offsets as a start per block of buckets plus each bucket's start within its block
    (``kernels.bucket_start``), concatenated; the within-block starts in the narrowest type all tables fit."""
    step = 1 << kernels.OFFSET_BLOCK_BITS
    # Offsets never decrease, so a block's widest start is its last bucket's; the final offset (one past the
    # last bucket) is a block of its own, at 0.
    widest = max(int((f[step - 1 : -1 : step] - f[:-1:step]).max()) for f in full)
    dtype = next(t for t in (np.uint8, np.uint16, np.uint32) if widest <= np.iinfo(t).max)
    sizes = [f.shape[0] for f in full]
    offsets_base = _bases(sizes)
    local = np.empty(sum(sizes), dtype=dtype)
    blocks = [f[::step].copy() for f in full]  # (len(f) - 1) / step + 1 starts
    for f, b, at in zip(full, blocks, offsets_base, strict=True):
        local[at : at + f.shape[0]] = f - np.repeat(b, step)[: f.shape[0]]
    return local, offsets_base, np.concatenate(blocks), _bases([b.shape[0] for b in blocks])


def _bases(sizes: list[int]) -> tuple[int, ...]:
    if not sizes:
        return ()
    return tuple(int(b) for b in np.concatenate([[0], np.cumsum(sizes)[:-1]]))


def _narrow_ids(ids: IdArray) -> NDArray[np.integer[Any]]:
    """Ids as ``uint32`` when every one fits (the bank's row ids do, to 4 billion rows): half the bytes."""
    if ids.size and int(ids[0]) >= 0 and int(ids[-1]) <= np.iinfo(np.uint32).max:
        return ids.astype(np.uint32)
    return ids


def _run_parallel(task: Callable[[int], None], count: int, threads: int) -> None:
    if threads <= 1 or count <= 1:
        for i in range(count):
            task(i)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(task, range(count)))


def _as_words(codes: Any, bits: int) -> NDArray[np.uint64]:
    """A ``(n, bits // 64)`` uint64 view of packed uint8 codes (zero-copy when already contiguous)."""
    arr = np.ascontiguousarray(codes, dtype=np.uint8)
    if arr.ndim != 2 or arr.shape[1] != bits // 8:
        arr = arr.reshape(-1, bits // 8)
    words: NDArray[np.uint64] = arr.view(np.uint64)
    return words


def _last_wins(ids: IdArray, codes: NDArray[np.uint64]) -> tuple[IdArray, NDArray[np.uint64]]:
    """Sort by id, keeping the last occurrence of a repeated id (as successive ``add`` calls would)."""
    if ids.shape[0] > 1 and bool(np.all(ids[1:] > ids[:-1])):
        return ids, codes
    rev_ids = ids[::-1]
    _, first_in_rev = np.unique(rev_ids, return_index=True)
    keep = ids.shape[0] - 1 - first_in_rev  # np.unique returns ids sorted ascending
    return ids[keep], codes[keep]


class MihIndex(HammingIndex):
    """Exact Hamming range search by multi-index hashing, for banks of thousands to 100M codes."""

    def __init__(
        self,
        bits: int = 256,
        threads: int | None = None,
        strategy: Literal["auto", "probe", "scan"] = "auto",
        delta_limit: int | None = None,
        tuned_for: int = DEFAULT_THRESHOLD,
        tables: int | None = None,
    ) -> None:
        """``threads``: search threads (default: all cores). ``tuned_for``: the threshold most searches use;
        the tables are split to make that one cheapest (every threshold stays exact). ``tables``: split into
        this many equal parts at every size instead, which a first-stage search (``sure``) needs: it then
        returns the same codes whatever the index's size or shard, probed or scanned. ``strategy`` and
        ``delta_limit`` exist so tests and benchmarks can force each code path (probing at any threshold;
        frequent rebuilds)."""
        if bits <= 0 or bits % 64:
            raise ValueError("bits must be a positive multiple of 64")
        self.bits = bits
        self.strategy = strategy
        self.delta_limit = delta_limit
        self.tuned_for = tuned_for
        if tables is not None and not bits // 32 <= tables <= bits:
            raise ValueError(f"tables must be from {bits // 32} to {bits}")
        self.tables = tables
        self.position = 0
        self.threads = threads or os.cpu_count() or 1
        self._words = bits // 64
        self._lock = threading.Lock()
        self._delta_rows: dict[int, int] = {}
        self._live = 0
        self._state = _State(main=_empty_main(self._words), delta=self._new_delta(1024), delta_count=0)
        self._pool: ThreadPoolExecutor | None = None

    # ----- construction -------------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        ids: IdArray,
        codes: CodeArray,
        bits: int = 256,
        threads: int | None = None,
        copy: bool = True,
        tuned_for: int = DEFAULT_THRESHOLD,
        tables: int | None = None,
    ) -> Self:
        """Bulk build from arrays (e.g. a full read of the bank when there is no snapshot).

        With ``copy=False`` and ids already unique and ascending, the index keeps ``codes`` itself instead of
        a copy (halves peak memory at 100M codes); the caller must not modify the arrays afterwards.
        """
        index = cls(bits, threads, tuned_for=tuned_for, tables=tables)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        words = _as_words(codes, bits)
        if words.shape[0] != ids.shape[0]:
            raise ValueError(f"{ids.shape[0]} ids but {words.shape[0]} codes")
        with index._lock:
            index._rebuild_with(ids, words, copy=copy)
        return index

    def _new_delta(self, capacity: int) -> _Delta:
        return _Delta(
            ids=np.empty(capacity, np.int64),
            codes=np.empty((capacity, self._words), np.uint64),
            removed=_bitmap(capacity),
        )

    def _delta_limit(self, main_size: int) -> int:
        if self.delta_limit is not None:
            return self.delta_limit
        return max(_MIN_DELTA_LIMIT, main_size // 64)

    # ----- writes -------------------------------------------------------------------------------------------

    def add(self, ids: IdArray, codes: CodeArray) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        words = _as_words(codes, self.bits)
        if words.shape[0] != ids.shape[0]:
            raise ValueError(f"{ids.shape[0]} ids but {words.shape[0]} codes")
        if ids.shape[0] == 0:
            return
        with self._lock:
            state = self._state
            if state.delta_count + ids.shape[0] > self._delta_limit(state.main.size):
                self._rebuild_with(ids, words)
                return
            self._append(ids, words)

    def _append(self, ids: IdArray, words: NDArray[np.uint64]) -> None:
        state = self._state
        delta, count = state.delta, state.delta_count
        k = ids.shape[0]
        if count + k > delta.ids.shape[0]:
            grown = self._new_delta(max(2 * delta.ids.shape[0], count + k))
            grown.ids[:count] = delta.ids[:count]
            grown.codes[:count] = delta.codes[:count]
            grown.removed[: delta.removed.shape[0]] = delta.removed
            delta = grown
        delta.ids[count : count + k] = ids
        delta.codes[count : count + k] = words
        self._state = _State(main=state.main, delta=delta, delta_count=count + k)  # new entries visible
        self._hide(ids, skip_delta_from=count)  # then hide what they replace
        for offset, entry_id in enumerate(ids.tolist()):
            previous = self._delta_rows.get(entry_id)
            if previous is not None and previous >= count:
                # repeated id within this call: last one wins
                _set_bits(delta.removed, np.array([previous], np.int64))
                self._live -= 1
            self._delta_rows[entry_id] = count + offset
        self._live += k

    def _hide(self, ids: IdArray, skip_delta_from: int | None = None) -> int:
        """Set removal bits for ``ids`` in main and delta; returns how many live entries were hidden."""
        state = self._state
        main = state.main
        hidden = 0
        if main.size:
            # In the stored ids' own type: a mixed-type search would copy all of them first.
            info = np.iinfo(main.ids.dtype)
            wanted = ids[(ids >= info.min) & (ids <= info.max)].astype(main.ids.dtype)
            at = np.searchsorted(main.ids, wanted).clip(0, main.size - 1)
            rows = at[(main.ids[at] == wanted)]
            rows = rows[~_bits_set(main.removed, rows)]
            if rows.size:
                rows = np.unique(rows)
                _set_bits(main.removed, rows)
                hidden += int(rows.size)
        delta_rows = [
            row
            for row in (self._delta_rows.get(i) for i in ids.tolist())
            if row is not None and (skip_delta_from is None or row < skip_delta_from)
        ]
        if delta_rows:
            rows = np.unique(np.array(delta_rows, np.int64))
            rows = rows[~_bits_set(state.delta.removed, rows)]
            _set_bits(state.delta.removed, rows)
            hidden += int(rows.size)
        self._live -= hidden
        return hidden

    def remove(self, ids: IdArray) -> int:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        with self._lock:
            hidden = self._hide(ids)
            for entry_id in ids.tolist():
                self._delta_rows.pop(entry_id, None)
            return hidden

    def _rebuild_with(self, new_ids: IdArray, new_words: NDArray[np.uint64], copy: bool = True) -> None:
        """Merge live main + live delta + the new entries into a fresh main (the writer holds the lock)."""
        state = self._state
        main, delta, count = state.main, state.delta, state.delta_count
        ids, words = _last_wins(new_ids, new_words)
        parts_ids: list[NDArray[np.integer[Any]]] = []  # the main's may be uint32 (_narrow_ids)
        parts_codes: list[NDArray[np.uint64]] = []
        if main.size:
            keep = ~_removed_mask(main.removed, main.size)
            if ids.size:
                keep &= ~np.isin(main.ids, ids)
            if not keep.all():
                parts_ids.append(main.ids[keep])
                parts_codes.append(main.codes[keep])
            else:
                parts_ids.append(main.ids)
                parts_codes.append(main.codes)
        if count:
            keep = ~_removed_mask(delta.removed, count)
            if ids.size:
                keep &= ~np.isin(delta.ids[:count], ids)
            parts_ids.append(delta.ids[:count][keep])
            parts_codes.append(delta.codes[:count][keep])
        if parts_ids:
            all_ids = np.concatenate([*parts_ids, ids], dtype=np.int64)
            all_codes = np.concatenate([*parts_codes, words])
            order = np.argsort(all_ids, kind="stable")
            all_ids, all_codes = all_ids[order], all_codes[order]
        else:
            # _last_wins already copied unless the input was sorted; copy=False hands the caller's arrays over
            all_ids = ids.copy() if ids is new_ids and copy else ids
            all_codes = words.copy() if words is new_words and copy else words
        new_main = build_main(
            all_ids, np.ascontiguousarray(all_codes), self.threads, self.tuned_for, self.tables
        )
        self._state = _State(main=new_main, delta=self._new_delta(1024), delta_count=0)
        self._delta_rows = {}
        self._live = new_main.size

    def compact(self) -> None:
        """Fold the delta and removed entries into a rebuilt main (done automatically as the delta grows)."""
        with self._lock:
            self._rebuild_with(np.empty(0, np.int64), np.empty((0, self._words), np.uint64))

    # ----- reads --------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._live

    @property
    def array_bytes(self) -> int:
        """Bytes held in the index's arrays (codes, ids, tables, delta): its memory, less Python overhead."""
        state = self._state
        main, delta = state.main, state.delta
        arrays = (
            main.ids,
            main.codes,
            main.offsets,
            main.blocks,
            main.positions,
            main.resid,
            main.removed,
            delta.ids,
            delta.codes,
            delta.removed,
        )
        return sum(int(a.nbytes) for a in arrays)

    def search(self, queries: CodeArray, threshold: int, sure: int | None = None) -> list[Hits]:
        """See :meth:`HammingIndex.search`. With ``sure``, on an index of fixed ``tables``, the tables are
        probed as for an exact search within ``sure`` (~14x fewer probes at 31 than at 45, a million
        pictures) and every candidate is verified at ``threshold``: a code is returned when it is within
        ``sure``, or within ``threshold`` and one table's key is within that table's radius. Scans (small
        parts, the delta) apply the same test, so the answer does not depend on the index's size or on how
        it is split into shards. Without fixed tables the search is exact."""
        if threshold < 0:
            raise ValueError("threshold must be >= 0")
        if sure is not None and sure < 0:
            raise ValueError("sure must be >= 0")
        first_stage = sure is not None and sure < threshold and self.tables is not None
        probe = sure if first_stage and sure is not None else threshold
        reach = self._reach(probe) if first_stage else _NO_REACH
        state = self._state
        words = _as_words(queries, self.bits)
        nq = words.shape[0]
        if nq == 0:
            return []
        main, probed = state.main, self._probe_plan(state.main, probe, reach)
        if probed is None:
            main_rows, main_dist, main_counts = self._scan(
                words, main.codes, main.size, main.removed, threshold, probe, reach
            )
        else:
            plan, meta = probed
            main_rows, main_dist, main_counts = self._run(
                lambda q, r, d, c: kernels.probe_search(
                    q,
                    main.codes,
                    meta,
                    main.offsets,
                    main.blocks,
                    main.positions,
                    main.resid,
                    plan.masks,
                    main.removed,
                    threshold,
                    r,
                    d,
                    c,
                ),
                words,
                min(self.threads, nq),
            )
        delta_rows, delta_dist, delta_counts = self._scan(
            words, state.delta.codes, state.delta_count, state.delta.removed, threshold, probe, reach
        )
        out: list[Hits] = []
        main_ids, delta_ids = state.main.ids, state.delta.ids
        for qi in range(nq):
            km, kd = int(main_counts[qi]), int(delta_counts[qi])
            if km + kd == 0:
                out.append(_EMPTY_HITS)
                continue
            ids = main_ids[main_rows[qi, :km]].astype(np.int64)
            dist = main_dist[qi, :km]
            if kd:
                ids = np.concatenate([ids, delta_ids[delta_rows[qi, :kd]]])
                dist = np.concatenate([dist, delta_dist[qi, :kd]])
            order = np.lexsort((ids, dist))
            out.append(Hits(ids=ids[order], distances=dist[order]))
        return out

    def _probe_plan(self, main: _Main, probe: int, reach: NDArray[np.int64]) -> tuple[Plan, Any] | None:
        """How to probe the main part's tables within ``probe``, or None where it is scanned instead."""
        plan, meta = main.plan(probe, self.strategy)
        # A first stage probes only tables that are the fixed split (a main loaded from an older snapshot may
        # be split otherwise until it is rebuilt: scanned with the same test meanwhile).
        foreign = bool(reach.shape[0]) and [(p.start, p.width) for p in main.parts] != [
            (int(r[kernels.START]), int(r[kernels.WIDTH])) for r in reach
        ]
        if plan.radii is None or foreign:
            return None
        return plan, meta

    def _scan(
        self,
        queries: NDArray[np.uint64],
        codes: NDArray[np.uint64],
        count: int,
        removed: NDArray[np.uint8],
        threshold: int,
        probe: int,
        reach: NDArray[np.int64],
    ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
        """Compare every query with the first ``count`` rows, the threads sharing the rows.

        The rows, not the queries, are shared out: an upload's whole-upload hashes are one or two queries, and
        split by query they would leave a thread idle or have each thread read every code; shared by rows,
        every core works on any number of queries."""
        parts = max(1, min(self.threads, count // _SCAN_SHARE))
        bounds = [count * i // parts // 8 * 8 for i in range(parts)] + [count]  # whole bytes of ``removed``

        def share(a: int, b: int) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
            return self._run(
                lambda q, r, d, c: kernels.scan_search(
                    q, codes[a:b], b - a, removed[a >> 3 :], threshold, r, d, c, probe, reach
                ),
                queries,
                1,
            )

        if parts == 1:
            return share(0, count)
        pool = self._executor()
        futures = [pool.submit(share, a, b) for a, b in itertools.pairwise(bounds)]
        shares = [f.result() for f in futures]
        nq = queries.shape[0]
        counts = np.sum([c for _, _, c in shares], axis=0)
        width = max(_FIRST_CAP, int(counts.max()))
        rows = np.empty((nq, width), np.int64)
        dist = np.empty((nq, width), np.int32)
        filled = np.zeros(nq, np.int64)
        for a, (r, d, c) in zip(bounds[:-1], shares, strict=True):
            for qi in np.flatnonzero(c):
                k, at = int(c[qi]), int(filled[qi])
                rows[qi, at : at + k] = r[qi, :k] + a
                dist[qi, at : at + k] = d[qi, :k]
                filled[qi] = at + k
        return rows, dist, counts

    def _reach(self, sure: int) -> NDArray[np.int64]:
        """The fixed tables (start, width) and their radii for ``sure``, as ``kernels`` meta rows."""
        assert self.tables is not None
        rows = [
            (p.start, p.width, 0, r, 0, 0, 0, 0, 0, 0)
            for p, r in first_stage_tables(self.bits, self.tables, sure)
        ]
        return np.array(rows, dtype=np.int64).reshape(-1, META_COLUMNS)

    def _run(
        self, kernel: Callable[[Any, Any, Any, Any], None], queries: NDArray[np.uint64], threads: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
        """Run ``kernel`` on ``threads`` threads over query chunks; re-run any that overflowed."""
        nq = queries.shape[0]
        rows = np.empty((nq, _FIRST_CAP), np.int64)
        dist = np.empty((nq, _FIRST_CAP), np.int32)
        counts = np.zeros(nq, np.int64)
        if threads <= 1:
            kernel(queries, rows, dist, counts)
        else:
            bounds = np.linspace(0, nq, threads + 1).astype(int)
            pool = self._executor()
            futures = [
                pool.submit(kernel, queries[a:b], rows[a:b], dist[a:b], counts[a:b])
                for a, b in itertools.pairwise(bounds)
                if b > a
            ]
            for f in futures:
                f.result()
        overflow = np.flatnonzero(counts > _FIRST_CAP)
        if overflow.size:
            cap = int(counts[overflow].max())
            more_rows = np.empty((overflow.size, cap), np.int64)
            more_dist = np.empty((overflow.size, cap), np.int32)
            more_counts = np.zeros(overflow.size, np.int64)
            kernel(np.ascontiguousarray(queries[overflow]), more_rows, more_dist, more_counts)
            wide_rows = np.empty((nq, cap), np.int64)
            wide_dist = np.empty((nq, cap), np.int32)
            wide_rows[:, :_FIRST_CAP] = rows
            wide_dist[:, :_FIRST_CAP] = dist
            wide_rows[overflow] = more_rows
            wide_dist[overflow] = more_dist
            counts[overflow] = more_counts
            rows, dist = wide_rows, wide_dist
        return rows, dist, counts

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="mih-search")
        return self._pool

    # ----- persistence --------------------------------------------------------------------------------------

    def frozen(self) -> Self:
        """A point-in-time copy for writing a snapshot while this index keeps changing.

        Cheap: the large arrays of the main part never change once built, so the copy shares them and only
        duplicates the removal bitmap and the delta (at most ``n / 64`` entries). The caller's thread holds
        the write lock only for that copy, not for the seconds a large snapshot takes to write."""
        copy = type(self)(
            self.bits, self.threads, self.strategy, self.delta_limit, self.tuned_for, self.tables
        )
        with self._lock:
            state = self._state
            main, count = state.main, state.delta_count
            frozen_main = _Main(
                ids=main.ids,
                codes=main.codes,
                parts=main.parts,
                offsets=main.offsets,
                offsets_base=main.offsets_base,
                blocks=main.blocks,
                blocks_base=main.blocks_base,
                positions=main.positions,
                resid=main.resid,
                entry_bits=main.entry_bits,
                entries_base=main.entries_base,
                removed=main.removed.copy(),
                plans=main.plans,
            )
            delta = _Delta(
                ids=state.delta.ids[:count].copy(),
                codes=state.delta.codes[:count].copy(),
                removed=state.delta.removed.copy(),
            )
            copy._state = _State(main=frozen_main, delta=delta, delta_count=count)
            copy._delta_rows = dict(self._delta_rows)
            copy._live = self._live
            copy.position = self.position
        return copy

    def save(self, path: Path, position: int | None = None, meta: dict[str, Any] | None = None) -> None:
        """Write a snapshot; ``position`` (default: ``self.position``) is the change-log point it reflects.

        ``meta``: the caller's own JSON-serialisable facts about the contents (the bank stores which database
        and settings the index was built from), returned by ``snapshot.read_header(path)["meta"]``."""
        with self._lock:
            state = self._state
            main = state.main
            header = {
                "kind": "mih",
                "bits": self.bits,
                "meta": meta or {},
                "position": int(self.position if position is None else position),
                "tuned_for": self.tuned_for,
                "tables": self.tables,
                "parts": [[p.start, p.width, p.dir_bits] for p in main.parts],
                "offsets_base": list(main.offsets_base),
                "blocks_base": list(main.blocks_base),
                "entry_bits": list(main.entry_bits),
                "entries_base": list(main.entries_base),
            }
            snapshot.write(
                Path(path),
                header,
                {
                    "ids": main.ids,
                    "codes": main.codes,
                    "offsets": main.offsets,
                    "blocks": main.blocks,
                    "positions": main.positions,
                    "resid": main.resid,
                    "removed": main.removed,
                    "delta_ids": state.delta.ids[: state.delta_count],
                    "delta_codes": state.delta.codes[: state.delta_count],
                    "delta_removed": state.delta.removed,
                },
            )

    @classmethod
    def load(cls, path: Path, mmap: bool = False, threads: int | None = None, verify: bool = False) -> Self:
        """Read a snapshot written by :meth:`save`; ``index.position`` is the position it was saved with.

        With ``mmap`` the large arrays stay in the page cache and are paged in by the first searches. That is
        safe with later ``add``/``remove``: the mapped arrays are read-only (a write would raise), removals go
        to a private copy of the bitmap, additions to the in-memory delta, and a merge builds new arrays.
        Several processes loading the same file share its pages. ``verify`` checks the checksums first.
        """
        snap = snapshot.read(Path(path), mmap=mmap, verify=verify)
        head, arrays = snap.header, snap.arrays
        if head.get("kind") != "mih":
            raise snapshot.SnapshotError(f"{path} is not a multi-index hashing snapshot")
        # Snapshots from before "tuned_for" was recorded were all split for the default threshold.
        tables = head.get("tables")
        index = cls(
            int(head["bits"]),
            threads,
            tuned_for=int(head.get("tuned_for", DEFAULT_THRESHOLD)),
            tables=None if tables is None else int(tables),
        )
        index.position = int(head["position"])
        parts = tuple(Part(*map(int, p)) for p in head["parts"])
        if "blocks" in arrays:
            blocks, blocks_base = arrays["blocks"], tuple(int(b) for b in head["blocks_base"])
        else:  # saved before two-level offsets: one uint32 offset per bucket (rebuilt two-level on a merge)
            blocks, blocks_base = np.zeros(1, np.uint32), (-1,) * len(parts)
        size = int(arrays["ids"].shape[0])
        # Saved before packed entries: a uint32 row number per entry (packed when next rebuilt).
        entry_bits = tuple(int(b) for b in head.get("entry_bits", [0] * len(parts)))
        entries_base = tuple(int(b) for b in head.get("entries_base", [j * size for j in range(len(parts))]))
        main = _Main(
            ids=arrays["ids"],
            codes=arrays["codes"],
            parts=parts,
            offsets=arrays["offsets"],
            offsets_base=tuple(int(b) for b in head["offsets_base"]),
            blocks=blocks,
            blocks_base=blocks_base,
            positions=arrays["positions"],
            resid=arrays["resid"],
            entry_bits=entry_bits,
            entries_base=entries_base,
            removed=np.array(arrays["removed"], copy=True),
        )
        index._state = _State(main=main, delta=index._new_delta(1024), delta_count=0)
        index._live = main.size - int(_removed_mask(main.removed, main.size).sum())
        delta_ids = arrays["delta_ids"]
        if delta_ids.size:
            live = ~_removed_mask(arrays["delta_removed"], delta_ids.size)
            with index._lock:
                index._append(np.array(delta_ids[live]), np.array(arrays["delta_codes"][live]))
        return index
