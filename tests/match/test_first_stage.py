"""The robust region searches' first stage (docs/ROBUSTNESS.md, Cost): the matcher searches ``pdq_region``
exactly within its sure radius (``PdqRegionSignal.sure_radius``: 29) and verifies at the threshold (45);
beyond it a stored region is found when one of the index's fixed tables (10) sees it within that table's
radius. An operator can turn it off (exact 45-bit search), and the
shards are asked for the same first stage, so a sharded bank answers as one process does."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.bank.db import Database
from redline.bank.secrets import ContactCipher
from redline.index.layout import allot_radii, split
from redline.match.fanout import parse_searches
from redline.match.service import IndexSearch, Matcher, Query
from redline.match.snapshots import SnapshotPolicy
from redline.signals.types import PdqRegionSignal
from tests.match.test_shards import indexed, submit


def key_bits(start: int, width: int) -> list[int]:
    """Positions, most significant bit of the hex value first, of a table's key bits (bit ``start % 64`` of
    the little-endian ``uint64`` word ``start // 64``, as the index reads a packed code)."""
    out = []
    for b in range(start, start + width):
        word, bit = divmod(b, 64)
        byte, within = divmod(bit, 8)
        out.append(8 * (8 * word + byte) + 7 - within)
    return out


def flipped(value: str, positions: list[int]) -> str:
    number = int(value, 16)
    for i in positions:
        number ^= 1 << (255 - i)
    return f"{number:064x}"


def test_region_searches_are_sure_within_their_radius_and_reach_further_through_one_table(
    db: Database, cipher: ContactCipher
) -> None:
    stored = [h for h in indexed(3) if h["type"] == "pdq_region"]
    submit(db, cipher, indexed(3))
    target = stored[5]["value"]  # a crop, far from the picture's other hashes
    tables = PdqRegionSignal.first_stage_tables
    sure = PdqRegionSignal.sure_radius
    assert (tables, sure) == (10, 29)  # the split docs/BENCHMARKS.md measured ("Ten first-stage tables")
    parts = split(256, tables, 2)
    radii = allot_radii(parts, sure)
    # sure + 1 bits: one more than each table's radius in every table (beyond what the probes reach) ...
    spread = flipped(
        target,
        [p for part, r in zip(parts, radii, strict=True) for p in key_bits(part.start, part.width)[: r + 1]],
    )
    # ... and 44 bits that leave the first table untouched (it sees the code at distance 0).
    first = set(key_bits(parts[0].start, parts[0].width))
    hidden = flipped(target, [i for i in range(256) if i not in first][:44])
    queries = [Query("pdq_region", spread), Query("pdq_region", hidden)]

    def distances(m: Matcher) -> list[list[int]]:
        m.load()
        return [sorted(x.distance for x in found) for found in m.match(queries)]

    assert distances(Matcher(db, min_quality=50, poll_interval=1)) == [[], [44]]
    exact = Matcher(db, min_quality=50, poll_interval=1, sure_radii={"pdq_region": None})
    assert distances(exact) == [[sure + 1], [44]]
    also_exact = Matcher(db, min_quality=50, poll_interval=1, sure_radii={"pdq_region": 45})
    assert distances(also_exact) == [[sure + 1], [44]]


def test_a_snapshot_split_otherwise_is_rebuilt_to_the_types_fixed_tables(
    db: Database, cipher: ContactCipher, tmp_path: Path
) -> None:
    """A snapshot written by a version with another first-stage split (11 tables before 2026-12-06) is
    rebuilt as it loads, so its searches probe the type's tables (not a scan: seconds at a large bank) and
    answer as an index built from the database does."""
    submit(db, cipher, indexed(3))
    policy = SnapshotPolicy(directory=tmp_path / "index")
    old = Matcher(db, min_quality=50, poll_interval=1, snapshots=policy)
    old.load()
    region = old._indexes["pdq_region"]
    region.tables = 11  # type: ignore[attr-defined]
    region.compact()  # type: ignore[attr-defined]
    assert len(region._state.main.parts) == 11  # type: ignore[attr-defined]
    old.write_snapshot()

    new = Matcher(db, min_quality=50, poll_interval=1, snapshots=policy)
    new.load()
    assert new.loaded_from == "snapshot"
    loaded = new._indexes["pdq_region"]
    tables = PdqRegionSignal.first_stage_tables
    assert loaded.tables == tables and len(loaded._state.main.parts) == tables  # type: ignore[attr-defined]
    stored = [h["value"] for h in indexed(3) if h["type"] == "pdq_region"]
    # 20 bits off (within the sure radius), and 40 bits off in the first tables only (reached by the others)
    queries = [Query("pdq_region", flipped(v, list(range(k)))) for v in stored for k in (20, 40)]
    fresh = Matcher(db, min_quality=50, poll_interval=1)
    fresh.load()
    answers = [
        [sorted((x.entry_id, x.distance) for x in found) for found in m.match(queries)] for m in (new, fresh)
    ]
    assert answers[0] == answers[1] and any(answers[0])


def test_shards_are_asked_for_the_same_first_stage() -> None:
    body = {"searches": [{"signal_type": "pdq_region", "threshold": 45, "sure": 31, "values": ["A" * 64]}]}
    assert parse_searches(body) == [IndexSearch("pdq_region", ["a" * 64], 45, 31)]
    del body["searches"][0]["sure"]  # a client from before the first stage: exact
    assert parse_searches(body) == [IndexSearch("pdq_region", ["a" * 64], 45, None)]
    for bad in (-1, 257, True, "31", 3.5):
        with pytest.raises(ValueError, match="sure"):
            parse_searches({"searches": [{"signal_type": "pdq", "threshold": 31, "sure": bad, "values": []}]})


def test_a_negative_sure_radius_is_refused_at_start(tmp_path: Path) -> None:
    from redline.api.app import create_app
    from redline.config import Settings

    with pytest.raises(ValueError, match="REDLINE_ROBUST_SURE_RADIUS"):
        create_app(Settings(data_dir=tmp_path, robust_sure_radius=-1))
