# mypy: ignore-errors
# (Numba compiles these functions with its own type inference; NumPy-scalar arithmetic inside them is not
# something mypy's stubs can follow. Their Python-facing signatures are exercised by tests/index.)
"""Numba kernels for the multi-index hash (MIH) index: table build, probe-and-verify search, linear scan.

Codes reach these kernels as ``(n, words)`` native ``uint64`` arrays (a zero-copy view of the packed bytes).
Hamming distance does not care how bits are numbered, so the byte order inside a word is irrelevant; what
matters is that stored codes and queries are viewed the same way.

All kernels are ``nogil``: the index runs them on several Python threads at once (one per core), and any
number of callers may search concurrently. No kernel allocates per candidate; results go into caller-provided
``(queries, cap)`` buffers and the true count is reported so the caller can re-run the few queries that
overflowed with a larger buffer.

Table metadata ``meta`` has one row per table: ``start, width, dir_bits, radius, offsets_base, masks_base,
masks_count, blocks_base, entry_bits, entries_base``. A table's key is ``width`` (<= 32) bits of the code
starting at bit ``start``; the top ``dir_bits`` of the key select a bucket in a CSR layout, the remaining
``width - dir_bits`` (<= 8) bits are kept per entry (``resid``, or packed) to filter a bucket without
touching the codes.

A table's entries (row numbers, in bucket order) are one ``uint32`` each with the residual byte beside them in
``resid``, or, with ``entry_bits > 0``, packed (:func:`entry_at`): each entry ``entry_bits`` wide (the bits a
row number needs, then the residual key bits), back to back in ``positions`` from bit ``entries_base``. At a
million pictures' 20M region codes a row number needs 25 bits, not 32: the 10 tables' entries (27 bits with
their residual bits) take 644 MiB instead of 954 as a ``uint32`` and a byte.

Bucket offsets are one ``uint32`` per bucket, or, in an index split into fixed tables (the robust regions'
first stage, whose memory is 20 codes a picture), two-level (:func:`bucket_start`): a ``uint32`` start per
block of 32 buckets in ``blocks`` and each bucket's start within its block in the narrowest unsigned type that
holds every table's (``uint8`` unless buckets are crowded): ~1.1 bytes a bucket instead of 4, at a million
pictures' 20M region codes ~125 MiB instead of 448. Reading fewer bytes of offsets does not make a probe
faster, and the lookup's few more instructions make an exact 31-bit search of 10M plain PDQ codes ~15%
slower, so the plain indexes keep one offset a bucket (docs/BENCHMARKS.md, "Index memory"). What a probe
does wait on is the candidates' codes, read at random places: they are gathered per table and prefetched
before they are verified (~10% faster at 10M), and a table's probes read their bucket offsets, then their
entries, in separate passes with the next pass's reads prefetched (``probe_search``): the region search at
20M codes ~2x faster (docs/BENCHMARKS.md, "Probes in passes").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

META_COLUMNS = 10
START, WIDTH, DIR_BITS, RADIUS, OFFSETS_BASE, MASKS_BASE, MASKS_COUNT, BLOCKS_BASE = range(8)
ENTRY_BITS, ENTRIES_BASE = 8, 9
#: Buckets per block of two-level offsets: where a table has about as many buckets as codes (or half as
#: many: ``layout.split``), 32 buckets hold ~30-80 codes, well inside a ``uint8``'s 255.
OFFSET_BLOCK_BITS = 5
#: Candidates of one table gathered (their codes prefetched) before they are verified together.
_GATHER = 256


@intrinsic
def popcount(typingctx: Any, value: Any) -> Any:
    """LLVM ``ctpop``: compiles to the CPU's POPCNT instruction."""
    if not isinstance(value, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return value(value), codegen


@intrinsic
def prefetch(typingctx: Any, array: Any, index: Any) -> Any:
    """LLVM ``prefetch`` of ``array[index]`` (read, keep in all cache levels): a hint, never a fault. The name
    ``llvm.prefetch.p0`` is that of LLVM's opaque pointers, which the pinned llvmlite's LLVM uses."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        arrty = signature.args[0]
        arr = context.make_array(arrty)(context, builder, args[0])
        at = context.cast(builder, args[1], signature.args[1], types.intp)
        pointer = cgutils.get_item_pointer(context, builder, arrty, arr, [at])
        i32 = ir.IntType(32)
        # as a byte pointer: one declaration serves arrays of every dtype in a module
        pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
        hint = ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, hint, "llvm.prefetch.p0")
        builder.call(fn, [pointer, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@njit(inline="always", nogil=True, cache=True)
def _distance(query: Any, codes: Any, row: int) -> int:
    dist = 0
    for w in range(codes.shape[1]):
        dist += np.int64(popcount(query[w] ^ codes[row, w]))
    return dist


@njit(inline="always", nogil=True, cache=True)
def _key(code: Any, start: int, width: int) -> Any:
    """Bits ``start .. start + width - 1`` of a code (``width`` <= 32), possibly straddling two words."""
    word = start >> 6
    shift = start & 63
    value = code[word] >> np.uint64(shift)
    if shift + width > 64:
        value |= code[word + 1] << np.uint64(64 - shift)
    return value & ((np.uint64(1) << np.uint64(width)) - np.uint64(1))


@njit(inline="always", nogil=True, cache=True)
def bucket_start(offsets: Any, blocks: Any, offsets_base: int, blocks_base: int, bucket: int) -> int:
    """Where ``bucket``'s entries begin in its table (the end of bucket ``b`` is the start of ``b + 1``):
    ``offsets`` itself, or with ``blocks_base >= 0`` its block's start plus its start within the block."""
    if blocks_base < 0:
        return np.int64(offsets[offsets_base + bucket])
    block = np.int64(blocks[blocks_base + (bucket >> OFFSET_BLOCK_BITS)])
    return block + np.int64(offsets[offsets_base + bucket])


@njit(inline="always", nogil=True, cache=True)
def entry_at(positions: Any, entries_base: int, entry_bits: int, e: int) -> Any:
    """Entry ``e`` of a packed table: ``entry_bits`` (<= 32) bits from bit ``entries_base + e * entry_bits``
    of ``positions`` (``uint32`` words, one spare word at the end), as a ``uint64``: the row number shifted
    left by the table's residual bits, the residual key in the low bits."""
    bit = entries_base + e * entry_bits
    word = bit >> 5
    pair = np.uint64(positions[word]) | (np.uint64(positions[word + 1]) << np.uint64(32))
    return (pair >> np.uint64(bit & 31)) & ((np.uint64(1) << np.uint64(entry_bits)) - np.uint64(1))


@njit(nogil=True, cache=True)
def pack_entries(rows: Any, resid: Any, res_bits: int, entry_bits: int, out: Any, entries_base: int) -> None:
    """Write a table's entries (``rows`` and, with ``res_bits``, ``resid``) packed into ``out`` from bit
    ``entries_base`` (a multiple of 32: no word is shared with another table, so tables pack in parallel)."""
    for e in range(rows.shape[0]):
        value = np.uint64(rows[e]) << np.uint64(res_bits)
        if res_bits > 0:
            value |= np.uint64(resid[e])
        bit = entries_base + e * entry_bits
        word = bit >> 5
        shifted = value << np.uint64(bit & 31)
        out[word] |= np.uint32(shifted & np.uint64(0xFFFFFFFF))
        high = shifted >> np.uint64(32)
        if high:  # only then is the next word this table's: never touch the next table's first word
            out[word + 1] |= np.uint32(high)


@njit(nogil=True, cache=True)
def build_table(
    codes: Any, start: int, width: int, dir_bits: int, offsets: Any, positions: Any, resid: Any
) -> None:
    """Counting sort of all rows by bucket: fills ``offsets`` (2**dir_bits + 1), ``positions``, ``resid``."""
    n = codes.shape[0]
    res_bits = width - dir_bits
    res_mask = (np.uint64(1) << np.uint64(res_bits)) - np.uint64(1)
    nbuckets = 1 << dir_bits
    cursor = np.zeros(nbuckets + 1, dtype=np.int64)
    for row in range(n):
        key = _key(codes[row], start, width)
        cursor[np.int64(key >> np.uint64(res_bits)) + 1] += 1
    for b in range(nbuckets):
        cursor[b + 1] += cursor[b]
    for b in range(nbuckets + 1):
        offsets[b] = cursor[b]
    for row in range(n):
        key = _key(codes[row], start, width)
        b = np.int64(key >> np.uint64(res_bits))
        slot = cursor[b]
        cursor[b] = slot + 1
        positions[slot] = row
        if res_bits > 0:
            resid[slot] = np.uint8(key & res_mask)


@njit(nogil=True, cache=True)
def probe_search(
    queries: Any,
    codes: Any,
    meta: Any,
    offsets: Any,
    blocks: Any,
    positions: Any,
    resid: Any,
    masks: Any,
    removed: Any,
    threshold: int,
    out_rows: Any,
    out_dist: Any,
    counts: Any,
) -> None:
    """Exact range search by multi-index hashing.

    Pigeonhole: the tables' radii satisfy ``sum(radius + 1) > threshold`` over the probed tables, so a code
    within ``threshold`` of the query is within ``radius`` of it in at least one table's key and is found by
    probing that table's Hamming ball. A candidate found in table ``j`` is reported only if no earlier probed
    table would also have found it, which removes duplicates without a hash set. Removed rows (bitmap) are
    dropped after verification, since matches are rare and candidates are not.
    """
    ntables = meta.shape[0]
    qkeys = np.empty(ntables, dtype=np.uint64)
    # A table's candidates are gathered first, each code prefetched as its row is found, and verified after:
    # verification reads one code at a random place per candidate, and gathered they are read in parallel.
    gathered = np.empty(_GATHER, dtype=np.int64)
    most = 1
    for j in range(meta.shape[0]):
        most = max(most, meta[j, MASKS_COUNT])
    bounds = np.empty((most, 2), dtype=np.int64)
    flat = codes.reshape(-1)
    words = codes.shape[1]
    for qi in range(queries.shape[0]):
        query = queries[qi]
        for j in range(ntables):
            qkeys[j] = _key(query, meta[j, START], meta[j, WIDTH])
        found = 0
        for j in range(ntables):
            if meta[j, RADIUS] < 0:
                continue
            res_bits = np.uint64(meta[j, WIDTH] - meta[j, DIR_BITS])
            res_mask = (np.uint64(1) << res_bits) - np.uint64(1)
            has_resid = meta[j, WIDTH] > meta[j, DIR_BITS]
            obase = meta[j, OFFSETS_BASE]
            bbase = meta[j, BLOCKS_BASE]
            ebits = meta[j, ENTRY_BITS]
            pbase = meta[j, ENTRIES_BASE]
            mbase = meta[j, MASKS_BASE]
            k = 0
            count = meta[j, MASKS_COUNT]
            # Three passes over the table's probes. A probe reads three places at random (its bucket's block
            # start and offset, then its first entry), each a likely cache miss that the next depends on: one
            # probe after another, the core waits on every miss in turn. Pass 1 computes each probe's bucket
            # and prefetches its offsets, pass 2 reads them (arrived meanwhile) and prefetches the entries,
            # pass 3 scans the entries: the misses of a table's few hundred probes are in flight together.
            for t in range(count):
                key = qkeys[j] ^ masks[mbase + t]
                bucket = np.int64(key >> res_bits)
                bounds[t, 0] = bucket
                if bbase >= 0:
                    prefetch(blocks, bbase + (bucket >> OFFSET_BLOCK_BITS))
                prefetch(offsets, obase + bucket)
            for t in range(count):
                bucket = bounds[t, 0]
                lo = bucket_start(offsets, blocks, obase, bbase, bucket)
                hi = bucket_start(offsets, blocks, obase, bbase, bucket + 1)
                bounds[t, 0] = lo
                bounds[t, 1] = hi
                if hi > lo:
                    if ebits:
                        prefetch(positions, (pbase + lo * ebits) >> 5)
                    else:
                        prefetch(positions, pbase + lo)
                        if has_resid:
                            prefetch(resid, pbase + lo)
            for t in range(count):
                key = qkeys[j] ^ masks[mbase + t]
                want = key & res_mask
                for e in range(bounds[t, 0], bounds[t, 1]):
                    if ebits:
                        packed = entry_at(positions, pbase, ebits, e)
                        if has_resid and (packed & res_mask) != want:
                            continue
                        row = np.int64(packed >> res_bits)
                    else:
                        if has_resid and np.uint64(resid[pbase + e]) != want:
                            continue
                        row = np.int64(positions[pbase + e])
                    prefetch(flat, row * words)
                    gathered[k] = row
                    k += 1
                    if k == _GATHER:
                        found = _verify(
                            query,
                            codes,
                            qkeys,
                            meta,
                            j,
                            removed,
                            threshold,
                            gathered,
                            k,
                            qi,
                            out_rows,
                            out_dist,
                            found,
                        )
                        k = 0
            found = _verify(
                query, codes, qkeys, meta, j, removed, threshold, gathered, k, qi, out_rows, out_dist, found
            )
        counts[qi] = found


@njit(inline="always", nogil=True, cache=True)
def _verify(
    query: Any,
    codes: Any,
    qkeys: Any,
    meta: Any,
    j: int,
    removed: Any,
    threshold: int,
    gathered: Any,
    k: int,
    qi: int,
    out_rows: Any,
    out_dist: Any,
    found: int,
) -> int:
    """Report the first ``k`` gathered rows of table ``j`` that are within ``threshold``, not removed, and
    not found by an earlier table; returns the query's new count."""
    cap = out_rows.shape[1]
    for c in range(k):
        row = gathered[c]
        dist = _distance(query, codes, row)
        if dist > threshold:
            continue
        seen_before = False
        for i in range(j):
            if meta[i, RADIUS] < 0:
                continue
            other = _key(codes[row], meta[i, START], meta[i, WIDTH])
            if np.int64(popcount(other ^ qkeys[i])) <= meta[i, RADIUS]:
                seen_before = True
                break
        if seen_before or (removed[row >> 3] >> (row & 7)) & 1:
            continue
        if found < cap:
            out_rows[qi, found] = row
            out_dist[qi, found] = dist
        found += 1
    return found


@njit(inline="always", nogil=True, cache=True)
def _reached(query: Any, codes: Any, row: int, meta: Any) -> bool:
    """Whether probing the tables of ``meta`` within their radii reaches ``row``: some table's key is within
    that table's radius of the query's."""
    for j in range(meta.shape[0]):
        if meta[j, RADIUS] < 0:
            continue
        a = _key(query, meta[j, START], meta[j, WIDTH])
        b = _key(codes[row], meta[j, START], meta[j, WIDTH])
        if np.int64(popcount(a ^ b)) <= meta[j, RADIUS]:
            return True
    return False


@njit(nogil=True, cache=True)
def scan_search(
    queries: Any,
    codes: Any,
    count: int,
    removed: Any,
    threshold: int,
    out_rows: Any,
    out_dist: Any,
    counts: Any,
    sure: int,
    reach: Any,
) -> None:
    """Brute force over the first ``count`` rows: for small sets and for thresholds where probing costs more.

    Rows are visited in cache-sized blocks and every query is compared against a block before moving on, so a
    batch of queries reads the codes from memory once rather than once per query.

    A row further than ``sure`` (and within ``threshold``) is reported only if the tables of ``reach`` (rows
    as ``meta``; none: every row) would reach it: a first-stage search answers the same by scanning as by
    probing those tables.
    """
    cap = out_rows.shape[1]
    nq = queries.shape[0]
    for qi in range(nq):
        counts[qi] = 0
    block = 4096
    for start in range(0, count, block):
        stop = min(start + block, count)
        for qi in range(nq):
            query = queries[qi]
            found = counts[qi]
            for row in range(start, stop):
                dist = _distance(query, codes, row)
                if dist <= threshold and not (removed[row >> 3] >> (row & 7)) & 1:
                    if dist > sure and reach.shape[0] and not _reached(query, codes, row, reach):
                        continue
                    if found < cap:
                        out_rows[qi, found] = row
                        out_dist[qi, found] = dist
                    found += 1
            counts[qi] = found
