"""The MIH index must return exactly what brute force returns: every code within the threshold, no other.

FlatIndex (a plain NumPy scan) is the reference. Data is random and clustered (families of near-duplicates at
distances 1..T from a centre, the case that fills MIH buckets unevenly), at 64/128/256 bits, thresholds
0..63, with both the probing path and the scan path forced, and through add/remove/replace sequences that
cross delta merges.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.index import FlatIndex, MihIndex, mih, new_index
from redline.index.base import HammingIndex, Hits
from redline.index.layout import allot_radii, first_stage_reaches, split
from redline.index.snapshot import SnapshotError

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def flip(code: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``code`` with exactly ``count`` distinct bits inverted."""
    bits = np.unpackbits(code)
    bits[rng.choice(bits.size, size=count, replace=False)] ^= 1
    return np.packbits(bits)


def clustered(n: int, bits: int, spread: int, rng: np.random.Generator) -> np.ndarray:
    """Families of near-duplicates: each code is a family centre with 1..spread bits flipped."""
    centres = rng.integers(0, 256, (max(1, n // 8), bits // 8), dtype=np.uint8)
    pick = rng.integers(0, centres.shape[0], n)
    family = [flip(centres[c], int(rng.integers(1, spread + 1)), rng) for c in pick]
    return np.array(family, dtype=np.uint8).reshape(n, bits // 8)


def queries_near(codes: np.ndarray, bits: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Half the queries within 0..40 bits of a stored code, half random."""
    out = rng.integers(0, 256, (count, bits // 8), dtype=np.uint8)
    for i in range(min(count // 2, len(codes))):
        out[i] = flip(codes[rng.integers(0, len(codes))], int(rng.integers(0, min(41, bits))), rng)
    return out


def assert_same(got: list[Hits], want: list[Hits]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.ids, w.ids)
        np.testing.assert_array_equal(g.distances, w.distances)


def reference(ids: np.ndarray, codes: np.ndarray, bits: int) -> FlatIndex:
    flat = FlatIndex(bits)
    flat.add(ids, codes)
    return flat


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    bits=st.sampled_from([64, 128, 256]),
    n=st.integers(0, 1500),
    threshold=st.integers(0, 63),
    family_data=st.booleans(),
    strategy=st.sampled_from(["auto", "probe"]),
)
def test_matches_brute_force(
    seed: int, bits: int, n: int, threshold: int, family_data: bool, strategy: str
) -> None:
    rng = np.random.default_rng(seed)
    if family_data:
        codes = clustered(n, bits, max(1, threshold), rng)
    else:
        codes = rng.integers(0, 256, (n, bits // 8), dtype=np.uint8)
    ids = rng.permutation(10 * n + 1)[:n].astype(np.int64)
    index = MihIndex.build(ids, codes, bits=bits, threads=2)
    index.strategy = strategy  # type: ignore[assignment]
    queries = queries_near(codes, bits, 12, rng)
    assert_same(index.search(queries, threshold), reference(ids, codes, bits).search(queries, threshold))


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    bits=st.sampled_from([64, 128, 256]),
    ops=st.lists(st.tuples(st.sampled_from(["add", "remove", "replace"]), st.integers(1, 40)), max_size=12),
    threshold=st.integers(0, 63),
)
def test_add_remove_sequences(seed: int, bits: int, ops: list[tuple[str, int]], threshold: int) -> None:
    """Every change is visible to the next search, across delta appends and (small-limit) merges."""
    rng = np.random.default_rng(seed)
    index = MihIndex(bits, threads=2, strategy="probe", delta_limit=int(rng.integers(1, 64)))
    flat = FlatIndex(bits)
    base = clustered(300, bits, 20, rng)
    next_id = 0
    for op, count in ops:
        present = np.array(sorted(flat._state[0].tolist()), dtype=np.int64)
        if op == "add":
            ids = np.arange(next_id, next_id + count, dtype=np.int64)
            next_id += count
        else:
            # existing ids (and, for remove, some that were never added)
            extra = np.array([10**9 + count], dtype=np.int64)
            ids = np.concatenate([rng.permutation(present)[:count], extra if op == "remove" else extra[:0]])
        if op == "remove":
            assert index.remove(ids) == flat.remove(ids)
        else:
            near = [flip(base[rng.integers(0, len(base))], int(rng.integers(0, 30)), rng) for _ in ids]
            codes = np.array(near, dtype=np.uint8).reshape(len(ids), bits // 8)
            index.add(ids, codes)
            flat.add(ids, codes)
        assert len(index) == len(flat)
        queries = queries_near(base, bits, 6, rng)
        assert_same(index.search(queries, threshold), flat.search(queries, threshold))


def first_stage_reference(
    ids: np.ndarray, codes: np.ndarray, queries: np.ndarray, threshold: int, sure: int, tables: int
) -> list[Hits]:
    """What a first-stage search must return, by brute force: every code within ``sure``, and every one
    within ``threshold`` that one of the fixed tables sees within its radius (``allot_radii`` at ``sure``)."""
    bits = codes.shape[1] * 8
    parts = split(bits, tables, 2)
    radii = allot_radii(parts, sure)
    stored = np.unpackbits(codes, axis=1).astype(bool)
    out = []
    for query in queries:
        differ = stored ^ np.unpackbits(query).astype(bool)
        dist = differ.sum(axis=1)
        keep = dist <= sure
        for part, radius in zip(parts, radii, strict=True):
            if radius >= 0:
                keep |= differ[:, _code_bits(part.start, part.width)].sum(axis=1) <= radius
        found = np.flatnonzero(keep & (dist <= threshold))
        order = np.lexsort((ids[found], dist[found]))
        out.append(Hits(ids=ids[found][order], distances=dist[found][order].astype(np.int32)))
    return out


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    bits=st.sampled_from([64, 128, 256]),
    n=st.integers(0, 1500),
    threshold=st.integers(0, 63),
    sure=st.integers(0, 63),
    extra_tables=st.integers(0, 8),
    strategy=st.sampled_from(["auto", "probe", "scan"]),
    delta=st.integers(0, 60),
)
def test_a_first_stage_answers_as_its_fixed_tables_say_probed_or_scanned(
    seed: int,
    bits: int,
    n: int,
    threshold: int,
    sure: int,
    extra_tables: int,
    strategy: str,
    delta: int,
) -> None:
    """``search(..., sure=)`` on an index of fixed tables returns exactly the brute-force first-stage
    answer, whether the main part is probed or scanned and with recent additions in the delta; it is the
    exact answer when ``sure`` reaches the threshold, and the exact one on an index without fixed tables."""
    rng = np.random.default_rng(seed)
    tables = bits // 32 + extra_tables
    codes = clustered(n + delta, bits, max(1, threshold), rng)
    ids = rng.permutation(10 * (n + delta) + 1)[: n + delta].astype(np.int64)
    index = MihIndex.build(ids[:n], codes[:n], bits=bits, threads=2, tables=tables)
    index.strategy = strategy  # type: ignore[assignment]
    index.add(ids[n:], codes[n:])
    queries = queries_near(codes, bits, 12, rng)
    exact = reference(ids, codes, bits).search(queries, threshold)
    got = index.search(queries, threshold, sure=sure)
    assert_same(got, first_stage_reference(ids, codes, queries, threshold, min(sure, threshold), tables))
    if sure >= threshold:
        assert_same(got, exact)
    for g, e in zip(got, exact, strict=True):
        assert set(g.ids.tolist()) <= set(e.ids.tolist())
        assert set(e.ids[e.distances <= sure].tolist()) <= set(g.ids.tolist())
    unfixed = MihIndex.build(ids, codes, bits=bits, threads=2)
    assert_same(unfixed.search(queries, threshold, sure=sure), exact)


def test_a_first_stage_reaches_beyond_sure_and_probes_less() -> None:
    """200k random codes in 11 fixed tables: a neighbour 40 bits away whose differences avoid one table is
    found by a search sure within 31 (that table sees it); one 32 bits away with one bit more than each
    table's radius in every table is not; and the first stage probes far fewer buckets."""
    rng = np.random.default_rng(5)
    n = 200_000
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    index = MihIndex.build(np.arange(n, dtype=np.int64), codes, threads=2, tables=11)
    index.strategy = "probe"
    main = index._state.main
    part = main.parts[0]
    outside = np.setdiff1d(np.arange(256), _code_bits(part.start, part.width))
    target = codes[7]
    bits = np.unpackbits(target)
    bits[rng.choice(outside, size=40, replace=False)] ^= 1
    hidden_in_others = np.packbits(bits)
    spread_bits = np.unpackbits(target)
    radii = main.plan(31, "probe")[0].radii
    assert radii is not None
    for p, r in zip(main.parts, radii, strict=True):
        spread_bits[rng.choice(_code_bits(p.start, p.width), size=r + 1, replace=False)] ^= 1
    spread = np.packbits(spread_bits)
    queries = np.stack([hidden_in_others, spread])
    exact = index.search(queries, 45)
    first = index.search(queries, 45, sure=31)
    assert 7 in exact[0].ids and 7 in exact[1].ids
    assert 7 in first[0].ids and 7 not in first[1].ids
    assert len(main.plan(31, "probe")[0].masks) * 5 < len(main.plan(45, "probe")[0].masks)


def _code_bits(start: int, width: int) -> np.ndarray:
    """Positions in ``np.unpackbits`` order of a table's key bits ``start .. start + width - 1`` (bit
    ``start % 64`` of little-endian ``uint64`` word ``start // 64``, as the index reads packed codes)."""
    positions = []
    for b in range(start, start + width):
        word, bit = divmod(b, 64)
        byte, within = divmod(bit, 8)
        positions.append(8 * (8 * word + byte) + 7 - within)
    return np.array(positions)


def test_repeated_id_in_one_call_keeps_the_last_code() -> None:
    index = MihIndex(64, delta_limit=4)
    codes = np.array([[0] * 8, [255] * 8], dtype=np.uint8)
    for _ in range(2):  # once through the delta, once through a rebuild
        index.add(np.array([7, 7]), codes)
        hits = index.search(codes, 0)
        assert hits[0].ids.tolist() == [] and hits[1].ids.tolist() == [7]
        index = MihIndex.build(np.array([7, 7]), codes, bits=64)
    assert len(index) == 1


def test_planted_neighbours_at_scale() -> None:
    """200k random codes, probing path: every planted neighbour at distance 0..31 comes back."""
    rng = np.random.default_rng(4)
    n = 200_000
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    ids = np.arange(n, dtype=np.int64) * 2 + 1
    index = MihIndex.build(ids, codes, threads=2)
    targets = rng.integers(0, n, 200)
    queries = np.array([flip(codes[t], int(rng.integers(0, 32)), rng) for t in targets])
    hits = index.search(queries, 31)
    for target, found in zip(targets, hits, strict=True):
        assert ids[target] in found.ids
    assert_same(hits[:20], reference(ids, codes, 256).search(queries[:20], 31))


def test_snapshot_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    codes = clustered(3000, 256, 31, rng)
    ids = np.arange(3000, dtype=np.int64)
    index = MihIndex.build(ids, codes)
    index.remove(np.arange(0, 3000, 7))
    index.add(np.array([5000, 5001]), codes[:2])  # lives in the delta
    index.remove(np.array([5001]))
    path = tmp_path / "bank.idx"
    index.save(path, position=1234)
    queries = queries_near(codes, 256, 30, rng)
    want = index.search(queries, 31)
    for mmap in (False, True):
        loaded = MihIndex.load(path, mmap=mmap)
        assert loaded.position == 1234
        assert len(loaded) == len(index)
        assert_same(loaded.search(queries, 31), want)
        # catch-up after the snapshot: changes apply on top of the loaded (possibly read-only) arrays
        loaded.remove(np.array([1]))
        loaded.add(np.array([9999]), codes[1:2])
        assert loaded.search(codes[1:2], 0)[0].ids.tolist() == [9999]
    (tmp_path / "junk.idx").write_bytes(b"not a snapshot")
    with pytest.raises(SnapshotError):
        MihIndex.load(tmp_path / "junk.idx")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(SnapshotError):
        MihIndex.load(path)


def plain_entries(main: object) -> tuple[np.ndarray, np.ndarray]:
    """A fixed-table main's packed entries as the plain layout holds them: a uint32 row number per entry
    (table after table) and the residual byte beside each (empty where no table has residual bits)."""
    words = main.positions.astype(np.uint64)  # type: ignore[attr-defined]
    n = main.ids.shape[0]  # type: ignore[attr-defined]
    rows, resid = [], []
    for p, eb, base in zip(main.parts, main.entry_bits, main.entries_base, strict=True):  # type: ignore[attr-defined]
        bit = base + np.arange(n, dtype=np.uint64) * np.uint64(eb)
        pair = words[bit >> np.uint64(5)] | (words[(bit >> np.uint64(5)) + np.uint64(1)] << np.uint64(32))
        value = (pair >> (bit & np.uint64(31))) & np.uint64((1 << eb) - 1)
        res_bits = np.uint64(p.width - p.dir_bits)
        rows.append((value >> res_bits).astype(np.uint32))
        resid.append((value & ((np.uint64(1) << res_bits) - np.uint64(1))).astype(np.uint8))
    has_resid = any(p.width > p.dir_bits for p in main.parts)  # type: ignore[attr-defined]
    return np.concatenate(rows), np.concatenate(resid) if has_resid else np.empty(0, np.uint8)


def test_a_snapshot_saved_with_one_offset_a_bucket_still_loads(tmp_path: Path) -> None:
    """Snapshots written before the two-level offsets and packed entries hold one uint32 offset per bucket, a
    uint32 row number per entry (and int64 ids): they load, answer as the index they were saved from, and
    take later changes."""
    from redline.index import kernels, snapshot

    rng = np.random.default_rng(23)
    codes = clustered(3000, 256, 31, rng)
    ids = np.arange(3000, dtype=np.int64)
    index = MihIndex.build(ids, codes, tables=11)
    index.remove(np.arange(0, 3000, 5))
    path = tmp_path / "bank.idx"
    index.save(path, position=7)
    old = snapshot.read(path)
    old_keys = ("version", "arrays", "blocks_base", "entry_bits", "entries_base")
    head = {k: v for k, v in old.header.items() if k not in old_keys}
    arrays = dict(old.arrays)
    main = index._state.main
    full = []
    for p, ob, bb in zip(main.parts, main.offsets_base, main.blocks_base, strict=True):
        buckets = np.arange((1 << p.dir_bits) + 1)
        starts = main.blocks[bb + (buckets >> kernels.OFFSET_BLOCK_BITS)].astype(np.int64)
        full.append(starts + main.offsets[ob + buckets])
    assert all(np.all(np.diff(table) >= 0) and table[-1] == 3000 for table in full)
    arrays["offsets"] = np.concatenate(full).astype(np.uint32)
    head["offsets_base"] = np.concatenate([[0], np.cumsum([len(t) for t in full])[:-1]]).tolist()
    arrays["ids"] = arrays["ids"].astype(np.int64)
    assert min(main.entry_bits) > 0 and arrays["resid"].size == 0  # packed, with the residual bits inside
    arrays["positions"], arrays["resid"] = plain_entries(main)
    assert arrays["resid"].size == 11 * 3000  # 3,000 codes: 15-bit directories, 8-9 residual bits
    del arrays["blocks"]
    snapshot.write(path, head, arrays)
    queries = queries_near(codes, 256, 30, rng)
    loaded = MihIndex.load(path)
    loaded.strategy = index.strategy = "probe"
    assert loaded._state.main.offsets.dtype == np.uint32 and loaded._state.main.blocks_base == (-1,) * 11
    assert loaded._state.main.entry_bits == (0,) * 11
    assert_same(loaded.search(queries, 31), index.search(queries, 31))
    assert_same(loaded.search(queries, 45, sure=31), index.search(queries, 45, sure=31))
    loaded.remove(np.array([1]))
    assert len(loaded.search(codes[1:2], 0)[0]) == 0


def test_index_tuned_for_another_threshold_is_split_for_it_and_stays_exact(tmp_path: Path) -> None:
    """The robust-region index is split for 45 bits, not PDQ's 31: another table layout, the same answers
    at every threshold, and the choice survives a snapshot and the rebuilds after it."""
    rng = np.random.default_rng(11)
    n = 20_000  # a size where the cheapest split differs: 16 tables for 31, 19 for 45
    codes = clustered(n, 256, 40, rng)
    ids = np.arange(n, dtype=np.int64)
    plain, tuned = MihIndex.build(ids, codes), new_index(256, tuned_for=45)
    tuned.add(ids, codes)
    assert isinstance(tuned, MihIndex) and tuned.tuned_for == 45
    tuned.compact()  # a batch this small lands in the delta; build the tables
    assert len(tuned._state.main.parts) == 19 and len(plain._state.main.parts) == 16
    want = reference(ids, codes, 256)
    queries = queries_near(codes, 256, 40, rng)
    for threshold in (0, 31, 45, 64):
        assert_same(tuned.search(queries, threshold), want.search(queries, threshold))
    path = tmp_path / "regions.idx"
    tuned.save(path)
    loaded = MihIndex.load(path)
    assert loaded.tuned_for == 45 and loaded._state.main.parts == tuned._state.main.parts
    loaded.add(np.array([n + 1]), codes[:1])
    loaded.compact()  # a rebuild after loading keeps the 45-bit split
    assert loaded._state.main.parts == tuned._state.main.parts
    assert sorted(loaded.search(codes[:1], 0)[0].ids.tolist()) == [0, n + 1]


@pytest.mark.parametrize("make", [FlatIndex, MihIndex])
def test_position_survives_save(tmp_path: Path, make: type[HammingIndex]) -> None:
    index = make(128)  # type: ignore[call-arg]
    index.add(np.array([1]), np.zeros((1, 16), np.uint8))
    index.position = 77
    index.save(tmp_path / "a")
    assert type(index).load(tmp_path / "a").position == 77


def test_concurrent_searches_with_one_writer() -> None:
    """Readers never see a removed id after remove() returned, and always see ids added before they began."""
    rng = np.random.default_rng(6)
    codes = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    index = MihIndex.build(np.arange(20_000), codes, threads=2)
    index.delta_limit = 500  # several merges happen while readers run
    removed_upto = [0]  # ids below this have been removed
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            before = removed_upto[0]
            found = index.search(codes[:200], 0)
            after = removed_upto[0]  # id `after` may be being removed right now; later ones are present
            for entry_id, hits in enumerate(found):
                if entry_id < before and hits.ids.size:
                    errors.append(f"removed id {entry_id} returned")
                if entry_id > after and hits.ids.tolist() != [entry_id]:
                    errors.append(f"present id {entry_id} missing")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(200):
        index.remove(np.array([i]))
        removed_upto[0] = i + 1
        index.add(np.array([100_000 + i]), rng.integers(0, 256, (1, 32), dtype=np.uint8))
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(index) == 20_000


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        MihIndex(100)
    index = new_index(256)
    with pytest.raises(ValueError):
        index.search(np.zeros((1, 32), np.uint8), -1)
    with pytest.raises(ValueError):
        index.add(np.array([1, 2]), np.zeros((1, 32), np.uint8))
    assert index.search(np.zeros((0, 32), np.uint8), 31) == []
    assert len(index.search(np.zeros((2, 32), np.uint8), 31)[1]) == 0


def test_array_bytes_counts_codes_and_tables() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (5000, 32), dtype=np.uint8)
    index = MihIndex.build(np.arange(5000, dtype=np.int64), codes)
    tables = len(index._state.main.parts)
    # At least the codes, the ids (uint32 while they fit) and one uint32 row number per code per table; not
    # wildly more.
    least = codes.nbytes + 5000 * 4 + tables * 5000 * 4
    assert least <= index.array_bytes < 3 * least


def test_first_stage_offsets_take_about_a_byte_a_bucket_and_widen_for_crowded_buckets() -> None:
    """An index of fixed tables (a first stage) keeps two-level bucket offsets: ~1.1 bytes a bucket (uint8
    within blocks) for random codes; where a bucket holds hundreds of identical codes (a picture many people
    sent) they widen to uint16; a plain index keeps a uint32 per bucket. Every search answers as a scan."""
    rng = np.random.default_rng(21)
    n = 100_000
    spread = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    crowded = spread.copy()
    crowded[:3000] = crowded[0]  # 3,000 copies of one code: one bucket per table far past a uint8
    ids = np.arange(n, dtype=np.int64)
    queries = np.concatenate([queries_near(spread, 256, 40, rng), crowded[:1]])
    for codes, tables, dtype in ((spread, 11, np.uint8), (crowded, 11, np.uint16), (spread, None, np.uint32)):
        index = MihIndex.build(ids, codes, threads=2, tables=tables)
        index.strategy = "probe"
        main = index._state.main
        assert main.offsets.dtype == dtype
        buckets = sum((1 << p.dir_bits) + 1 for p in main.parts)
        assert main.offsets.shape[0] == buckets
        assert main.blocks.nbytes < buckets // 4 if tables else main.blocks_base == (-1,) * len(main.parts)
        assert_same(index.search(queries, 31), reference(ids, codes, 256).search(queries, 31))
        if tables:
            want = first_stage_reference(ids, codes, queries[:8], 45, 31, tables)
            assert_same(index.search(queries[:8], 45, sure=31), want)
        assert len(index.search(crowded[:1], 0)[0]) == (3000 if codes is crowded else 1)


def test_first_stage_entries_take_the_bits_a_row_number_needs() -> None:
    """An index of fixed tables packs each table's entries to the bits a row number below n needs plus the
    table's residual key bits (no residual byte beside them); a plain index keeps a uint32 row per entry.
    Every size answers as a scan, searched exactly and as a first stage, after removals too."""
    rng = np.random.default_rng(24)
    for n in (1, 2, 33, 1000, 70_000):
        codes = clustered(n, 256, 40, rng)
        ids = np.arange(n, dtype=np.int64) * 3
        queries = queries_near(codes, 256, 12, rng)
        for tables in (11, None):
            index = MihIndex.build(ids, codes, tables=tables)
            index.strategy = "probe"
            main = index._state.main
            row_bits = max(1, (n - 1).bit_length())
            if tables:
                assert main.entry_bits == tuple(row_bits + p.width - p.dir_bits for p in main.parts)
                assert main.resid.size == 0
                assert main.positions.nbytes <= sum(main.entry_bits) * n / 8 + 4 * (len(main.parts) + 2)
            else:
                assert main.entry_bits == (0,) * len(main.parts)
                assert main.positions.dtype == np.uint32 and main.positions.size == len(main.parts) * n
            brute = reference(ids, codes, 256)
            assert_same(index.search(queries, 31), brute.search(queries, 31))
            if tables:
                want = first_stage_reference(ids, codes, queries, 45, 31, tables)
                assert_same(index.search(queries, 45, sure=31), want)
            gone = ids[::4]
            index.remove(gone)
            brute.remove(gone)
            assert_same(index.search(queries, 40), brute.search(queries, 40))
    # Tables pack on several threads; with n a multiple of 32 every table ends on a word boundary, where a
    # write past its end would land in the next table's first word.
    codes = clustered(4096, 256, 40, rng)
    one, two = (MihIndex.build(np.arange(4096), codes, threads=t, tables=11) for t in (1, 2))
    assert np.array_equal(one._state.main.positions, two._state.main.positions)
    # 20M region codes (a million pictures): 25 bits, where a uint32 row number is 32.
    parts = split(256, 11, 20_000_000)
    assert set(mih._entry_bits(parts, 20_000_000)) == {25}


def test_ids_beyond_32_bits_are_kept_whole() -> None:
    """Ids are stored as uint32 while every one fits; larger (or negative) ids keep 8 bytes, and searches and
    removals answer the same either way, always as int64."""
    rng = np.random.default_rng(22)
    codes = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    for ids, dtype in (
        (np.arange(3000, dtype=np.int64) * 1000, np.uint32),
        (np.arange(3000, dtype=np.int64) + (1 << 32) - 10, np.int64),
        (np.arange(3000, dtype=np.int64) - 5, np.int64),
    ):
        index = MihIndex.build(ids, codes, tables=11)
        assert index._state.main.ids.dtype == dtype
        hits = index.search(codes[[0, 20, 2999]], 0)
        assert [h.ids.tolist() for h in hits] == [[ids[0]], [ids[20]], [ids[2999]]]
        assert all(h.ids.dtype == np.int64 for h in hits)
        assert index.remove(np.array([ids[20], -(1 << 40), 1 << 40])) == 1
        assert len(index.search(codes[20:21], 0)[0]) == 0


def test_first_stage_reaches_says_what_the_index_returns() -> None:
    """``layout.first_stage_reaches`` (used by ``redline compare`` and the benches to apply the server's rule
    to known pairs) agrees with the index's first-stage search, pair by pair."""
    rng = np.random.default_rng(11)
    stored = rng.integers(0, 256, (400, 32), dtype=np.uint8)
    queries = np.array([flip(stored[i], int(rng.integers(25, 46)), rng) for i in range(400)])
    index = MihIndex.build(np.arange(400, dtype=np.int64), stored, threads=2, tables=11)
    found = index.search(queries, 45, sure=31)
    xor = (queries ^ stored).view(np.uint64)
    reaches = first_stage_reaches(xor, 11, 31)
    assert [i in hits.ids for i, hits in enumerate(found)] == reaches.tolist()
    assert 0 < reaches.sum() < 400  # both kinds occur


def test_a_scan_shared_out_by_rows_answers_as_one_thread() -> None:
    """A scan of a large part gives each thread a share of the rows (``MihIndex._scan``): the same hits as
    brute force and as one thread, with removals around the shares' boundaries, a query whose hits in one
    share overflow its first result slots, the delta scanned the same way, and a first stage's test."""
    rng = np.random.default_rng(31)
    n, delta = 60_006, 20_006  # halves of 30,003 and 10,003 rows: the shares start at a byte of the bitmap
    codes = rng.integers(0, 256, (n + delta, 32), dtype=np.uint8)
    middle = n // 2
    codes[middle - 50 : middle + 50] = codes[0]  # 100 copies of one code across the two threads' shares
    codes[n - 20 : n + 20] = codes[0]  # and 40 across main and delta
    ids = rng.permutation(10 * (n + delta))[: n + delta].astype(np.int64)
    queries = np.concatenate([codes[:1], queries_near(codes, 256, 15, rng)])
    starts = [
        middle // 8 * 8,
        n + delta // 2 // 8 * 8,
    ]  # where the second share of main and of the delta begins
    edges = [start + k for start in starts for k in (0, 1, 4)]  # either side of each share's start
    gone = np.unique(np.concatenate([ids[edges], ids[middle - 9 : middle + 9 : 3], ids[::997]]))
    live = np.isin(ids, gone, invert=True)
    brute = reference(ids[live], codes[live], 256)
    one, two = (MihIndex.build(ids[:n], codes[:n], threads=t, tables=11) for t in (1, 2))
    for index in (one, two):
        index.strategy = "scan"
        index.add(ids[n:], codes[n:])
        index.remove(gone)
    assert two._state.main.size == n and two._state.delta_count == delta
    for threshold, sure in ((45, None), (0, None), (45, 29)):
        got = two.search(queries, threshold, sure=sure)
        assert_same(got, one.search(queries, threshold, sure=sure))
        if sure is None:
            assert_same(got, brute.search(queries, threshold))
        else:
            assert_same(got, first_stage_reference(ids[live], codes[live], queries, threshold, sure, 11))
    assert len(two.search(codes[:1], 0)[0]) == 1 + 100 + 40 - int(
        np.isin(gone, ids[(codes == codes[0]).all(1)]).sum()
    )
